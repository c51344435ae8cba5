import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../budget/ratelimit.js';
import { compileManifests, parseManifests } from '../config/manifests.js';
import { TiermeshError } from '../errors.js';
import { type DecisionRecord, DecisionRing } from './decisions.js';
import { acceptFeedback, retryBlockedBy } from './feedback.js';

const record = (id: string, extra: Partial<DecisionRecord> = {}): DecisionRecord => ({
  requestId: id,
  at: 1000,
  route: 'default',
  initialTier: 'cheap',
  tier: 'cheap',
  model: 'mini',
  provider: 'sim',
  source: 'rules',
  score: 0.2,
  confidence: 0.8,
  signals: [],
  fingerprint: 'abc',
  costUSD: 0.001,
  cascade: [],
  status: 200,
  stream: false,
  ...extra,
});

function setup(opts: { rpm?: number; logPrompts?: boolean; canRetry?: boolean } = {}) {
  const ring = new DecisionRing({ size: 10, ttlMs: 60_000 });
  ring.add(record('r1'), 1000);
  ring.add(
    record('r2', {
      request: { model: 'auto', messages: [{ role: 'user', content: 'kept' }], temperature: 0.2 },
    }),
    1000,
  );
  ring.add(record('s1', { stream: true }), 1000);
  const deps = {
    ring,
    limiter: new RateLimiter({ rpm: opts.rpm ?? 100 }),
    logPrompts: opts.logPrompts ?? false,
    now: () => 2000,
    canRetry: opts.canRetry ?? true,
  };
  const accept = (body: unknown, ct = 'application/json') =>
    acceptFeedback(deps, ct, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)));
  return { accept, ring };
}

function thrown(f: () => unknown): TiermeshError {
  try {
    f();
  } catch (e) {
    if (e instanceof TiermeshError) return e;
    throw e;
  }
  throw new Error('expected a TiermeshError');
}

describe('acceptFeedback', () => {
  it('records a score against the route, tier and model that answered', () => {
    const { accept } = setup();
    const v = accept({ request_id: 'r1', score: 0.25 });
    expect(v.kind).toBe('recorded');
    expect(v.event).toMatchObject({
      route: 'default',
      tier: 'cheap',
      model: 'mini',
      score: 0.25,
      retry: false,
    });
  });

  it('maps ratings to 1 (up) and 0 (down)', () => {
    const { accept } = setup();
    expect(accept({ request_id: 'r1', rating: 'up' }).event.score).toBe(1);
    expect(accept({ request_id: 'r1', rating: 'down' }).event.score).toBe(0);
  });

  it('keeps the comment only when prompts may be kept', () => {
    expect(setup().accept({ request_id: 'r1', score: 1, comment: 'quote' }).event.comment).toBeUndefined();
    const withPrompts = setup({ logPrompts: true }).accept({ request_id: 'r1', score: 1, comment: 'quote' });
    expect(withPrompts.event.comment).toBe('quote');
  });

  it('answers 404 naming request_id for an unknown or expired id', () => {
    const e = thrown(() => setup().accept({ request_id: 'nope', score: 1 }));
    expect(e.status).toBe(404);
    expect(e.param).toBe('request_id');
    const ring = new DecisionRing({ size: 10, ttlMs: 500 });
    ring.add(record('old'), 1000);
    const limiter = new RateLimiter({ rpm: 10 });
    const body = Buffer.from(JSON.stringify({ request_id: 'old', score: 1 }));
    const deps = { ring, limiter, logPrompts: false, canRetry: false };
    expect(acceptFeedback({ ...deps, now: () => 1400 }, undefined, body).kind).toBe('recorded');
    expect(thrown(() => acceptFeedback({ ...deps, now: () => 1600 }, undefined, body)).status).toBe(404);
  });

  it.each([
    [{ score: 1 }, 'request_id'],
    [{ request_id: 'r1' }, 'score'],
    [{ request_id: 'r1', score: 1, rating: 'up' }, 'rating'],
    [{ request_id: 'r1', score: 1.5 }, 'score'],
    [{ request_id: 'r1', score: '1' }, 'score'],
    [{ request_id: 'r1', rating: 'meh' }, 'rating'],
    [{ request_id: 'r1', raiting: 'up' }, 'raiting'],
    [{ request_id: 'r1', rating: 'up', retry: 'yes' }, 'retry'],
    [{ request_id: 'r1', rating: 'up', messages: [{ role: 'user', content: 'x' }] }, 'messages'],
    [{ request_id: 'bad id with spaces', score: 1 }, 'request_id'],
  ])('answers 400 naming the field for %j', (body, field) => {
    const e = thrown(() => setup().accept(body));
    expect(e.status).toBe(400);
    expect(e.param).toBe(field);
    expect(e.message.startsWith(`${field}: `)).toBe(true);
  });

  it('refuses broken JSON, a non-object and a non-JSON content type', () => {
    const { accept } = setup();
    expect(thrown(() => accept('{"request_id":')).code).toBe('TM_INVALID_JSON');
    expect(thrown(() => accept('[1]')).code).toBe('TM_INVALID_REQUEST');
    expect(thrown(() => accept({ request_id: 'r1', score: 1 }, 'text/plain')).status).toBe(415);
  });

  it('answers 429 past the per-sidecar rate, whatever the body', () => {
    const { accept } = setup({ rpm: 2 });
    accept({ request_id: 'r1', score: 1 });
    accept({ request_id: 'r1', score: 1 });
    const e = thrown(() => accept({ request_id: 'r1', score: 1 }));
    expect(e.status).toBe(429);
    expect(e.retryAfter).toBeGreaterThanOrEqual(1);
  });

  it('retry re-sends the kept request on the route that answered, never as a stream', () => {
    const v = setup().accept({ request_id: 'r2', rating: 'down', retry: true });
    expect(v.kind).toBe('retry');
    if (v.kind !== 'retry') return;
    expect(v.request).toMatchObject({ model: 'default', temperature: 0.2, stream: false });
    expect(v.request.messages).toEqual([{ role: 'user', content: 'kept' }]);
    expect(v.event.retry).toBe(true);
  });

  it('retry without a kept request needs the messages, and uses them', () => {
    const { accept } = setup();
    const e = thrown(() => accept({ request_id: 'r1', rating: 'down', retry: true }));
    expect(e.param).toBe('messages');
    const v = accept({
      request_id: 'r1',
      rating: 'down',
      retry: true,
      messages: [{ role: 'user', content: 'again' }],
    });
    expect(v.kind === 'retry' && v.request.messages).toEqual([{ role: 'user', content: 'again' }]);
  });

  it('refuses retry of a streamed answer, or where retry is not wired, before recording anything', () => {
    expect(thrown(() => setup().accept({ request_id: 's1', rating: 'down', retry: true })).param).toBe(
      'retry',
    );
    const off = setup({ canRetry: false });
    expect(thrown(() => off.accept({ request_id: 'r2', rating: 'down', retry: true })).param).toBe('retry');
  });
});

