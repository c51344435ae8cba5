/**
 * What a hedge race and a client that leaves mid-call leave behind, over real sockets: which targets were called and
 * how often, what was booked, what x-tiermesh-attempts and the hedge metrics say. The cheap tier's model has two
 * targets (`u1` first, `u2` second); the premium tier's model is on `u1`.
 */
import OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { estimateRequestTokens } from '../../src/routing/tokens.js';
import { type Behaviour, behave, type Fixture, startOpenAIFixture } from '../fixtures/providers/index.js';
import { routeConfig } from '../helpers/config.js';
import { metricSum, metricValue, startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

const fixtures: Fixture[] = [];
const sidecars: TestSidecar[] = [];
afterAll(async () => {
  await Promise.all(sidecars.map((s) => s.close()));
  await Promise.all(fixtures.map((f) => f.close()));
});

const pause = (ms = 5) => new Promise((r) => setTimeout(r, ms));

function gate() {
  let open!: () => void;
  const promise = new Promise<void>((r) => {
    open = r;
  });
  return { promise, open };
}

/** `u1` and `u2` behind the cheap tier's model, at $1000 per 1M tokens so that every booked token shows. */
async function setup(o: { u1: Behaviour; u2: Behaviour; hedgeDelayMs?: number; breaker?: boolean }) {
  const u1 = await startOpenAIFixture();
  const u2 = await startOpenAIFixture();
  fixtures.push(u1, u2);
  u1.fallback(o.u1);
  u2.fallback(o.u2);
  const docs = routeConfig({
    cheap: [{ name: 'small', upstreams: ['u1', 'u2'], inputPerMTok: 1000, outputPerMTok: 1000 }],
    premium: [{ name: 'big', upstreams: ['u1'] }],
    upstreams: [
      { name: 'u1', baseURL: u1.baseURL },
      { name: 'u2', baseURL: u2.baseURL },
    ],
    cascade: { enabled: false, checks: ['empty'], maxEscalations: 0 },
    resilience: { timeoutMs: 30_000, firstByteTimeoutMs: 30_000 },
    // One counted failure opens a breaker: a client's abort counted against one would show at once.
    ...(o.breaker
      ? {
          breaker: {
            errorThresholdPercentage: 1,
            volumeThreshold: 1,
            resetTimeoutMs: 60_000,
            rollingWindowMs: 60_000,
          },
        }
      : {}),
  })
    .split('---\n')
    .map((d) => parse(d) as { spec: Record<string, unknown> });
  if (o.hedgeDelayMs !== undefined)
    docs[0]!.spec['hedge'] = { enabled: true, delay: 'fixed', delayMs: o.hedgeDelayMs };
  const sidecar = await startTestSidecar(docs.map((d) => stringify(d)).join('---\n'));
  sidecars.push(sidecar);
  return { u1, u2, sidecar, client: new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'x', maxRetries: 0 }) };
}

const ask = {
  model: 'auto',
  messages: [{ role: 'user' as const, content: 'hello there, a simple question' }],
};
/** What the sidecar estimates the prompt at: what a call cut off in flight is booked with. */
const PROMPT = estimateRequestTokens(ask);

async function metrics(s: TestSidecar): Promise<string> {
  return (await s.metrics.text()).body;
}

/** The request's log line, once the request is over (a client that left does not wait for it). */
async function requestLine(s: TestSidecar): Promise<Record<string, unknown>> {
  for (;;) {
    const line = s.logs.byMsg('request').at(-1);
    if (line) return line;
    await pause();
  }
}

