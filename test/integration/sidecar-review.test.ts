/**
 * The review flag and the strict JSON retry through the sidecar, over real sockets with the OpenAI SDK as client and
 * fixture providers for the tiers.
 */
import { spawnSync } from 'node:child_process';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

async function fixture(reply: string): Promise<Fixture> {
  const f = await startOpenAIFixture();
  f.fallback(behave.ok(reply, { prompt: 10, completion: 3 }));
  fixtures.push(f);
  return f;
}

function routeYaml(cheap: Fixture, premium: Fixture, extra: Record<string, unknown>): string {
  const model = (name: string, provider: string, price: number) => ({
    name,
    targets: [{ provider }],
    pricing: { inputPerMTok: price, outputPerMTok: price },
    contextWindow: 100_000,
  });
  return stringify({
    apiVersion: 'tiermesh.dev/v1alpha1',
    kind: 'ModelRoute',
    metadata: { name: 'default', namespace: 'test' },
    spec: {
      providers: [
        { name: 'cheap-up', type: 'openai-compatible', baseURL: cheap.baseURL },
        { name: 'premium-up', type: 'openai-compatible', baseURL: premium.baseURL },
      ],
      models: [model('small-model', 'cheap-up', 1), model('big-model', 'premium-up', 3)],
      tiers: [
        { name: 'cheap', models: ['small-model'] },
        { name: 'premium', models: ['big-model'] },
      ],
      classifier: { mode: 'rules', confidenceBand: 0.02 },
      taskTypes: { legal: 'cheap', chat: 'cheap', extract: 'cheap' },
      cascade: { enabled: false, checks: ['empty'], maxEscalations: 0 },
      resilience: { timeoutMs: 5_000, firstByteTimeoutMs: 2_000, retries: { attempts: 0, backoffMs: 10 } },
      ...extra,
    },
  });
}

async function start(yaml: string): Promise<{ sidecar: TestSidecar; client: OpenAI }> {
  const sidecar = await startTestSidecar(yaml);
  sidecars.push(sidecar);
  return { sidecar, client: new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'x', maxRetries: 0 }) };
}

const hi = { model: 'auto', messages: [{ role: 'user' as const, content: 'hi there' }] };

describe('review flag', () => {
  let cheap: Fixture;
  let premium: Fixture;
  beforeAll(async () => {
    cheap = await fixture('from cheap');
    premium = await fixture('from premium');
  });

  it('flags answers of a task marked requireHumanReview, JSON and streams, and counts them', async () => {
    const { sidecar, client } = await start(
      routeYaml(cheap, premium, {
        review: { taskTypes: { legal: { requireHumanReview: true }, chat: { requireHumanReview: false } } },
      }),
    );
    const legal = await client.chat.completions
      .create(hi, { headers: { 'x-tiermesh-task': 'legal' } })
      .withResponse();
    expect(legal.response.headers.get('x-tiermesh-review')).toBe('required');
    expect(legal.data.choices[0]?.message.content).toBe('from cheap');
    const stream = await client.chat.completions
      .create({ ...hi, stream: true }, { headers: { 'x-tiermesh-task': 'legal' } })
      .withResponse();
    expect(stream.response.headers.get('x-tiermesh-review')).toBe('required');
    let text = '';
    for await (const c of stream.data) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe('from cheap');
    for (const task of ['chat', 'extract', undefined]) {
      const r = await client.chat.completions
        .create(hi, task ? { headers: { 'x-tiermesh-task': task } } : {})
        .withResponse();
      expect(r.response.headers.get('x-tiermesh-review')).toBeNull();
    }
    const metrics = await (await fetch(`${sidecar.url}/metrics`)).text();
    expect(metricValue(metrics, 'tiermesh_review_required_total', { route: 'default', task: 'legal' })).toBe(
      2,
    );
    expect(metricValue(metrics, 'tiermesh_review_required_total', { task: 'chat' })).toBeUndefined();
    const lint = spawnSync(promlint(), [], { input: metrics, encoding: 'utf8' });
    expect(lint.stderr).toBe('');
    expect(lint.status).toBe(0);
    expect(sidecar.logs.byMsg('request').filter((l) => l['review'] === 'required')).toHaveLength(2);
  });

  it('refuses a review entry for an undeclared task type', async () => {
    await expect(
      startTestSidecar(
        routeYaml(cheap, premium, { review: { taskTypes: { medical: { requireHumanReview: true } } } }),
      ),
    ).rejects.toThrow(/review\.taskTypes\.medical/);
  });
});

