/**
 * Prompt caching end to end over real sockets: the real `@anthropic-ai/sdk` and `openai` clients through the sidecar
 * to the Anthropic and OpenAI wire-format fixtures. The Anthropic upstream receives the client's breakpoints (system
 * blocks, message blocks, tools, the top-level automatic one) and its forwardable anthropic-beta values; the client
 * sees the upstream's cache reads and writes; x-tiermesh-cost-usd prices them at the model's cache prices. The OpenAI
 * upstream gets neither breakpoints nor betas.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  behave,
  type Fixture,
  startAnthropicFixture,
  startOpenAIFixture,
} from '../fixtures/providers/index.js';
import { metricValue, startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

let oai: Fixture;
let anth: Fixture;
let sidecar: TestSidecar;

beforeAll(async () => {
  oai = await startOpenAIFixture({ apiKey: 'sk-oai-fixture' });
  anth = await startAnthropicFixture({ apiKey: 'sk-ant-fixture' });
  const yaml = `
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default, namespace: test }
spec:
  providers:
    - { name: oai, type: openai, baseURL: "${oai.baseURL}", apiKey: { env: OAI_KEY } }
    - { name: anth, type: anthropic, baseURL: "${anth.baseURL}", apiKey: { env: ANTH_KEY } }
  models:
    - { name: gpt-small, targets: [{ provider: oai, model: gpt-4o-mini }], pricing: { inputPerMTok: 1, outputPerMTok: 2 }, contextWindow: 128000 }
    - name: claude-sonnet-4-5
      targets: [{ provider: anth }]
      pricing: { inputPerMTok: 3, outputPerMTok: 15, cachedInputPerMTok: 0.3, cacheWritePerMTok: 3.75 }
      contextWindow: 200000
  tiers:
    - { name: cheap, models: [gpt-small] }
    - { name: premium, models: [claude-sonnet-4-5] }
  classifier: { mode: rules }
  resilience: { retries: { attempts: 0 } }
`;
  sidecar = await startTestSidecar(yaml, { env: { OAI_KEY: 'sk-oai-fixture', ANTH_KEY: 'sk-ant-fixture' } });
});
afterAll(async () => {
  await sidecar.close(1000);
  await Promise.all([oai.close(), anth.close()]);
});
beforeEach(() => {
  for (const f of [oai, anth]) f.script([]);
});

const eph = { type: 'ephemeral' as const };
const BETAS = 'prompt-caching-2024-07-31,interleaved-thinking-2025-05-14,context-1m-2025-08-07';
const anthropic = () =>
  new Anthropic({
    baseURL: sidecar.url,
    apiKey: 'client-key',
    maxRetries: 0,
    defaultHeaders: { 'anthropic-beta': BETAS },
  });
const last = (f: Fixture) => f.calls.at(-1)!;
/** The reviewer's numbers: 10 plain input tokens, 200 written to the cache, 1000 read from it, 5 output. */
const CACHE_USAGE = { prompt: 10, completion: 5, cacheRead: 1000, cacheWrite: 200 };
/** 10 * $3 + 200 * $3.75 + 1000 * $0.30 + 5 * $15, per 1M tokens (every input token at $3 would be 0.003705). */
const CACHED_COST = 0.001155;

const weather = {
  name: 'get_weather',
  description: 'Current weather for a city',
  input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] },
};

const cachedRequest = {
  model: 'claude-sonnet-4-5',
  max_tokens: 100,
  system: [
    { type: 'text' as const, text: 'You are terse.' },
    { type: 'text' as const, text: 'Big cached context.', cache_control: eph },
  ],
  tools: [{ ...weather, cache_control: eph }],
  messages: [
    { role: 'user' as const, content: 'Weather in Paris?' },
    {
      role: 'assistant' as const,
      content: [{ type: 'tool_use' as const, id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }],
    },
    {
      role: 'user' as const,
      content: [
        { type: 'tool_result' as const, tool_use_id: 'toolu_1', content: 'sunny', cache_control: eph },
        { type: 'text' as const, text: 'Summarise.' },
      ],
    },
  ],
};

