/**
 * POST /v1/responses settings through the sidecar to an OpenAI-wire upstream, with the openai SDK's
 * `client.responses.create`: what has a chat-completions equivalent reaches the upstream under its name (reasoning
 * effort, verbosity, service tier, prompt cache key, store and metadata, logprobs, strict function tools), the
 * response echoes what was applied (the served service tier, the token logprobs), and a stored prompt template is
 * refused by field.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { behave, type Fixture, startOpenAIFixture } from '../fixtures/providers/index.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

let up: Fixture;
let sidecar: TestSidecar;
let client: OpenAI;

beforeAll(async () => {
  up = await startOpenAIFixture();
  sidecar = await startTestSidecar(`
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default, namespace: test }
spec:
  providers: [{ name: up, type: openai-compatible, baseURL: "${up.baseURL}" }]
  models: [{ name: m, targets: [{ provider: up }], pricing: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 128000 }]
  tiers: [{ name: only, models: [m] }]
  classifier: { mode: rules }
  cascade: { enabled: false }
  resilience: { retries: { attempts: 0, backoffMs: 10, maxBackoffMs: 20 } }
`);
  client = new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'unused', maxRetries: 0 });
});
afterAll(async () => {
  await sidecar?.close();
  await up?.close();
});

const lastBody = () => up.requests.at(-1)!.body as Record<string, unknown>;

describe('Responses API settings', () => {
  it('reach the upstream under their chat-completions names and are echoed as applied', async () => {
    up.script([{ ...behave.ok('Hello there'), tokenLogprob: -0.25 }]);
    const r = await client.responses.create({
      model: 'auto',
      input: 'hi',
      reasoning: { effort: 'high' },
      text: { verbosity: 'low' },
      service_tier: 'flex',
      prompt_cache_key: 'k1',
      store: true,
      metadata: { team: 'search' },
      include: ['message.output_text.logprobs'],
      top_logprobs: 2,
      tools: [
        {
          // The SDK's type wants `strict`; null is its "left out", as typed code sends it.
          type: 'function',
          name: 'get_weather',
          strict: null,
          parameters: {
            type: 'object',
            properties: { city: { type: 'string' } },
            required: ['city'],
            additionalProperties: false,
          },
        },
      ],
    });
    expect(lastBody()).toMatchObject({
      reasoning_effort: 'high',
      verbosity: 'low',
      service_tier: 'flex',
      prompt_cache_key: 'k1',
      store: true,
      metadata: { team: 'search' },
      logprobs: true,
      top_logprobs: 2,
      tools: [{ type: 'function', function: { name: 'get_weather', strict: true } }],
    });
    expect(r.reasoning).toMatchObject({ effort: 'high' });
    expect(r.text).toMatchObject({ verbosity: 'low' });
    expect(r.prompt_cache_key).toBe('k1');
    expect(r.top_logprobs).toBe(2);
    // The tier the upstream says it served on, not the one asked for.
    expect(r.service_tier).toBe('default');
    expect(r.output_text).toBe('Hello there');
    const part = (r.output[0] as OpenAI.Responses.ResponseOutputMessage)
      .content[0] as OpenAI.Responses.ResponseOutputText;
    expect(part.logprobs?.map((l) => l.token).join('')).toBe('Hello there');
    expect(part.logprobs?.[0]?.logprob).toBe(-0.25);
  });

  it('a plain request sends none of them', async () => {
    await client.responses.create({ model: 'auto', input: 'hi', metadata: { team: 'search' } });
    const body = lastBody();
    for (const k of ['reasoning_effort', 'verbosity', 'service_tier', 'store', 'metadata', 'logprobs'])
      expect(body, k).not.toHaveProperty(k);
  });

  it('a stored prompt template is refused by field', async () => {
    const err = await client.responses
      .create({ model: 'auto', input: 'hi', prompt: { id: 'pmpt_123' } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('prompt');
  });
});