describe('strict retry before escalating', () => {
  const json = { ...hi, response_format: { type: 'json_object' as const } };
  const strictOf = (body: unknown) =>
    (body as { messages: Array<{ role: string; content: string }> }).messages.find(
      (m) => m.role === 'system' && m.content.includes('JSON only'),
    );
  const cascade = (extra: Record<string, unknown> = {}) => ({
    cascade: { enabled: true, checks: ['empty', 'json'], maxEscalations: 1, ...extra },
  });

  it('asks the same tier again with a stricter instruction and serves the answer that passes, booking both', async () => {
    const cheap = await fixture('unused');
    const premium = await fixture('{"from":"premium"}');
    cheap.script((req) =>
      behave.ok(strictOf(req.body) ? '{"ok":true}' : 'Sure! Here it is: ok', { prompt: 10, completion: 3 }),
    );
    const { sidecar, client } = await start(routeYaml(cheap, premium, cascade({ strictRetry: {} })));
    const r = await client.chat.completions.create(json).withResponse();
    expect(r.data.choices[0]?.message.content).toBe('{"ok":true}');
    expect(r.response.headers.get('x-tiermesh-tier')).toBe('cheap');
    expect(r.response.headers.get('x-tiermesh-attempts')).toBe('2');
    // Both cheap answers are spend: 2 x 13 tokens at $1/MTok.
    expect(r.response.headers.get('x-tiermesh-cost-usd')).toBe('0.000026');
    expect(cheap.requests).toHaveLength(2);
    expect(strictOf(cheap.requests[0]!.body)).toBeUndefined();
    const instruction = strictOf(cheap.requests[1]!.body)!;
    expect(instruction.content).toContain('content is not valid JSON');
    expect(instruction.content).not.toContain('Sure!'); // the rejected answer is never quoted back
    expect(premium.requests).toHaveLength(0);
    const metrics = await (await fetch(`${sidecar.url}/metrics`)).text();
    expect(
      metricValue(metrics, 'tiermesh_strict_retries_total', {
        route: 'default',
        tier: 'cheap',
        outcome: 'passed',
      }),
    ).toBe(1);
    expect(metricValue(metrics, 'tiermesh_cascade_escalations_total', { check: 'json' })).toBeUndefined();
    expect(
      metricValue(metrics, 'tiermesh_cost_usd_total', { route: 'default', model: 'small-model' }),
    ).toBeCloseTo(0.000026, 12);
    const lint = spawnSync(promlint(), [], { input: metrics, encoding: 'utf8' });
    expect(lint.stderr).toBe('');
    expect(lint.status).toBe(0);
  });

  it('escalates when the stricter answer fails too, counting the retry as failed', async () => {
    const cheap = await fixture('still not json');
    const premium = await fixture('{"from":"premium"}');
    const { sidecar, client } = await start(
      routeYaml(cheap, premium, cascade({ strictRetry: { instruction: 'OUTPUT STRICT JSON.' } })),
    );
    const r = await client.chat.completions.create(json).withResponse();
    expect(r.data.choices[0]?.message.content).toBe('{"from":"premium"}');
    expect(r.response.headers.get('x-tiermesh-tier')).toBe('premium');
    expect(cheap.requests).toHaveLength(2);
    const second = (cheap.requests[1]!.body as { messages: Array<{ role: string; content: string }> })
      .messages;
    expect(second[0]).toMatchObject({ role: 'system' });
    expect(second[0]!.content.startsWith('OUTPUT STRICT JSON.')).toBe(true);
    expect(premium.requests).toHaveLength(1);
    expect(strictOf(premium.requests[0]!.body)).toBeUndefined(); // the next tier gets the client's request
    // Three answers booked: two cheap (13 tokens at $1) and one premium (13 at $3).
    expect(r.response.headers.get('x-tiermesh-cost-usd')).toBe('0.000065');
    const metrics = await (await fetch(`${sidecar.url}/metrics`)).text();
    expect(metricValue(metrics, 'tiermesh_strict_retries_total', { tier: 'cheap', outcome: 'failed' })).toBe(
      1,
    );
    expect(metricValue(metrics, 'tiermesh_cascade_escalations_total', { tier: 'cheap', check: 'json' })).toBe(
      1,
    );
  });

  it('escalates straight away without strictRetry, and only for json failures with it', async () => {
    const cheap = await fixture('not json');
    const premium = await fixture('{"from":"premium"}');
    const { client } = await start(routeYaml(cheap, premium, cascade()));
    const r = await client.chat.completions.create(json).withResponse();
    expect(r.response.headers.get('x-tiermesh-tier')).toBe('premium');
    expect(cheap.requests).toHaveLength(1);

    const cheap2 = await fixture('');
    const premium2 = await fixture('from premium');
    const s2 = await start(routeYaml(cheap2, premium2, cascade({ strictRetry: {} })));
    const r2 = await s2.client.chat.completions.create(hi).withResponse();
    expect(r2.response.headers.get('x-tiermesh-tier')).toBe('premium'); // `empty` failed: no strict retry
    expect(cheap2.requests).toHaveLength(1);
  });
});
