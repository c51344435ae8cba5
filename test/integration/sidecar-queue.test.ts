/**
 * spec.queue through the sidecar, over real sockets with the OpenAI SDK as client: an in-flight limit per provider-
 * model, interactive requests before batch ones, a batch deadline, and 429 with Retry-After for a full queue. The
 * fixture's first call hangs, holding the only slot, until its client aborts.
 */
import { spawnSync } from 'node:child_process';
import OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { behave, type Fixture, startOpenAIFixture } from '../fixtures/providers/index.js';
import { promlint } from '../helpers/promlint-bin.js';
import { metricValue, startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

const fixtures: Fixture[] = [];
const sidecars: TestSidecar[] = [];
afterAll(async () => {
  await Promise.all(sidecars.map((s) => s.close()));
  await Promise.all(fixtures.map((f) => f.close()));
});

/** An upstream whose first call hangs; every later one answers with the user's text. */
async function firstHangs(): Promise<Fixture> {
  const f = await startOpenAIFixture();
  f.script((req, i) => {
    const messages = (req.body as { messages: Array<{ content: string }> }).messages;
    return i === 0
      ? behave.hang()
      : behave.ok(`echo ${messages.at(-1)?.content}`, { prompt: 5, completion: 2 });
  });
  fixtures.push(f);
  return f;
}

function routeYaml(up: Fixture, queue: Record<string, unknown>): string {
  return stringify({
    apiVersion: 'tiermesh.dev/v1alpha1',
    kind: 'ModelRoute',
    metadata: { name: 'default', namespace: 'test' },
    spec: {
      providers: [{ name: 'groq', type: 'openai-compatible', baseURL: up.baseURL }],
      models: [
        {
          name: 'small-model',
          targets: [{ provider: 'groq' }],
          pricing: { inputPerMTok: 1, outputPerMTok: 1 },
          contextWindow: 100_000,
        },
      ],
      tiers: [{ name: 'cheap', models: ['small-model'] }],
      classifier: { mode: 'rules', confidenceBand: 0.02 },
      cascade: { enabled: false, checks: ['empty'], maxEscalations: 0 },
      promotion: { policy: 'none' },
      resilience: { timeoutMs: 30_000, firstByteTimeoutMs: 30_000, retries: { attempts: 0, backoffMs: 10 } },
      priority: { classes: { batch: {}, normal: {} }, default: 'normal' },
      queue: { limits: [{ provider: 'groq', model: 'small-model', maxInFlight: 1 }], ...queue },
    },
  });
}

async function start(yaml: string): Promise<{ sidecar: TestSidecar; client: OpenAI }> {
  const sidecar = await startTestSidecar(yaml);
  sidecars.push(sidecar);
  return { sidecar, client: new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'x', maxRetries: 0 }) };
}

const ask = (content: string) => ({ model: 'auto', messages: [{ role: 'user' as const, content }] });
const batch = { headers: { 'x-tiermesh-priority': 'batch' } };

async function metrics(s: TestSidecar): Promise<string> {
  return (await fetch(`${s.url}/metrics`)).text();
}