describe('Anthropic Messages API to an Anthropic upstream', () => {
  it('carries the breakpoints and forwardable betas, reports cache usage and prices it at the cache prices', async () => {
    anth.script([behave.ok('cached hi', CACHE_USAGE)]);
    const r = await anthropic().messages.create(cachedRequest).withResponse();
    const up = last(anth);
    const sent = up.body as Record<string, unknown>;
    expect(sent['system']).toEqual([
      { type: 'text', text: 'You are terse.' },
      { type: 'text', text: 'Big cached context.', cache_control: eph },
    ]);
    expect((sent['tools'] as Array<Record<string, unknown>>)[0]).toMatchObject({
      name: 'get_weather',
      cache_control: eph,
    });
    const turns = sent['messages'] as Array<{ content: Array<Record<string, unknown>> }>;
    expect(turns[2]?.content[0]).toEqual({
      type: 'tool_result',
      tool_use_id: 'toolu_1',
      content: 'sunny',
      cache_control: eph,
    });
    // Only the betas that keep the translated wire format; interleaved-thinking is not one of them.
    expect(up.headers['anthropic-beta']).toBe('prompt-caching-2024-07-31,context-1m-2025-08-07');
    expect(r.data.usage).toMatchObject({
      input_tokens: 10,
      output_tokens: 5,
      cache_creation_input_tokens: 200,
      cache_read_input_tokens: 1000,
    });
    expect(Number(r.response.headers.get('x-tiermesh-cost-usd'))).toBeCloseTo(CACHED_COST, 9);
  });

  const spent = async () =>
    metricValue((await sidecar.metrics.text()).body, 'tiermesh_cost_usd_total', {
      route: 'default',
      model: 'claude-sonnet-4-5',
    }) ?? 0;

  it('streams: the final message carries the cache usage, booked at the cache prices', async () => {
    const before = await spent();
    anth.script([behave.ok('cached stream', CACHE_USAGE)]);
    const final = await anthropic()
      .messages.stream({ ...cachedRequest, messages: [{ role: 'user', content: 'hello' }] })
      .finalMessage();
    expect(final.usage).toMatchObject({
      input_tokens: 10,
      cache_creation_input_tokens: 200,
      cache_read_input_tokens: 1000,
    });
    expect(last(anth).headers['anthropic-beta']).toBe('prompt-caching-2024-07-31,context-1m-2025-08-07');
    expect((last(anth).body as { system: unknown }).system).toEqual(cachedRequest.system);
    expect((await spent()) - before).toBeCloseTo(CACHED_COST, 9);
  });

  it('the top-level cache_control (automatic caching) reaches the upstream as a breakpoint on the last block', async () => {
    anth.script([behave.ok('auto')]);
    await anthropic().messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 50,
      cache_control: eph,
      messages: [
        { role: 'user', content: 'first' },
        { role: 'assistant', content: 'ok' },
        { role: 'user', content: 'second' },
      ],
    } as Anthropic.MessageCreateParamsNonStreaming);
    const sent = last(anth).body as {
      cache_control?: unknown;
      messages: Array<{ content: Array<Record<string, unknown>> }>;
    };
    expect(sent.messages.at(-1)?.content).toEqual([{ type: 'text', text: 'second', cache_control: eph }]);
    expect(sent.messages[0]?.content[0]).not.toHaveProperty('cache_control');
  });

  it('more than four breakpoints: the last four reach the upstream, which would refuse five', async () => {
    anth.script([behave.ok('four')]);
    const many = ['a', 'b', 'c', 'd', 'e'].map((t) => ({
      type: 'text' as const,
      text: t,
      cache_control: eph,
    }));
    const m = await anthropic().messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 50,
      messages: [{ role: 'user', content: many }],
    });
    expect(m.content[0]).toMatchObject({ text: 'four' });
    const blocks = (last(anth).body as { messages: Array<{ content: Array<Record<string, unknown>> }> })
      .messages[0]!.content;
    expect(blocks.map((b) => 'cache_control' in b)).toEqual([false, true, true, true, true]);
  });
});

describe('chat completions with cache_control (LiteLLM convention)', () => {
  const openai = () =>
    new OpenAI({
      baseURL: `${sidecar.url}/v1`,
      apiKey: 'client-key',
      maxRetries: 0,
      defaultHeaders: { 'anthropic-beta': BETAS },
    });
  const messages = [
    { role: 'system', content: [{ type: 'text', text: 'Big cached context.', cache_control: eph }] },
    { role: 'user', content: [{ type: 'text', text: 'hello', cache_control: eph }] },
  ] as unknown as OpenAI.ChatCompletionMessageParam[];

  it('an Anthropic target gets the breakpoints; the client sees cached and written tokens inside prompt_tokens', async () => {
    anth.script([behave.ok('hi', CACHE_USAGE)]);
    const r = await openai().chat.completions.create({ model: 'claude-sonnet-4-5', messages }).withResponse();
    const sent = last(anth).body as { system: unknown; messages: Array<{ content: unknown }> };
    expect(sent.system).toEqual([{ type: 'text', text: 'Big cached context.', cache_control: eph }]);
    expect(sent.messages[0]?.content).toEqual([{ type: 'text', text: 'hello', cache_control: eph }]);
    expect(r.data.usage).toMatchObject({
      prompt_tokens: 1210,
      completion_tokens: 5,
      prompt_tokens_details: { cached_tokens: 1000, cache_creation_tokens: 200 },
    });
    expect(Number(r.response.headers.get('x-tiermesh-cost-usd'))).toBeCloseTo(CACHED_COST, 9);
  });

  it('an OpenAI target gets neither breakpoints nor the anthropic-beta header', async () => {
    oai.script([behave.ok('hi')]);
    await openai().chat.completions.create({ model: 'gpt-small', messages });
    const up = last(oai);
    expect(JSON.stringify(up.body)).not.toContain('cache_control');
    expect(up.headers['anthropic-beta']).toBeUndefined();
    oai.script([behave.ok('hi')]);
    const s = await openai().chat.completions.create({ model: 'gpt-small', messages, stream: true });
    for await (const _ of s);
    expect(JSON.stringify(last(oai).body)).not.toContain('cache_control');
  });

  it('a breakpoint of another type is a 400 naming it, before any upstream', async () => {
    const before = anth.calls.length + oai.calls.length;
    const err = await openai()
      .chat.completions.create({
        model: 'claude-sonnet-4-5',
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'x', cache_control: { type: 'persistent' } }] },
        ] as unknown as OpenAI.ChatCompletionMessageParam[],
      })
      .catch((e: unknown) => e as APIError);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).status).toBe(400);
    expect(String((err as APIError).message)).toContain('cache_control');
    expect(anth.calls.length + oai.calls.length).toBe(before);
  });
});