describe('a hedge never calls a target twice', () => {
  it('a first target that fails after the hedge started leaves the rest of the plan to the hedge', async () => {
    const u1Fails = gate();
    const u2Answers = gate();
    const { u1, u2, sidecar, client } = await setup({
      u1: behave.error(500, { waitFor: u1Fails.promise }),
      u2: { ...behave.ok('from u2', { prompt: 100, completion: 10 }), waitFor: u2Answers.promise },
      hedgeDelayMs: 20,
    });
    const r = client.chat.completions.create(ask).withResponse();
    // The hedge is calling u2; then u1 fails.
    while (u2.calls.length === 0) await pause();
    u1Fails.open();
    while (!sidecar.logs.byMsg('fallback').some((l) => l['from'] === 'u1')) await pause();
    // Room for a failover call to reach u2 (the bug this pins down): it is sent at once after the fallback.
    await pause(200);
    u2Answers.open();
    const { data, response } = await r;
    expect(data.choices[0]!.message.content).toBe('from u2');
    expect(u1.calls.length).toBe(1);
    expect(u2.calls.length).toBe(1);
    await expect(u2.calls[0]!.ended).resolves.toBe('finished');
    expect(response.headers.get('x-tiermesh-attempts')).toBe('2');
    expect(response.headers.get('x-tiermesh-hedged')).toBe('won');
    // u1 answered (with an error): nothing to book. u2's own usage, and nothing for a second call.
    const m = await metrics(sidecar);
    expect(metricSum(m, 'tiermesh_tokens_total')).toBe(110);
    expect(metricValue(m, 'tiermesh_hedges_started_total', { route: 'default' })).toBe(1);
    expect(metricValue(m, 'tiermesh_hedges_won_total', { route: 'default' })).toBe(1);
  });

  it('a first target that fails before the delay fails over to the rest at once: no hedge, one call each', async () => {
    const { u1, u2, sidecar, client } = await setup({
      u1: behave.error(500),
      u2: behave.ok('from u2', { prompt: 100, completion: 10 }),
      // Far longer than the test: a second call to u2 could only come from a hedge started by the failure.
      hedgeDelayMs: 60_000,
    });
    const { data, response } = await client.chat.completions.create(ask).withResponse();
    expect(data.choices[0]!.message.content).toBe('from u2');
    expect([u1.calls.length, u2.calls.length]).toEqual([1, 1]);
    expect(response.headers.get('x-tiermesh-attempts')).toBe('2');
    expect(response.headers.get('x-tiermesh-hedged')).toBeNull();
    const m = await metrics(sidecar);
    expect(metricValue(m, 'tiermesh_hedges_started_total', { route: 'default' }) ?? 0).toBe(0);
  });
});

describe('both sides of a hedge failing', () => {
  it('counts every call and the hedge, promotes, and names no model of the tier it left', async () => {
    const u1Fails = gate();
    const { u1, u2, sidecar, client } = await setup({
      // u1's first call (the cheap tier) fails once the hedge's call to u2 failed; its second (premium) at once.
      u1: behave.error(500),
      u2: behave.error(500),
      hedgeDelayMs: 20,
    });
    u1.script([behave.error(500, { waitFor: u1Fails.promise })]);
    const r = client.chat.completions.create(ask).withResponse();
    while (u2.calls.length === 0) await pause();
    await u2.calls[0]!.ended;
    u1Fails.open();
    const err = await r.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OpenAI.APIError);
    const { status, headers } = err as InstanceType<typeof OpenAI.APIError> & { headers: Headers };
    expect(status).toBe(502);
    // Cheap: u1 and the hedge's u2; then premium: u1. One call each, all counted.
    expect([u1.calls.length, u2.calls.length]).toEqual([2, 1]);
    expect(headers.get('x-tiermesh-attempts')).toBe('3');
    expect(headers.get('x-tiermesh-tier')).toBe('premium');
    expect(headers.get('x-tiermesh-promoted-from')).toBe('cheap');
    expect(headers.get('x-tiermesh-provider')).toBe('none');
    expect(headers.get('x-tiermesh-model')).toBe('none');
    const m = await metrics(sidecar);
    expect(metricValue(m, 'tiermesh_hedges_started_total', { route: 'default' })).toBe(1);
    expect(metricValue(m, 'tiermesh_hedges_won_total', { route: 'default' }) ?? 0).toBe(0);
    expect((await requestLine(sidecar))['attempts']).toBe(3);
  });
});

describe('an error answer after a promotion', () => {
  it('names the tier it failed on and no model (not the first model of the tier it left)', async () => {
    const { u1, u2, client } = await setup({ u1: behave.error(500), u2: behave.error(500) });
    const err = await client.chat.completions.create(ask).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OpenAI.APIError);
    const { status, headers } = err as InstanceType<typeof OpenAI.APIError> & { headers: Headers };
    expect(status).toBe(502);
    expect([u1.calls.length, u2.calls.length]).toEqual([2, 1]);
    expect(headers.get('x-tiermesh-promoted-from')).toBe('cheap');
    expect(headers.get('x-tiermesh-tier')).toBe('premium');
    expect(headers.get('x-tiermesh-model')).toBe('none');
    expect(headers.get('x-tiermesh-provider')).toBe('none');
  });
});

