/**
 * POST /v1/embeddings through the real sidecar with the openai SDK: routed by model name, failover across the
 * model's targets (an unreachable upstream, then a provider without embeddings, then the simulated one), cost and
 * budgets booked on input tokens, and bad input answered in the OpenAI shape naming the field.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { estimateEmbeddingTokens } from '../../src/providers/embeddings.js';
import { behave, startGeminiFixture } from '../fixtures/providers/index.js';
import { metricValue, startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

const yaml = `
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default, namespace: test }
spec:
  providers:
    - { name: gone, type: openai-compatible, baseURL: "http://127.0.0.1:9/v1" }
    - { name: claude, type: anthropic, baseURL: "http://127.0.0.1:9", apiKey: { env: NO_SUCH_KEY } }
    - { name: sim, type: simulated, simulated: { latencyMs: 0 } }
  models:
    - { name: chat-small, targets: [{ provider: sim }], pricing: { inputPerMTok: 1, outputPerMTok: 2 }, contextWindow: 128000 }
    - name: embed-small
      targets: [{ provider: gone }, { provider: claude }, { provider: sim }]
      pricing: { inputPerMTok: 10000, outputPerMTok: 0 }
      contextWindow: 8192
  tiers:
    - { name: cheap, models: [chat-small] }
  classifier: { mode: rules }
  resilience: { retries: { attempts: 0, backoffMs: 0, maxBackoffMs: 0 } }
`;

let sidecar: TestSidecar;
let client: OpenAI;
beforeAll(async () => {
  sidecar = await startTestSidecar(yaml);
  client = new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'test', maxRetries: 0 });
});
afterAll(() => sidecar.close(1000));

describe('POST /v1/embeddings', () => {
  it('fails over to a target that has embeddings and books the input tokens', async () => {
    const { data, response } = await client.embeddings
      .create({ model: 'embed-small', input: ['a fjord', 'a glacier'] })
      .withResponse();
    expect(data.data).toHaveLength(2);
    expect(data.data[0]!.embedding.length).toBe(256);
    expect(data.data[0]!.embedding).not.toEqual(data.data[1]!.embedding);
    expect(data.usage.prompt_tokens).toBeGreaterThan(0);
    expect(response.headers.get('x-tiermesh-provider')).toBe('sim');
    expect(response.headers.get('x-tiermesh-model')).toBe('embed-small');
    const cost = Number(response.headers.get('x-tiermesh-cost-usd'));
    expect(cost).toBeCloseTo((data.usage.prompt_tokens * 10000) / 1e6, 6);
    const m = (await sidecar.metrics.text()).body;
    expect(metricValue(m, 'tiermesh_cost_usd_total', { route: 'default', model: 'embed-small' })).toBeCloseTo(
      cost,
      6,
    );
    // The embeddings path makes no routing decision: the route is the failed target's own.
    expect(
      metricValue(m, 'tiermesh_fallbacks_total', {
        route: 'default',
        from_provider: 'gone',
        reason: 'connection',
      }),
    ).toBe(1);
  });

  it('answers base64 as the SDK decodes it, and the same vector for the same text', async () => {
    const a = await client.embeddings.create({ model: 'embed-small', input: 'same text' });
    const b = await client.embeddings.create({
      model: 'embed-small',
      input: 'same text',
      encoding_format: 'float',
    });
    expect(a.data[0]!.embedding).toHaveLength(256);
    for (const [i, v] of b.data[0]!.embedding.entries()) expect(a.data[0]!.embedding[i]).toBeCloseTo(v, 5);
  });

  it('refuses auto and bad input in the OpenAI shape, naming the field', async () => {
    const auto = await client.embeddings.create({ model: 'auto', input: 'x' }).catch((e: unknown) => e);
    expect(auto).toBeInstanceOf(OpenAI.NotFoundError);
    expect((auto as InstanceType<typeof OpenAI.NotFoundError>).param).toBe('model');
    const bad = await client.embeddings.create({ model: 'embed-small', input: [] }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect((bad as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('input');
  });
});

describe('POST /v1/embeddings cut off in flight', () => {
  it('books the estimated input of the call under way when the client leaves, and moves no breaker', async () => {
    // An OpenAI-compatible upstream that takes the request and never answers.
    const calls: Array<{ ended: Promise<string> }> = [];
    const hung = http.createServer((req, res) => {
      req.resume();
      calls.push({
        ended: new Promise((r) => res.once('close', () => r(res.writableEnded ? 'finished' : 'aborted'))),
      });
    });
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
    const port = (hung.address() as AddressInfo).port;
    const s = await startTestSidecar(`
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default, namespace: test }
spec:
  providers:
    - { name: hung, type: openai-compatible, baseURL: "http://127.0.0.1:${port}/v1" }
    - { name: sim, type: simulated, simulated: { latencyMs: 0 } }
  models:
    - { name: chat-small, targets: [{ provider: sim }], pricing: { inputPerMTok: 1, outputPerMTok: 2 }, contextWindow: 128000 }
    - { name: embed-small, targets: [{ provider: hung }], pricing: { inputPerMTok: 10000, outputPerMTok: 0 }, contextWindow: 8192 }
  tiers:
    - { name: cheap, models: [chat-small] }
  classifier: { mode: rules }
  resilience:
    timeoutMs: 30000
    retries: { attempts: 0, backoffMs: 0, maxBackoffMs: 0 }
    breaker: { errorThresholdPercentage: 1, volumeThreshold: 1, resetTimeoutMs: 60000, rollingWindowMs: 60000 }
`);
    try {
      const body = { model: 'embed-small', input: ['a fjord in the north', 'a glacier'] };
      const estimate = estimateEmbeddingTokens(body);
      const ac = new AbortController();
      const r = fetch(`${s.baseURL}/embeddings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: ac.signal,
      }).catch((e: unknown) => e);
      await vi.waitFor(() => expect(calls.length).toBe(1));
      ac.abort();
      await r;
      const line = await vi.waitFor(() => {
        const l = s.logs.byMsg('request').at(-1);
        expect(l).toBeDefined();
        return l!;
      });
      expect(line).toMatchObject({ status: 499, inputTokens: estimate, outputTokens: 0 });
      await expect(calls[0]!.ended).resolves.toBe('aborted');
      const m = (await s.metrics.text()).body;
      expect(metricValue(m, 'tiermesh_tokens_total', { model: 'embed-small', direction: 'input' })).toBe(
        estimate,
      );
      expect(
        metricValue(m, 'tiermesh_cost_usd_total', { route: 'default', model: 'embed-small' }),
      ).toBeCloseTo((estimate * 10000) / 1e6, 9);
      // The client's leaving is not the upstream's fault: the next call reaches it (an open breaker would refuse).
      const ac2 = new AbortController();
      const next = fetch(`${s.baseURL}/embeddings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: ac2.signal,
      }).catch((e: unknown) => e);
      await vi.waitFor(() => expect(calls.length).toBe(2));
      ac2.abort();
      await next;
    } finally {
      await s.close(100);
      hung.closeAllConnections();
      await new Promise((r) => hung.close(r));
    }
  });
});

describe('POST /v1/embeddings on a Gemini model', () => {
  it('calls batchEmbedContents with the key in a header, and answers in the OpenAI shape', async () => {
    const gem = await startGeminiFixture({ apiKey: 'AIza-fixture' });
    const s = await startTestSidecar(
      `
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default, namespace: test }
spec:
  providers:
    - { name: gem, type: gemini, baseURL: "${gem.baseURL}/v1beta", apiKey: { env: GEM_KEY } }
    - { name: sim, type: simulated, simulated: { latencyMs: 0 } }
  models:
    - { name: chat-small, targets: [{ provider: sim }], pricing: { inputPerMTok: 1, outputPerMTok: 2 }, contextWindow: 128000 }
    - name: embed-gem
      targets: [{ provider: gem, model: text-embedding-004 }, { provider: sim }]
      pricing: { inputPerMTok: 10000, outputPerMTok: 0 }
      contextWindow: 2048
  tiers:
    - { name: cheap, models: [chat-small] }
  classifier: { mode: rules }
  resilience: { retries: { attempts: 0, backoffMs: 0, maxBackoffMs: 0 } }
`,
      { env: { GEM_KEY: 'AIza-fixture' } },
    );
    const c = new OpenAI({ baseURL: s.baseURL, apiKey: 'test', maxRetries: 0 });
    try {
      const input = ['a fjord', 'a glacier'];
      const { data, response } = await c.embeddings
        .create({ model: 'embed-gem', input, dimensions: 64, encoding_format: 'float' })
        .withResponse();
      expect(response.headers.get('x-tiermesh-provider')).toBe('gem');
      expect(data.data.map((d) => d.index)).toEqual([0, 1]);
      expect(data.data[0]!.embedding).toHaveLength(64);
      expect(data.data[0]!.embedding).not.toEqual(data.data[1]!.embedding);
      // Gemini counts no tokens here: the sidecar's estimate is what is answered and booked.
      const estimate = estimateEmbeddingTokens({ model: 'embed-gem', input });
      expect(data.usage.prompt_tokens).toBe(estimate);
      expect(Number(response.headers.get('x-tiermesh-cost-usd'))).toBeCloseTo((estimate * 10000) / 1e6, 9);
      const call = gem.calls[0]!;
      expect(call.path).toBe('/v1beta/models/text-embedding-004:batchEmbedContents');
      expect(call.headers['x-goog-api-key']).toBe('AIza-fixture');
      expect(call.body).toEqual({
        requests: input.map((text) => ({
          model: 'models/text-embedding-004',
          content: { parts: [{ text }] },
          outputDimensionality: 64,
        })),
      });
      // The SDK's default base64 encoding decodes to the same vector.
      const b64 = await c.embeddings.create({ model: 'embed-gem', input: 'a fjord', dimensions: 64 });
      for (const [i, v] of b64.data[0]!.embedding.entries())
        expect(data.data[0]!.embedding[i]).toBeCloseTo(v, 5);

      // Token ids have no Gemini form: the model's next target takes them, Gemini is not called.
      const before = gem.calls.length;
      const ids = await c.embeddings.create({ model: 'embed-gem', input: [1, 2, 3] }).withResponse();
      expect(ids.response.headers.get('x-tiermesh-provider')).toBe('sim');
      expect(gem.calls.length).toBe(before);

      // A 5xx of Gemini fails over like any other upstream failure.
      gem.script([behave.error(503)]);
      const failed = await c.embeddings.create({ model: 'embed-gem', input: 'x' }).withResponse();
      expect(failed.response.headers.get('x-tiermesh-provider')).toBe('sim');
      expect(gem.calls.length).toBe(before + 1);
    } finally {
      await s.close(100);
      await gem.close();
    }
  });
});
