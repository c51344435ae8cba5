/**
 * OpenAI reasoning models (o-series, gpt-5) refuse `max_tokens`: through the sidecar with the OpenAI SDK, an o4-mini
 * entry as docs/providers.md shows it (maxTokensCap) and an Azure deployment whose name does not tell the model both
 * get `max_completion_tokens`, JSON and streamed, whether the limit is the route's cap or the client's own
 * max_tokens; a non-reasoning model keeps the client's max_tokens.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fixture, startAzureOpenAIFixture, startOpenAIFixture } from '../fixtures/providers/index.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

const OA_KEY = 'sk-test-reasoning-0123456789';
const AZ_KEY = 'azure-test-key-0123456789';

let openai: Fixture;
let azure: Fixture;
let sidecar: TestSidecar;
let client: OpenAI;

beforeAll(async () => {
  openai = await startOpenAIFixture({ apiKey: OA_KEY });
  azure = await startAzureOpenAIFixture({
    apiKey: AZ_KEY,
    deployments: { 'prod-reasoning': 'o3-mini-2025-01-31' },
  });
  const model = (name: string, target: string, extra = '') =>
    `    - { name: ${name}, targets: [${target}], pricing: { inputPerMTok: 1, outputPerMTok: 4 }, contextWindow: 200000${extra} }`;
  sidecar = await startTestSidecar(
    `apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default, namespace: test }
spec:
  providers:
    - { name: openai, type: openai, baseURL: "${openai.baseURL}", apiKey: { env: OA_KEY } }
    - { name: azure, type: azure-openai, baseURL: "${azure.url}", apiKey: { env: AZ_KEY } }
  models:
${model('o4-mini', '{ provider: openai }', ', request: { drop: [temperature, top_p], maxTokensCap: 8192 }')}
${model('o3-mini', '{ provider: azure, model: prod-reasoning }')}
${model('gpt-4o-mini', '{ provider: openai }')}
  tiers: [{ name: only, models: [gpt-4o-mini, o4-mini, o3-mini] }]
  classifier: { mode: rules }
  cascade: { enabled: false }
  resilience: { retries: { attempts: 0, backoffMs: 10, maxBackoffMs: 20 } }
`,
    { env: { OA_KEY, AZ_KEY } },
  );
  client = new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'unused', maxRetries: 0 });
});

afterAll(async () => {
  await sidecar?.close();
  await openai?.close();
  await azure?.close();
});

const lastBody = (f: Fixture) => f.requests.at(-1)!.body as Record<string, unknown>;
const limits = (b: Record<string, unknown>) => ({
  max_tokens: b['max_tokens'],
  max_completion_tokens: b['max_completion_tokens'],
});
const msgs = [{ role: 'user' as const, content: 'hi' }];

describe('the output limit of OpenAI reasoning models', () => {
  it("the docs' o4-mini entry: the cap goes out as max_completion_tokens", async () => {
    await client.chat.completions.create({ model: 'o4-mini', messages: msgs });
    expect(limits(lastBody(openai))).toEqual({ max_tokens: undefined, max_completion_tokens: 8192 });
  });

  it("a client's max_tokens is renamed (JSON and stream); its own max_completion_tokens is kept", async () => {
    await client.chat.completions.create({ model: 'o4-mini', messages: msgs, max_tokens: 100 });
    expect(limits(lastBody(openai))).toEqual({ max_tokens: undefined, max_completion_tokens: 100 });
    const s = await client.chat.completions.create({
      model: 'o4-mini',
      messages: msgs,
      max_tokens: 200,
      stream: true,
    });
    for await (const _ of s);
    expect(limits(lastBody(openai))).toEqual({ max_tokens: undefined, max_completion_tokens: 200 });
    await client.chat.completions.create({ model: 'o4-mini', messages: msgs, max_completion_tokens: 300 });
    expect(limits(lastBody(openai))).toEqual({ max_tokens: undefined, max_completion_tokens: 300 });
  });

  it("an Azure deployment named anything, known by its entry's name", async () => {
    await client.chat.completions.create({ model: 'o3-mini', messages: msgs, max_tokens: 50 });
    expect(azure.calls.at(-1)?.path).toContain('/openai/deployments/prod-reasoning/chat/completions');
    expect(limits(lastBody(azure))).toEqual({ max_tokens: undefined, max_completion_tokens: 50 });
  });

  it('a non-reasoning model keeps the max_tokens the client sent', async () => {
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages: msgs, max_tokens: 40 });
    expect(limits(lastBody(openai))).toEqual({ max_tokens: 40, max_completion_tokens: undefined });
  });
});
