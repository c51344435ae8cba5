/**
 * POST /v1/explain and `tiermesh explain --sidecar` against a running sidecar over real sockets: the decision with
 * what only the sidecar knows (latency observations from real calls to a fixture, the queue occupancy of a limited
 * target while a call holds its slot), the queue class and the review flag. No provider is called by an explain.
 */
import { createServer } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { behave, type Fixture, startOpenAIFixture } from '../fixtures/providers/index.js';
import { runTiermesh } from '../helpers/cli.js';
import { routeConfig } from '../helpers/config.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

let up: Fixture;
let sidecar: TestSidecar;
let client: OpenAI;
let holdArrived: () => void = () => {};
beforeAll(async () => {
  up = await startOpenAIFixture();
  // "hold" hangs (holding the target's only slot) until its client leaves; everything else answers at once.
  up.script((req) => {
    const messages = (req.body as { messages: Array<{ content: string }> }).messages;
    if (messages.at(-1)?.content !== 'hold') return behave.ok('ok', { prompt: 5, completion: 2 });
    holdArrived();
    return behave.hang();
  });
  sidecar = await startTestSidecar(
    stringify({
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
        classifier: { mode: 'rules' },
        cascade: { enabled: false, checks: ['empty'], maxEscalations: 0 },
        promotion: { policy: 'none' },
        resilience: {
          timeoutMs: 30_000,
          firstByteTimeoutMs: 30_000,
          retries: { attempts: 0, backoffMs: 10 },
        },
        slo: { maxLatencyMs: 60_000, minSamples: 1 },
        taskTypes: { legal: 'cheap', chat: 'cheap' },
        review: { taskTypes: { legal: { requireHumanReview: true } } },
        priority: { classes: { batch: {}, normal: {} }, groups: { etl: 'batch' }, default: 'normal' },
        queue: {
          limits: [{ provider: 'groq', model: 'small-model', maxInFlight: 1 }],
          waitMs: 20_000,
          batchWaitMs: 90_000,
        },
      },
    }),
  );
  client = new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'x', maxRetries: 0 });
});
afterAll(async () => {
  await sidecar.close();
  await up.close();
});

const hello = { model: 'auto', messages: [{ role: 'user' as const, content: 'hello' }] };