describe('retryBlockedBy', () => {
  const snapshot = compileManifests(
    parseManifests(`
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default, namespace: team }
spec:
  providers: [{ name: sim, type: simulated }]
  models:
    - { name: mini, targets: [{ provider: sim }], pricing: { inputPerMTok: 0.1, outputPerMTok: 0.4 }, contextWindow: 8000 }
    - { name: big, targets: [{ provider: sim }], pricing: { inputPerMTok: 3, outputPerMTok: 15 }, contextWindow: 8000 }
  tiers:
    - { name: cheap, models: [mini] }
    - { name: premium, models: [big] }
`),
  );

  it('allows a retry from below the top tier only, on a route still configured', () => {
    expect(retryBlockedBy(snapshot, record('a'))).toBeUndefined();
    expect(retryBlockedBy(snapshot, record('a', { tier: 'premium' }))).toContain('highest tier');
    expect(retryBlockedBy(snapshot, record('a', { route: 'gone' }))).toContain('no longer configured');
    expect(retryBlockedBy(undefined, record('a'))).toContain('no longer configured');
  });

  it('is checked before anything is recorded', () => {
    const ring = new DecisionRing({ size: 10, ttlMs: 60_000 });
    ring.add(
      record('top', {
        tier: 'premium',
        request: { model: 'auto', messages: [{ role: 'user', content: 'x' }] },
      }),
      1000,
    );
    const deps = {
      ring,
      limiter: new RateLimiter({ rpm: 10 }),
      logPrompts: true,
      now: () => 2000,
      canRetry: true,
      retryBlocked: (r: DecisionRecord) => retryBlockedBy(snapshot, r),
    };
    const body = Buffer.from(JSON.stringify({ request_id: 'top', rating: 'down', retry: true }));
    const e = thrown(() => acceptFeedback(deps, undefined, body));
    expect(e.param).toBe('retry');
    expect(e.message).toContain('highest tier');
  });
});
