/**
 * What the Anthropic and Gemini translations cannot carry (n > 1, logprobs, a whitespace-only stop, an image URL
 * Gemini would have to fetch, embeddings on a chat-only model) through a real sidecar and the official OpenAI SDK:
 * routing lands on a capable target, and when the route has none the client gets a 400 (404 for embeddings) naming
 * the field, without any upstream call. And what the Anthropic translation does carry: tool-call ids it would refuse
 * (rewritten consistently) and images in tool results.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  behave,
  type Fixture,
  startAnthropicFixture,
  startGeminiFixture,
  startOpenAIFixture,
} from '../fixtures/providers/index.js';
import { SIMPLE_PROMPT } from '../helpers/config.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

const ANTHROPIC_KEY = 'sk-ant-test-0123456789';
const OPENAI_KEY = 'sk-test-openai-0123456789';
const GEMINI_KEY = 'AIza-test-0123456789';

const resilience = `
  resilience:
    timeoutMs: 10000
    firstByteTimeoutMs: 5000
    retries: { attempts: 0, backoffMs: 10, maxBackoffMs: 20 }
    breaker: { errorThresholdPercentage: 50, volumeThreshold: 1000, resetTimeoutMs: 10000, rollingWindowMs: 30000 }`;

function config(anth: string, oai: string, gem: string): string {
  const pricing = 'pricing: { inputPerMTok: 1, outputPerMTok: 2 }, contextWindow: 128000';
  return `
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: mixed, namespace: test }
spec:
  providers:
    - { name: claude, type: anthropic, baseURL: "${anth}", apiKey: { env: ANTHROPIC_KEY } }
    - { name: oai, type: openai-compatible, baseURL: "${oai}", apiKey: { env: OPENAI_KEY } }
  models:
    - { name: haiku, targets: [{ provider: claude }], ${pricing} }
    - { name: gpt, targets: [{ provider: oai }], ${pricing} }
  tiers:
    - { name: cheap, models: [haiku] }
    - { name: premium, models: [gpt] }
  classifier: { mode: rules, rules: [] }${resilience}
---
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: claude-only, namespace: test }
spec:
  providers:
    - { name: claude, type: anthropic, baseURL: "${anth}", apiKey: { env: ANTHROPIC_KEY } }
  models:
    - { name: sonnet, targets: [{ provider: claude }], ${pricing} }
    - { name: opus, targets: [{ provider: claude }], ${pricing} }
  tiers:
    - { name: cheap, models: [sonnet] }
    - { name: premium, models: [opus] }
  classifier: { mode: rules, rules: [] }${resilience}
---
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: duo, namespace: test }
spec:
  providers:
    - { name: claude, type: anthropic, baseURL: "${anth}", apiKey: { env: ANTHROPIC_KEY } }
    - { name: oai, type: openai-compatible, baseURL: "${oai}", apiKey: { env: OPENAI_KEY } }
  models:
    - { name: duo-model, targets: [{ provider: claude }, { provider: oai }], ${pricing} }
  tiers:
    - { name: cheap, models: [duo-model] }
  classifier: { mode: rules, rules: [] }${resilience}
---
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: gemini-only, namespace: test }
spec:
  providers:
    - { name: gem, type: gemini, baseURL: "${gem}", apiKey: { env: GEMINI_KEY } }
  models:
    - { name: flash, targets: [{ provider: gem }], ${pricing} }
  tiers:
    - { name: cheap, models: [flash] }
  classifier: { mode: rules, rules: [] }${resilience}
`;
}

describe('provider declines through the sidecar, driven by the official OpenAI SDK', () => {
  let anth: Fixture;
  let oai: Fixture;
  let gem: Fixture;
  let sidecar: TestSidecar;
  let client: OpenAI;
  const upstreamCalls = () => anth.requests.length + oai.requests.length + gem.requests.length;

  beforeAll(async () => {
    anth = await startAnthropicFixture({ apiKey: ANTHROPIC_KEY });
    oai = await startOpenAIFixture({ apiKey: OPENAI_KEY });
    gem = await startGeminiFixture({ apiKey: GEMINI_KEY });
    sidecar = await startTestSidecar(config(anth.baseURL, oai.baseURL, gem.baseURL), {
      env: { ANTHROPIC_KEY, OPENAI_KEY, GEMINI_KEY },
    });
    client = new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'client-key-not-used', maxRetries: 0 });
  });
  afterAll(async () => {
    await sidecar?.close();
    await anth?.close();
    await oai?.close();
    await gem?.close();
  });

  it('n: 3 on a route with an Anthropic tier and an OpenAI tier lands on the OpenAI target with 3 choices', async () => {
    oai.script([behave.ok('three of these')]);
    const before = anth.calls.length;
    const r = await client.chat.completions
      .create({ model: 'mixed', n: 3, messages: [{ role: 'user', content: SIMPLE_PROMPT }] })
      .withResponse();
    expect(r.response.headers.get('x-tiermesh-model')).toBe('gpt');
    expect(r.response.headers.get('x-tiermesh-provider')).toBe('oai');
    expect(r.data.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(oai.calls.at(-1)?.body).toMatchObject({ n: 3 });
    expect(anth.calls.length).toBe(before);
    // Without n the same request goes to the cheap Anthropic tier: n alone moved it.
    anth.script([behave.ok('one')]);
    const one = await client.chat.completions
      .create({ model: 'mixed', messages: [{ role: 'user', content: SIMPLE_PROMPT }] })
      .withResponse();
    expect(one.response.headers.get('x-tiermesh-model')).toBe('haiku');
  });

  it('within one model, the Anthropic target declines n: 2 and failover serves it from the OpenAI target', async () => {
    oai.script([behave.ok('two of these')]);
    const before = anth.requests.length;
    const r = await client.chat.completions
      .create({ model: 'duo', n: 2, messages: [{ role: 'user', content: SIMPLE_PROMPT }] })
      .withResponse();
    expect(r.response.headers.get('x-tiermesh-provider')).toBe('oai');
    expect(r.data.choices).toHaveLength(2);
    // Declined before any call: Anthropic never saw it.
    expect(anth.requests.length).toBe(before);
  });

  it('on an Anthropic-only route n > 1, logprobs and a whitespace-only stop are 400s naming the field', async () => {
    const before = upstreamCalls();
    const cases: Array<[Partial<OpenAI.ChatCompletionCreateParamsNonStreaming>, string, RegExp]> = [
      [{ n: 3 }, 'n', /more than one choice \(n > 1\)/],
      [{ logprobs: true, top_logprobs: 2 }, 'logprobs', /logprobs/],
      [{ stop: ['\n'] }, 'stop', /whitespace-only stop sequences/],
    ];
    for (const [extra, param, message] of cases) {
      const e = await client.chat.completions
        .create({ model: 'claude-only', messages: [{ role: 'user', content: SIMPLE_PROMPT }], ...extra })
        .then(
          () => undefined,
          (err: unknown) => err,
        );
      expect(e).toBeInstanceOf(OpenAI.BadRequestError);
      const err = e as InstanceType<typeof OpenAI.BadRequestError>;
      expect(err.status).toBe(400);
      expect(err.param).toBe(param);
      expect(err.code).toBe('TM_INVALID_REQUEST');
      expect(err.message).toMatch(message);
    }
    expect(upstreamCalls()).toBe(before);
  });

  it('rewrites tool-call ids Anthropic refuses, consistently in tool_use and tool_result (the fixture checks both)', async () => {
    anth.script([behave.ok('It is 20C.')]);
    const id = 'functions.get_weather:0';
    const r = await client.chat.completions.create({
      model: 'sonnet',
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
      messages: [
        { role: 'user', content: 'weather?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id, type: 'function', function: { name: 'get_weather', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: id, content: '20C' },
      ],
    });
    expect(r.choices[0]?.message.content).toBe('It is 20C.');
    const sent = anth.calls.at(-1)?.body as {
      messages: Array<{ content: Array<{ type: string; id?: string; tool_use_id?: string }> }>;
    };
    const use = sent.messages[1]!.content[0]!;
    expect(use.id).toMatch(/^[a-zA-Z0-9_-]+$/);
    expect(sent.messages[2]!.content[0]!.tool_use_id).toBe(use.id);
  });

  it('sends an image in a tool message to Anthropic as an image block of the tool_result', async () => {
    anth.script([behave.ok('A red square.')]);
    await client.chat.completions.create({
      model: 'sonnet',
      tools: [{ type: 'function', function: { name: 'screenshot' } }],
      messages: [
        { role: 'user', content: 'what is on screen?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'screenshot', arguments: '{}' } }],
        },
        {
          role: 'tool',
          tool_call_id: 'call_1',
          // The OpenAI SDK types tool content as text parts; the sidecar takes images too.
          content: [
            { type: 'text', text: 'screen:' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
          ] as unknown as OpenAI.ChatCompletionContentPartText[],
        },
      ],
    });
    const sent = anth.calls.at(-1)?.body as { messages: Array<{ content: unknown[] }> };
    expect(sent.messages[2]!.content[0]).toEqual({
      type: 'tool_result',
      tool_use_id: 'call_1',
      content: [
        { type: 'text', text: 'screen:' },
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
      ],
    });
  });

  it('reports Anthropic cache reads as cached_tokens, part of prompt_tokens and booked once', async () => {
    anth.script([
      behave.ok('cached', { prompt: 200, completion: 10, cacheRead: 800 }),
      behave.ok('cached stream', { prompt: 200, completion: 10, cacheRead: 800 }),
    ]);
    const r = await client.chat.completions
      .create({ model: 'sonnet', messages: [{ role: 'user', content: SIMPLE_PROMPT }] })
      .withResponse();
    expect(r.data.usage).toMatchObject({
      prompt_tokens: 1000,
      completion_tokens: 10,
      total_tokens: 1010,
      prompt_tokens_details: { cached_tokens: 800 },
    });
    // 1000 input tokens at $1/M + 10 output at $2/M: the cached 800 are inside the 1000, not added again.
    expect(Number(r.response.headers.get('x-tiermesh-cost-usd'))).toBeCloseTo(0.00102, 10);
    const s = await client.chat.completions.create({
      model: 'sonnet',
      messages: [{ role: 'user', content: SIMPLE_PROMPT }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const c of s) if (c.usage) usage = c.usage;
    expect(usage).toMatchObject({ prompt_tokens: 1000, prompt_tokens_details: { cached_tokens: 800 } });
  });

  it('on a Gemini-only route an https image URL and n: 9 are 400s naming the field, not 502s', async () => {
    const before = upstreamCalls();
    const image = await client.chat.completions
      .create({
        model: 'gemini-only',
        messages: [
          { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] },
        ],
      })
      .then(
        () => undefined,
        (err: unknown) => err as InstanceType<typeof OpenAI.APIError>,
      );
    expect(image?.status).toBe(400);
    expect(image?.param).toBe('messages[0].content[0]');
    expect(image?.message).toMatch(/image URLs/);
    const many = await client.chat.completions
      .create({ model: 'gemini-only', n: 9, messages: [{ role: 'user', content: SIMPLE_PROMPT }] })
      .then(
        () => undefined,
        (err: unknown) => err as InstanceType<typeof OpenAI.APIError>,
      );
    expect(many?.status).toBe(400);
    expect(many?.param).toBe('n');
    expect(many?.message).toMatch(/more than 8 choices/);
    expect(upstreamCalls()).toBe(before);
    // n within Gemini's limit is carried as candidateCount.
    gem.script([behave.ok('two')]);
    await client.chat.completions.create({
      model: 'gemini-only',
      n: 2,
      messages: [{ role: 'user', content: SIMPLE_PROMPT }],
    });
    expect(gem.calls.at(-1)?.body).toMatchObject({ generationConfig: { candidateCount: 2 } });
  });

  it('embeddings on a chat-only (Anthropic) model are a 404 naming the model, not a retried 502', async () => {
    const before = upstreamCalls();
    const e = await client.embeddings.create({ model: 'sonnet', input: 'a' }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(OpenAI.NotFoundError);
    const err = e as InstanceType<typeof OpenAI.NotFoundError>;
    expect(err.param).toBe('model');
    expect(err.message).toMatch(/cannot create embeddings/);
    expect(upstreamCalls()).toBe(before);
  });
});
