/**
 * Hedged streams through the sidecar, over real sockets with the OpenAI SDK as client: the hedge starts when the first
 * target has sent no chunk after the delay, the first side to send one wins, the other is aborted (the fixture sees
 * its client hang up) and booked. The order of events is set with promises the fixtures wait on, not with clocks;
 * only the hedge delay itself is a (short) time.
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

async function upstream(): Promise<Fixture> {
  const f = await startOpenAIFixture();
  fixtures.push(f);
  return f;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** One model served by `first` then `second`; hedging after `delayMs`. */
async function start(
  first: Fixture,
  second: Fixture,
  delayMs: number,
): Promise<{ sidecar: TestSidecar; client: OpenAI }> {
  const provider = (name: string, f: Fixture) => ({ name, type: 'openai-compatible', baseURL: f.baseURL });
  const sidecar = await startTestSidecar(
    stringify({
      apiVersion: 'tiermesh.dev/v1alpha1',
      kind: 'ModelRoute',
      metadata: { name: 'default', namespace: 'test' },
      spec: {
        providers: [provider('first-up', first), provider('second-up', second)],
        models: [
          {
            name: 'small-model',
            targets: [{ provider: 'first-up' }, { provider: 'second-up' }],
            pricing: { inputPerMTok: 1, outputPerMTok: 1 },
            contextWindow: 100_000,
          },
        ],
        tiers: [{ name: 'cheap', models: ['small-model'] }],
        classifier: { mode: 'rules' },
        cascade: { enabled: false, checks: ['empty'], maxEscalations: 0 },
        promotion: { policy: 'none' },
        resilience: {
          timeoutMs: 30_000,
          firstByteTimeoutMs: 30_000,
          retries: { attempts: 0, backoffMs: 10, maxBackoffMs: 50 },
        },
        hedge: { enabled: true, delay: 'fixed', delayMs },
      },
    }),
  );
  sidecars.push(sidecar);
  return { sidecar, client: new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'x', maxRetries: 0 }) };
}

const hi = {
  model: 'auto',
  messages: [{ role: 'user' as const, content: 'hi there' }],
  stream: true as const,
};

async function metrics(sidecar: TestSidecar): Promise<string> {
  const text = await (await fetch(`${sidecar.url}/metrics`)).text();
  const lint = spawnSync(promlint(), [], { input: text, encoding: 'utf8' });
  expect(lint.stderr).toBe('');
  return text;
}

describe('hedged streams', () => {
  it('a first target with no first byte after the delay loses to the hedge; it is aborted and its prompt booked', async () => {
    const slow = await upstream();
    const fast = await upstream();
    const release = deferred();
    // The first target holds its status line until the test is over: it has sent nothing when the hedge answers.
    slow.fallback({ ...behave.ok('from slow', { prompt: 10, completion: 3 }), waitFor: release.promise });
    fast.fallback(behave.ok('from fast', { prompt: 10, completion: 3 }));
    const { sidecar, client } = await start(slow, fast, 50);
    try {
      const { data: stream, response } = await client.chat.completions.create(hi).withResponse();
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      expect(text).toBe('from fast');
      expect(response.headers.get('x-tiermesh-hedged')).toBe('won');
      expect(response.headers.get('x-tiermesh-provider')).toBe('second-up');
      expect(slow.calls.length).toBe(1);
      expect(fast.calls.length).toBe(1);
      await expect(slow.calls[0]!.ended).resolves.toBe('aborted');
      await expect(fast.calls[0]!.ended).resolves.toBe('finished');
      // Booked: the winner's 10 + 3 tokens plus the loser's prompt as the sidecar estimated it (1 USD per 1M).
      const line = sidecar.logs.byMsg('request').at(-1)!;
      expect(line).toMatchObject({ stream: true, hedged: 'won', provider: 'second-up', status: 200 });
      const input = line['inputTokens'] as number;
      expect(input).toBeGreaterThan(10);
      expect(line['outputTokens']).toBe(3);
      expect(line['costUSD'] as number).toBeCloseTo((input + 3) / 1e6, 12);
      const text2 = await metrics(sidecar);
      expect(metricValue(text2, 'tiermesh_hedges_started_total', { route: 'default' })).toBe(1);
      expect(metricValue(text2, 'tiermesh_hedges_won_total', { route: 'default' })).toBe(1);
    } finally {
      release.resolve();
    }
  });

  it('the first target sending its first chunk first wins; the started hedge is aborted, never relayed, and booked', async () => {
    const first = await upstream();
    const second = await upstream();
    const hedgeArrived = deferred();
    const release = deferred();
    // The first target answers only once the hedge has reached the second one, which then never answers.
    first.fallback({
      ...behave.ok('from first', { prompt: 10, completion: 3 }),
      waitFor: hedgeArrived.promise,
    });
    second.script(() => {
      hedgeArrived.resolve();
      return { ...behave.ok('from second', { prompt: 10, completion: 3 }), waitFor: release.promise };
    });
    const { sidecar, client } = await start(first, second, 50);
    try {
      const { data: stream, response } = await client.chat.completions.create(hi).withResponse();
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      expect(text).toBe('from first');
      expect(response.headers.get('x-tiermesh-hedged')).toBe('lost');
      expect(response.headers.get('x-tiermesh-provider')).toBe('first-up');
      expect(second.calls.length).toBe(1);
      await expect(second.calls[0]!.ended).resolves.toBe('aborted');
      const line = sidecar.logs.byMsg('request').at(-1)!;
      expect(line).toMatchObject({ hedged: 'lost', provider: 'first-up' });
      expect(line['inputTokens'] as number).toBeGreaterThan(10);
      const text2 = await metrics(sidecar);
      expect(metricValue(text2, 'tiermesh_hedges_started_total', { route: 'default' })).toBe(1);
      expect(metricValue(text2, 'tiermesh_hedges_won_total', { route: 'default' }) ?? 0).toBe(0);
    } finally {
      release.resolve();
    }
  });

  it('no hedge when the first byte arrives before the delay', async () => {
    const first = await upstream();
    const second = await upstream();
    first.fallback(behave.ok('from first', { prompt: 10, completion: 3 }));
    const { sidecar, client } = await start(first, second, 60_000);
    const { data: stream, response } = await client.chat.completions.create(hi).withResponse();
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('from first');
    expect(response.headers.get('x-tiermesh-hedged')).toBeNull();
    expect(second.calls.length).toBe(0);
    const line = sidecar.logs.byMsg('request').at(-1)!;
    expect(line['hedged']).toBeUndefined();
    expect(line).toMatchObject({ inputTokens: 10, outputTokens: 3 });
    const text2 = await metrics(sidecar);
    expect(metricValue(text2, 'tiermesh_hedges_started_total', { route: 'default' }) ?? 0).toBe(0);
  });

  it("a client that leaves mid-stream aborts the hedge's winner upstream too", async () => {
    const slow = await upstream();
    const fast = await upstream();
    const release = deferred();
    slow.fallback({ ...behave.ok('never sent'), waitFor: release.promise });
    // Long enough that the stream is still running when the client leaves after its first content chunk.
    fast.fallback({ ...behave.ok('one two three four five six seven eight'), chunkDelayMs: 200 });
    const { client } = await start(slow, fast, 50);
    try {
      const stream = await client.chat.completions.create(hi);
      for await (const chunk of stream) if (chunk.choices[0]?.delta.content) break;
      await expect(fast.calls[0]!.ended).resolves.toBe('aborted');
      await expect(slow.calls[0]!.ended).resolves.toBe('aborted');
    } finally {
      release.resolve();
    }
  });
});