async function explain(body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${sidecar.url}/v1/explain`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('POST /v1/explain', () => {
  it('shows the latency observations the SLO selects on, once real calls were made', async () => {
    const before = await explain(hello);
    expect(before.status).toBe(200);
    expect(before.body).toMatchObject({ live: true, notes: [], observations: [] });
    for (let i = 0; i < 3; i++) await client.chat.completions.create(hello);
    const calls = up.calls.length;
    const after = await explain(hello);
    expect(after.body['slo']).toEqual({ maxTTFTMs: null, maxLatencyMs: 60_000, policy: 'first' });
    const obs = after.body['observations'] as Array<Record<string, unknown>>;
    expect(obs).toHaveLength(1);
    expect(obs[0]).toMatchObject({ model: 'small-model', provider: 'groq' });
    expect(obs[0]!['samples'] as number).toBeGreaterThan(2);
    expect(obs[0]!['totalP95Ms'] as number).toBeGreaterThan(0);
    expect(up.calls.length).toBe(calls); // explaining calls no provider
  });

  it('shows the queue class and what the limited target holds now', async () => {
    const ac = new AbortController();
    const arrived = new Promise<void>((r) => {
      holdArrived = r;
    });
    const held = client.chat.completions
      .create({ ...hello, messages: [{ role: 'user', content: 'hold' }] }, { signal: ac.signal })
      .catch(() => undefined);
    try {
      // Once the held call reached the fixture it holds the target's only slot.
      await arrived;
      const batch = await explain(hello, { 'x-tiermesh-group': 'etl' });
      expect(batch.body['queue']).toEqual({
        class: 'batch',
        waitMs: 90_000,
        limits: [
          {
            model: 'small-model',
            provider: 'groq',
            maxInFlight: 1,
            inFlight: 1,
            waiting: { interactive: 0, batch: 0 },
          },
        ],
      });
      const interactive = await explain(hello);
      expect(interactive.body['queue']).toMatchObject({ class: 'interactive', waitMs: 20_000 });
    } finally {
      ac.abort();
      await held;
    }
  });

  it('shows the review flag of a task marked requireHumanReview', async () => {
    expect((await explain(hello, { 'x-tiermesh-task': 'legal' })).body['review']).toEqual({
      required: true,
      task: 'legal',
    });
    expect((await explain(hello, { 'x-tiermesh-task': 'chat' })).body['review']).toBeNull();
  });

  it('refuses what /v1/chat/completions refuses, with the same errors', async () => {
    const bad = await explain(hello, { 'x-tiermesh-priority': 'urgent' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: { param: 'x-tiermesh-priority' } });
    const empty = await explain({ model: 'auto', messages: [] });
    expect(empty.status).toBe(400);
    const get = await fetch(`${sidecar.url}/v1/explain`);
    expect(get.status).toBe(405);
  });
});

describe('POST /v1/explain on a learned route', { timeout: 120_000 }, () => {
  /** A learned route with premiumShare 0.3 on the fixture: which tier a prompt goes to depends on its window. */
  const learnedRoute = () =>
    parseAllDocuments(
      routeConfig({
        upstreams: [{ name: 'up', baseURL: up.baseURL }],
        cheap: [{ name: 'small-model', upstreams: ['up'] }],
        premium: [{ name: 'big-model', upstreams: ['up'] }],
      }),
    )
      .map((doc) => {
        const obj = doc.toJS();
        if (obj?.kind === 'ModelRoute')
          obj.spec.classifier = { mode: 'learned', premiumShare: 0.3, confidenceBand: 0 };
        return stringify(obj);
      })
      .join('---\n');
  const subjects = [
    'kubernetes',
    'tax law',
    'sorting',
    'poetry',
    'chemistry',
    'football',
    'baking',
    'networks',
  ];
  const prompt = (i: number) =>
    `${['Explain', 'Write a short note about', 'What is', 'Prove a fact about'][i % 4]} ${subjects[i % subjects.length]}${' and why it matters'.repeat(i % 5)}?`;
  async function realTier(s: TestSidecar, content: string): Promise<string> {
    const res = await fetch(`${s.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content }] }),
    });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    return res.headers.get('x-tiermesh-tier')!;
  }
  async function explainedTier(s: TestSidecar, content: string): Promise<string> {
    const res = await fetch(`${s.url}/v1/explain`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content }] }),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { tier: { name: string } }).tier.name;
  }

  it("explains in between real requests change none of their tiers, and each predicts the real request's tier", async () => {
    const explained = await startTestSidecar(learnedRoute());
    const plain = await startTestSidecar(learnedRoute());
    try {
      const withExplains: string[] = [];
      const without: string[] = [];
      for (let i = 0; i < 160; i++) {
        if (i >= 60) {
          // Explains of short prompts (a low predicted gain): recorded, they would push every real prompt up.
          for (let k = 0; k < 3; k++) await explainedTier(explained, `hi ${i}-${k}`);
          // And the explanation of the very prompt sent next is the tier it gets.
          const predicted = await explainedTier(explained, prompt(i));
          withExplains.push(await realTier(explained, prompt(i)));
          expect(withExplains.at(-1)).toBe(predicted);
        } else withExplains.push(await realTier(explained, prompt(i)));
        without.push(await realTier(plain, prompt(i)));
      }
      // The same real traffic with and without 400 explains in between: the same tiers, request by request.
      expect(withExplains).toEqual(without);
      // The check bites: both tiers were chosen by the window (premiumShare 0.3 of this traffic).
      const premium = without.slice(60).filter((t) => t === 'premium').length;
      expect(premium).toBeGreaterThan(10);
      expect(premium).toBeLessThan(90);
    } finally {
      await explained.close();
      await plain.close();
    }
  });
});

describe('tiermesh explain --sidecar (a real CLI process)', () => {
  it('prints the live explanation with the flags as routing headers', async () => {
    const r = await runTiermesh([
      'explain',
      '--sidecar',
      sidecar.url,
      '--task',
      'legal',
      '--group',
      'etl',
      'hello',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const x = JSON.parse(r.stdout);
    expect(x).toMatchObject({
      live: true,
      task: 'legal',
      review: { required: true, task: 'legal' },
      queue: { class: 'batch' },
      priority: { class: 'batch', source: 'group' },
    });
    expect(x.observations.length).toBe(1);
  });

  it('an error answer is printed with its code and param, exit 1; so is a sidecar not there; --config and --sidecar exclude each other', async () => {
    const r = await runTiermesh(['explain', '--sidecar', sidecar.url, '--priority', 'urgent', 'hello']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('TM_INVALID_REQUEST');
    expect(r.stderr).toContain('(param: x-tiermesh-priority)');
    expect(r.stdout).toBe('');
    expect(
      (await runTiermesh(['explain', '--sidecar', sidecar.url, '--config', 'examples/standalone.yaml', 'hi']))
        .code,
    ).toBe(2);
    // A loopback port nothing listens on: bound once, then closed.
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const { port } = srv.address() as { port: number };
    await new Promise<void>((r) => srv.close(() => r()));
    const gone = await runTiermesh(['explain', '--sidecar', `http://127.0.0.1:${port}`, 'hi']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('ECONNREFUSED');
  });
});
