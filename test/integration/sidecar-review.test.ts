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
