/** spec.shadow through the OpenAI SDK: the shadow upstream gets the request, the client only ever sees the primary. */
import OpenAI from 'openai';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { parse, stringify } from 'yaml';
import { compileManifests, parseManifests } from '../../src/config/manifests.js';
import { estimateRequestTokens } from '../../src/routing/tokens.js';
import { behave, type Fixture, startOpenAIFixture } from '../fixtures/providers/index.js';
import { COMPLEX_PROMPT, routeConfig, SIMPLE_PROMPT } from '../helpers/config.js';
import { metricValue, startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

const fixtures: Fixture[] = [];
const sidecars: TestSidecar[] = [];
afterAll(async () => {
  await Promise.all(sidecars.map((s) => s.close()));
  await Promise.all(fixtures.map((f) => f.close()));
});

const PROMPT = `${SIMPLE_PROMPT} (secret-prompt-marker)`;
const msg = [{ role: 'user' as const, content: PROMPT }];
/** What the sidecar estimates the prompt at: what a shadow call cut off in flight is booked with. */
const PROMPT_TOKENS = estimateRequestTokens({ model: 'auto', messages: msg });

/** A two-tier route on `primary` plus `shadow-model` on its own upstream, shadowing `percent` of requests. */
async function setup(percent: number, budgetUSD?: number) {
  const primary = await startOpenAIFixture();
  const shadowUp = await startOpenAIFixture();
  fixtures.push(primary, shadowUp);
  primary.fallback(behave.ok('primary answer', { prompt: 10, completion: 5 }));
  shadowUp.fallback(behave.ok('shadow answer', { prompt: 1000, completion: 2000 }));
  const docs = routeConfig({
    upstreams: [
      { name: 'primary', baseURL: primary.baseURL },
      { name: 'shadow-up', baseURL: shadowUp.baseURL },
    ],
    cheap: [{ name: 'small-model', upstreams: ['primary'] }],
    premium: [{ name: 'big-model', upstreams: ['primary'] }],
    baselineModel: 'big-model',
    ...(budgetUSD !== undefined
      ? {
          budgets: [
            {
              name: 'b',
              window: { period: 'daily', timezone: 'UTC' },
              limit: { usd: budgetUSD },
              action: 'reject',
            },
          ],
        }
      : {}),
  })
    .split('---\n')
    .map((d) => parse(d) as { kind: string; spec: Record<string, unknown> & { models: unknown[] } });
  const route = docs.find((d) => d.kind === 'ModelRoute')!;
  // $1/M in, $2/M out: 1000 + 2000 tokens cost $0.005.
  route.spec.models.push({
    name: 'shadow-model',
    targets: [{ provider: 'shadow-up' }],
    pricing: { inputPerMTok: 1, outputPerMTok: 2 },
    contextWindow: 128_000,
  });
  route.spec['shadow'] = { model: 'shadow-model', percent };
  const yaml = docs.map((d) => stringify(d)).join('---\n');
  const s = await startTestSidecar(yaml);
  sidecars.push(s);
  return {
    s,
    yaml,
    primary,
    shadowUp,
    client: new OpenAI({ baseURL: s.baseURL, apiKey: 'x', maxRetries: 0 }),
  };
}

async function metrics(s: TestSidecar): Promise<string> {
  return (await s.metrics.text()).body;
}

/** Shadow calls run after the client has its answer: wait for what they lead to. */
const WAIT = { timeout: 10_000, interval: 25 };

const shadowCount = async (s: TestSidecar, outcome: string) =>
  metricValue(await metrics(s), 'tiermesh_shadow_requests_total', { model: 'shadow-model', outcome }) ?? 0;

describe('shadow traffic', () => {
  it('sends the request to the shadow model too, answers from the primary, books the shadow spend', async () => {
    const { s, primary, shadowUp, client } = await setup(100, 1);
    const r = await client.chat.completions
      .create({ model: 'auto', messages: msg, temperature: 0.3 })
      .withResponse();
    expect(r.data.choices[0]!.message.content).toBe('primary answer');
    expect(r.response.headers.get('x-tiermesh-model')).toBe('small-model');
    // The client's cost is its own answer's: 10 in at $1/M + 5 out at $2/M.
    expect(Number(r.response.headers.get('x-tiermesh-cost-usd'))).toBeCloseTo(0.00002, 12);
    expect(primary.calls).toHaveLength(1);

    await vi.waitFor(async () => expect(await shadowCount(s, 'ok')).toBe(1), WAIT);
    expect(shadowUp.calls).toHaveLength(1);
    const body = shadowUp.calls[0]!.body as Record<string, unknown>;
    expect(body['model']).toBe('shadow-model');
    expect(body['stream']).toBe(false);
    expect(body['temperature']).toBe(0.3);
    expect(body['messages']).toEqual(msg);

    const text = await metrics(s);
    expect(
      metricValue(text, 'tiermesh_cost_usd_total', { route: 'default', model: 'shadow-model' }),
    ).toBeCloseTo(0.005, 12);
    expect(metricValue(text, 'tiermesh_tokens_total', { model: 'shadow-model', direction: 'output' })).toBe(
      2000,
    );
    // Real spend: the budget saw both answers.
    expect(metricValue(text, 'tiermesh_budget_remaining_usd', { budget: 'b' })).toBeCloseTo(
      1 - 0.005 - 0.00002,
      12,
    );
    // The shadow saves nothing: savings are the primary's alone (baseline $1/M + $2/M is the same price here).
    expect(metricValue(text, 'tiermesh_cost_saved_usd_total', { route: 'default' }) ?? 0).toBe(0);

    const line = await vi.waitFor(() => {
      const l = s.logs.byMsg('shadow')[0];
      expect(l).toBeDefined();
      return l!;
    }, WAIT);
    expect(line).toMatchObject({
      route: 'default',
      model: 'shadow-model',
      provider: 'shadow-up',
      outputTokens: 2000,
    });
    expect(line['requestId']).toBe(r.response.headers.get('x-request-id'));
    expect(s.logs.raw.join('\n')).not.toContain('secret-prompt-marker');
  });

  it('shadows streamed requests as plain JSON calls; the stream is the primary answer', async () => {
    const { s, shadowUp, client } = await setup(100);
    const stream = await client.chat.completions.create({
      model: 'auto',
      messages: msg,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('primary answer');
    await vi.waitFor(async () => expect(await shadowCount(s, 'ok')).toBe(1), WAIT);
    const body = shadowUp.calls[0]!.body as Record<string, unknown>;
    expect(body['stream']).toBe(false);
    expect(body).not.toHaveProperty('stream_options');
  });

  it('a failing or hanging shadow never reaches the client: it is counted and logged, without the prompt', async () => {
    const { s, shadowUp, client } = await setup(100);
    shadowUp.script([behave.error(500), behave.hang()]);
    const first = await client.chat.completions.create({ model: 'auto', messages: msg });
    expect(first.choices[0]!.message.content).toBe('primary answer');
    await vi.waitFor(async () => expect(await shadowCount(s, 'error')).toBe(1), WAIT);
    const failed = await vi.waitFor(() => {
      const l = s.logs.byMsg('shadow failed')[0];
      expect(l).toBeDefined();
      return l!;
    }, WAIT);
    expect(failed).toMatchObject({ model: 'shadow-model', route: 'default' });
    expect((failed['error'] as { code: string }).code).toBe('TM_ALL_TARGETS_FAILED');

    // The shadow upstream never answers this one; the client has its answer regardless.
    const second = await client.chat.completions.create({ model: 'auto', messages: msg });
    expect(second.choices[0]!.message.content).toBe('primary answer');
    await vi.waitFor(() => expect(shadowUp.calls.length).toBe(2), WAIT);
    expect(await shadowCount(s, 'ok')).toBe(0);
    expect(await shadowCount(s, 'error')).toBe(1);
    // Stopping the sidecar abandons the hanging shadow call, which counts as an error; the prompt it was sent may
    // be billed, so it is booked at the estimate (the first call's 500 booked nothing).
    await s.close();
    expect(await shadowCount(s, 'error')).toBe(2);
    const text = await metrics(s);
    expect(metricValue(text, 'tiermesh_tokens_total', { model: 'shadow-model', direction: 'input' })).toBe(
      PROMPT_TOKENS,
    );
    expect(
      metricValue(text, 'tiermesh_cost_usd_total', { route: 'default', model: 'shadow-model' }),
    ).toBeCloseTo(PROMPT_TOKENS / 1e6, 12);
    const cut = s.logs.byMsg('shadow failed')[1]!;
    expect(cut).toMatchObject({ inputTokens: PROMPT_TOKENS });
    expect(s.logs.byMsg('shadow failed')[0]).not.toHaveProperty('inputTokens');
    expect(s.logs.raw.join('\n')).not.toContain('secret-prompt-marker');
  });

  it('books a shadow answer that arrives after a reload into the budget serving now', async () => {
    const { s, yaml, shadowUp, client } = await setup(100, 1);
    shadowUp.script([{ firstByteDelayMs: 300, reply: 'late', usage: { prompt: 1000, completion: 2000 } }]);
    await client.chat.completions.create({ model: 'auto', messages: msg });
    await vi.waitFor(() => expect(shadowUp.calls.length).toBe(1), WAIT);
    const extra = `apiVersion: tiermesh.dev/v1alpha1
kind: ModelBudget
metadata: { name: extra, namespace: test }
spec: { window: { period: daily, timezone: UTC }, limit: { usd: 100 } }
`;
    expect(s.store.apply(compileManifests(parseManifests(`${yaml}---\n${extra}`))).ok).toBe(true);
    await vi.waitFor(async () => expect(await shadowCount(s, 'ok')).toBe(1), WAIT);
    const b = s.store.current!.budget.status(Date.now()).find((x) => x.name === 'b')!;
    expect(b.spentUSD).toBeCloseTo(0.005 + 0.00002, 12);
  });

  it('sends nothing to the shadow model at 0 percent', async () => {
    const { s, primary, shadowUp, client } = await setup(0);
    for (let i = 0; i < 5; i++) await client.chat.completions.create({ model: 'auto', messages: msg });
    expect(primary.calls).toHaveLength(5);
    // Shadows start on the next event-loop turn; one more round trip is well past that.
    await fetch(`${s.url}/healthz`);
    expect(shadowUp.calls).toHaveLength(0);
    expect(await shadowCount(s, 'ok')).toBe(0);
  });
});

describe('shadow traffic under spec.queue', () => {
  it('a shadow takes a free slot or is dropped, never queues, and never copies a request to its own model', async () => {
    const cheapUp = await startOpenAIFixture();
    const bigUp = await startOpenAIFixture();
    fixtures.push(cheapUp, bigUp);
    cheapUp.fallback(behave.ok('cheap answer', { prompt: 10, completion: 5 }));
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    // big's first call (request 1's own) holds its only slot until the test lets it go.
    bigUp.script((_req, i) => ({
      ...behave.ok('big answer', { prompt: 10, completion: 3 }),
      ...(i === 0 ? { waitFor: held } : {}),
    }));
    const docs = routeConfig({
      upstreams: [
        { name: 'c', baseURL: cheapUp.baseURL },
        { name: 'p', baseURL: bigUp.baseURL },
      ],
      cheap: [{ name: 'small', upstreams: ['c'] }],
      premium: [{ name: 'big', upstreams: ['p'] }],
      resilience: { timeoutMs: 30_000, firstByteTimeoutMs: 30_000 },
    })
      .split('---\n')
      .map((d) => parse(d) as { spec: Record<string, unknown> });
    docs[0]!.spec['queue'] = {
      limits: [{ provider: 'p', model: 'big', maxInFlight: 1 }],
      maxQueued: 10,
      waitMs: 10_000,
    };
    docs[0]!.spec['shadow'] = { model: 'big', percent: 100 };
    const s = await startTestSidecar(docs.map((d) => stringify(d)).join('---\n'));
    sidecars.push(s);
    const client = new OpenAI({ baseURL: s.baseURL, apiKey: 'x', maxRetries: 0 });
    const count = async (outcome: string) =>
      metricValue(await metrics(s), 'tiermesh_shadow_requests_total', { model: 'big', outcome }) ?? 0;
    let r1: Promise<unknown> | undefined;
    try {
      // Request 1 is decided premium: big serves it, so it is not shadowed to big.
      const first = client.chat.completions
        .create({ model: 'auto', messages: [{ role: 'user', content: COMPLEX_PROMPT }] })
        .withResponse();
      r1 = first;
      await vi.waitFor(() => expect(bigUp.calls.length).toBe(1), WAIT);
      // Request 2 (cheap) is shadowed to big while request 1 holds big's only slot: the shadow is dropped.
      const r2 = await client.chat.completions
        .create({ model: 'auto', messages: [{ role: 'user', content: SIMPLE_PROMPT }] })
        .withResponse();
      expect(r2.response.headers.get('x-tiermesh-tier')).toBe('cheap');
      await vi.waitFor(async () => expect(await count('dropped')).toBe(1), WAIT);
      expect(bigUp.calls.length).toBe(1);
      release();
      const one = await first;
      expect(one.response.headers.get('x-tiermesh-model')).toBe('big');
      // With the slot free, the next cheap request's shadow goes to big.
      await client.chat.completions.create({
        model: 'auto',
        messages: [{ role: 'user', content: SIMPLE_PROMPT }],
      });
      await vi.waitFor(async () => expect(await count('ok')).toBe(1), WAIT);
      // Request 1's own call and request 3's shadow: nothing else ever reached big.
      expect(bigUp.calls.length).toBe(2);
      expect((bigUp.calls[1]!.body as { messages: Array<{ content: string }> }).messages[0]!.content).toBe(
        SIMPLE_PROMPT,
      );
      expect(await count('error')).toBe(0);
    } finally {
      release();
      await r1?.catch(() => {});
    }
  });
});