/** Polls until the lane has `n` waiters of `priority` (what the sidecar itself reports). */
async function waiting(s: TestSidecar, priority: string, n: number): Promise<void> {
  for (;;) {
    const v = metricValue(await metrics(s), 'tiermesh_queue_depth', { model: 'small-model', priority });
    if (v === n) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Takes the only slot with a call that hangs; abort() frees it. */
async function holdSlot(client: OpenAI, up: Fixture): Promise<AbortController> {
  const ac = new AbortController();
  client.chat.completions.create(ask('hold'), { signal: ac.signal }).catch(() => {});
  while (up.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
  return ac;
}

describe('spec.queue', () => {
  it('serves waiting interactive requests before batch ones once a slot frees', async () => {
    const up = await firstHangs();
    const { sidecar, client } = await start(routeYaml(up, { maxQueued: 8 }));
    const holder = await holdSlot(client, up);
    const b1 = client.chat.completions.create(ask('batch-1'), batch);
    await waiting(sidecar, 'batch', 1);
    const b2 = client.chat.completions.create(ask('batch-2'), batch);
    await waiting(sidecar, 'batch', 2);
    const i1 = client.chat.completions.create(ask('interactive-1'));
    await waiting(sidecar, 'interactive', 1);
    holder.abort();
    const answers = await Promise.all([b1, b2, i1]);
    expect(answers.map((a) => a.choices[0]?.message.content)).toEqual([
      'echo batch-1',
      'echo batch-2',
      'echo interactive-1',
    ]);
    // One at a time, in priority order: what the upstream saw.
    const seen = up.requests.map(
      (r) => (r.body as { messages: Array<{ content: string }> }).messages.at(-1)?.content,
    );
    expect(seen).toEqual(['hold', 'interactive-1', 'batch-1', 'batch-2']);
    const text = await metrics(sidecar);
    expect(metricValue(text, 'tiermesh_queue_depth', { priority: 'batch' })).toBe(0);
    expect(
      metricValue(text, 'tiermesh_queue_wait_seconds_count', {
        route: 'default',
        provider: 'groq',
        model: 'small-model',
        priority: 'batch',
      }),
    ).toBe(2);
    const lint = spawnSync(promlint(), [], { input: text, encoding: 'utf8' });
    expect(lint.stderr).toBe('');
    expect(lint.status).toBe(0);
  });

  it('answers 429 TM_QUEUE_FULL with Retry-After when the queue is full, and interactive displaces batch', async () => {
    const up = await firstHangs();
    const { sidecar, client } = await start(routeYaml(up, { maxQueued: 1 }));
    const holder = await holdSlot(client, up);
    const b1 = client.chat.completions.create(ask('batch-1'), batch).then(
      () => undefined,
      (e: unknown) => e,
    );
    await waiting(sidecar, 'batch', 1);
    const i1 = client.chat.completions.create(ask('interactive-1'));
    // The batch waiter lost its place to the interactive request.
    const evicted = (await b1) as InstanceType<typeof OpenAI.RateLimitError>;
    expect(evicted).toBeInstanceOf(OpenAI.RateLimitError);
    expect(evicted.code).toBe('TM_QUEUE_FULL');
    await waiting(sidecar, 'interactive', 1);
    const refused = await client.chat.completions.create(ask('interactive-2')).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    const err = refused as InstanceType<typeof OpenAI.RateLimitError>;
    expect(err.code).toBe('TM_QUEUE_FULL');
    expect(Number(err.headers?.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(err.message).not.toContain('interactive-2'); // no prompt text in errors
    holder.abort();
    expect((await i1).choices[0]?.message.content).toBe('echo interactive-1');
    expect(up.requests).toHaveLength(2); // refused requests never reached the provider
    const text = await metrics(sidecar);
    expect(metricValue(text, 'tiermesh_queue_rejected_total', { priority: 'batch', reason: 'full' })).toBe(1);
    expect(
      metricValue(text, 'tiermesh_queue_rejected_total', { priority: 'interactive', reason: 'full' }),
    ).toBe(1);
    // A full queue is nobody's failure upstream: the breaker is untouched.
    expect(metricValue(text, 'tiermesh_breaker_state', { provider: 'groq' }) ?? 0).toBe(0);
  });

  it('gives batch requests their own deadline: 429 TM_QUEUE_TIMEOUT while interactive ones keep waiting', async () => {
    const up = await firstHangs();
    const { sidecar, client } = await start(routeYaml(up, { maxQueued: 4, batchWaitMs: 50, waitMs: 60_000 }));
    const holder = await holdSlot(client, up);
    const i1 = client.chat.completions.create(ask('interactive-1'));
    await waiting(sidecar, 'interactive', 1);
    const late = await client.chat.completions.create(ask('batch-1'), batch).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(OpenAI.RateLimitError);
    expect((late as InstanceType<typeof OpenAI.RateLimitError>).code).toBe('TM_QUEUE_TIMEOUT');
    expect(
      Number((late as InstanceType<typeof OpenAI.RateLimitError>).headers?.get('retry-after')),
    ).toBeGreaterThanOrEqual(1);
    holder.abort();
    expect((await i1).choices[0]?.message.content).toBe('echo interactive-1');
    const text = await metrics(sidecar);
    expect(metricValue(text, 'tiermesh_queue_rejected_total', { priority: 'batch', reason: 'timeout' })).toBe(
      1,
    );
    expect(metricValue(text, 'tiermesh_requests_total', { status: '429' })).toBe(1);
  });
});

describe('spec.queue and the cascade judge', () => {
  it("the judge's call waits for its model's slot like the request's own calls", async () => {
    const cheapUp = await startOpenAIFixture();
    const judgeUp = await startOpenAIFixture();
    fixtures.push(cheapUp, judgeUp);
    cheapUp.fallback(behave.ok('cheap answer', { prompt: 5, completion: 2 }));
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    // The first judge call holds the judge model's only slot until the test lets it go; every score passes.
    judgeUp.script((_req, i) => ({
      ...behave.ok('0.9', { prompt: 5, completion: 1 }),
      ...(i === 0 ? { waitFor: held } : {}),
    }));
    const model = (name: string, provider: string) => ({
      name,
      targets: [{ provider }],
      pricing: { inputPerMTok: 1, outputPerMTok: 1 },
      contextWindow: 100_000,
    });
    const { sidecar, client } = await start(
      stringify({
        apiVersion: 'tiermesh.dev/v1alpha1',
        kind: 'ModelRoute',
        metadata: { name: 'default', namespace: 'test' },
        spec: {
          providers: [
            { name: 'c', type: 'openai-compatible', baseURL: cheapUp.baseURL },
            { name: 'j', type: 'openai-compatible', baseURL: judgeUp.baseURL },
          ],
          models: [model('small-model', 'c'), model('big-model', 'c'), model('judge-model', 'j')],
          tiers: [
            { name: 'cheap', models: ['small-model'] },
            { name: 'premium', models: ['big-model'] },
          ],
          classifier: { mode: 'rules', confidenceBand: 0.02 },
          cascade: {
            enabled: true,
            checks: ['empty', 'judge'],
            maxEscalations: 1,
            judge: { model: 'judge-model', minScore: 0.5, timeoutMs: 20_000 },
          },
          resilience: {
            timeoutMs: 30_000,
            firstByteTimeoutMs: 30_000,
            retries: { attempts: 0, backoffMs: 10 },
          },
          queue: { limits: [{ provider: 'j', model: 'judge-model', maxInFlight: 1 }], waitMs: 20_000 },
        },
      }),
    );
    try {
      const a = client.chat.completions.create(ask('first')).withResponse();
      const b = client.chat.completions.create(ask('second')).withResponse();
      // B's judge waits in the queue while A's holds the slot; without the limit it would be sent at once.
      for (;;) {
        const depth = metricValue(await metrics(sidecar), 'tiermesh_queue_depth', {
          model: 'judge-model',
          priority: 'interactive',
        });
        if (depth === 1 || judgeUp.calls.length > 1) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(judgeUp.calls.length).toBe(1);
      release();
      for (const r of await Promise.all([a, b])) {
        expect(r.data.choices[0]!.message.content).toBe('cheap answer');
        expect(r.response.headers.get('x-tiermesh-tier')).toBe('cheap');
      }
      expect(judgeUp.calls.length).toBe(2);
      const text = await metrics(sidecar);
      expect(metricValue(text, 'tiermesh_judge_checks_total', { route: 'default', outcome: 'pass' })).toBe(2);
    } finally {
      release();
    }
  });
});