describe('a client that leaves while calls are in flight', () => {
  it('hedged: the prompt of each call under way is booked, the hedge counted, no breaker moved', async () => {
    const { u1, u2, sidecar } = await setup({
      u1: behave.hang(),
      u2: behave.hang(),
      hedgeDelayMs: 20,
      breaker: true,
    });
    const ac = new AbortController();
    const r = fetch(`${sidecar.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ask),
      signal: ac.signal,
    }).catch((e: unknown) => e);
    while (u1.calls.length + u2.calls.length < 2) await pause();
    ac.abort();
    await r;
    const line = await requestLine(sidecar);
    expect(line).toMatchObject({ status: 499, attempts: 2, inputTokens: 2 * PROMPT, outputTokens: 0 });
    await expect(Promise.all([u1.calls[0]!.ended, u2.calls[0]!.ended])).resolves.toEqual([
      'aborted',
      'aborted',
    ]);
    const m = await metrics(sidecar);
    expect(metricValue(m, 'tiermesh_tokens_total', { model: 'small', direction: 'input' })).toBe(2 * PROMPT);
    expect(metricValue(m, 'tiermesh_cost_usd_total', { route: 'default', model: 'small' })).toBeCloseTo(
      (2 * PROMPT) / 1000,
      9,
    );
    expect(metricValue(m, 'tiermesh_hedges_started_total', { route: 'default' })).toBe(1);
    // The client's leaving counted against neither breaker: the first target still takes calls (with an open
    // breaker the request would fail over to u2).
    u1.fallback(behave.ok('from u1', { prompt: 1, completion: 1 }));
    u2.fallback(behave.ok('from u2', { prompt: 1, completion: 1 }));
    const after = await fetch(`${sidecar.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ask),
    });
    expect(after.status).toBe(200);
    expect(after.headers.get('x-tiermesh-provider')).toBe('u1');
  });

  for (const stream of [false, true])
    it(`not hedged (${stream ? 'stream' : 'JSON'}): the prompt of the call under way is booked`, async () => {
      const { u1, u2, sidecar } = await setup({ u1: behave.hang(), u2: behave.hang(), breaker: true });
      const ac = new AbortController();
      const r = fetch(`${sidecar.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...ask, stream }),
        signal: ac.signal,
      }).catch((e: unknown) => e);
      while (u1.calls.length === 0) await pause();
      ac.abort();
      await r;
      const line = await requestLine(sidecar);
      expect(line).toMatchObject({ status: 499, attempts: 1, inputTokens: PROMPT, outputTokens: 0 });
      await expect(u1.calls[0]!.ended).resolves.toBe('aborted');
      expect(u2.calls.length).toBe(0);
      const m = await metrics(sidecar);
      expect(metricValue(m, 'tiermesh_tokens_total', { model: 'small', direction: 'input' })).toBe(PROMPT);
      // Not the provider's fault: u1's breaker is still closed (open, the request would fail over to u2).
      u1.fallback(behave.ok('from u1', { prompt: 1, completion: 1 }));
      u2.fallback(behave.ok('from u2', { prompt: 1, completion: 1 }));
      const after = await fetch(`${sidecar.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(ask),
      });
      expect(after.headers.get('x-tiermesh-provider')).toBe('u1');
    });

  it('hedged stream: both calls under way are booked when the client leaves before the first byte', async () => {
    const { u1, u2, sidecar } = await setup({ u1: behave.hang(), u2: behave.hang(), hedgeDelayMs: 20 });
    const ac = new AbortController();
    const r = fetch(`${sidecar.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...ask, stream: true }),
      signal: ac.signal,
    }).catch((e: unknown) => e);
    while (u1.calls.length + u2.calls.length < 2) await pause();
    ac.abort();
    await r;
    const line = await requestLine(sidecar);
    expect(line).toMatchObject({ status: 499, attempts: 2, inputTokens: 2 * PROMPT, outputTokens: 0 });
    const m = await metrics(sidecar);
    expect(metricValue(m, 'tiermesh_hedges_started_total', { route: 'default' })).toBe(1);
  });
});
