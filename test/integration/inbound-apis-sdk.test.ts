/**
 * POST /v1/messages and POST /v1/responses through the real sidecar (routing, budgets, failover, accounting, the
 * simulated provider behind them), spoken to by the real SDKs over real sockets: the official `@anthropic-ai/sdk`
 * and `openai` clients and the Vercel AI SDK (`@ai-sdk/anthropic`, and `@ai-sdk/openai` whose default provider is the
 * Responses API). Each client gets a fetch that records what it sent, so the tests can say what the SDKs put on the
 * wire (anthropic-version, no `store` by default, item references).
 */
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import Anthropic from '@anthropic-ai/sdk';
import { generateText, jsonSchema, streamText, tool } from 'ai';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricSum, startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

const yaml = `
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default, namespace: test }
spec:
  providers:
    - { name: sim, type: simulated, simulated: { latencyMs: 0, tokensPerSecond: 100000 } }
  models:
    - { name: small, targets: [{ provider: sim }], pricing: { inputPerMTok: 1, outputPerMTok: 2 }, contextWindow: 128000 }
    - { name: big, targets: [{ provider: sim }], pricing: { inputPerMTok: 10, outputPerMTok: 20 }, contextWindow: 128000 }
  tiers:
    - { name: cheap, models: [small] }
    - { name: premium, models: [big] }
  classifier: { mode: rules }
`;

const seen: Array<{ url: string; headers: Headers; body: unknown }> = [];
const recording: typeof fetch = async (input, init) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as unknown) : undefined;
  seen.push({ url, headers: new Headers(init?.headers), body });
  return fetch(input, init);
};
const lastPath = () => new URL(seen.at(-1)!.url).pathname;

let sidecar: TestSidecar;
let base: string;

beforeAll(async () => {
  sidecar = await startTestSidecar(yaml);
  base = sidecar.url;
});
afterAll(() => sidecar.close(1000));

const weather = {
  name: 'get_weather',
  description: 'Current weather for a city',
  input_schema: {
    type: 'object' as const,
    properties: { city: { type: 'string' } },
    required: ['city'],
  },
};

describe('@anthropic-ai/sdk against /v1/messages', () => {
  const client = () => new Anthropic({ baseURL: base, apiKey: 'test', maxRetries: 0, fetch: recording });

  it('is routed, served and accounted like chat: x-tiermesh headers, hard prompts to the premium tier, cost booked', async () => {
    const easy = await client()
      .messages.create({ model: 'auto', max_tokens: 32, messages: [{ role: 'user', content: 'hi there' }] })
      .withResponse();
    expect(easy.response.headers.get('x-tiermesh-tier')).toBe('cheap');
    expect(easy.response.headers.get('x-tiermesh-model')).toBe('small');
    expect(Number(easy.response.headers.get('x-tiermesh-cost-usd'))).toBeGreaterThan(0);
    const hard = await client()
      .messages.create({
        model: 'auto',
        max_tokens: 32,
        messages: [{ role: 'user', content: 'Prove step by step that sqrt(2) is irrational' }],
      })
      .withResponse();
    expect(hard.response.headers.get('x-tiermesh-tier')).toBe('premium');
    expect(hard.data.model).toBe('big');
    const metrics = (await sidecar.metrics.text()).body;
    expect(metricSum(metrics, 'tiermesh_cost_usd_total', { route: 'default' })).toBeGreaterThan(0);
  });

  it('messages.countTokens counts the conversation, its system prompt and tools: an estimate, said in a header', async () => {
    const short = await client()
      .messages.countTokens({ model: 'auto', messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    expect(lastPath()).toBe('/v1/messages/count_tokens');
    expect(short.response.headers.get('x-tiermesh-token-count')).toBe('estimate');
    expect(short.data.input_tokens).toBeGreaterThan(0);
    const long = await client().messages.countTokens({
      model: 'auto',
      system: 'You are a careful assistant.',
      messages: [
        { role: 'user', content: 'Explain the history of the printing press in Europe. '.repeat(20) },
        { role: 'assistant', content: 'It began with Gutenberg.' },
        { role: 'user', content: 'And then?' },
      ],
    });
    expect(long.input_tokens).toBeGreaterThan(short.data.input_tokens + 100);
    const withTools = await client().messages.countTokens({
      model: 'auto',
      messages: [{ role: 'user', content: 'hi' }],
      tools: [weather],
    });
    expect(withTools.input_tokens).toBeGreaterThan(short.data.input_tokens);
    // A bad body is the Anthropic SDK's own error type, with the field named.
    const bad = await client()
      .messages.countTokens({ model: 'auto', messages: [] })
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(Anthropic.BadRequestError);
    expect((bad as InstanceType<typeof Anthropic.BadRequestError>).message).toContain('messages');
  });

  it('models.list and models.retrieve answer in the Anthropic shape; an unknown model is its NotFoundError', async () => {
    const ids: string[] = [];
    for await (const m of client().models.list()) {
      expect(m.type).toBe('model');
      expect(typeof m.display_name).toBe('string');
      expect(Number.isNaN(Date.parse(m.created_at))).toBe(false);
      ids.push(m.id);
    }
    expect(ids).toEqual(expect.arrayContaining(['auto', 'default', 'small', 'big']));
    const big = await client().models.retrieve('big');
    expect(big).toMatchObject({ type: 'model', id: 'big', display_name: 'big' });
    const missing = await client()
      .models.retrieve('no-such-model')
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(Anthropic.NotFoundError);
    expect((missing as { error?: { type?: string } }).error?.type).toBe('error');
    // The OpenAI SDK, without anthropic-version, keeps the OpenAI list.
    const openaiList = await new OpenAI({ baseURL: `${base}/v1`, apiKey: 'test' }).models.list();
    expect(openaiList.data.map((m) => m.object)).toContain('model');
  });

  it('messages.create answers text, with the anthropic-version header sent', async () => {
    const m = await client().messages.create({
      model: 'auto',
      max_tokens: 64,
      system: 'Be brief.',
      messages: [{ role: 'user', content: 'Say hello' }],
    });
    expect(m.type).toBe('message');
    expect(m.content[0]?.type).toBe('text');
    expect((m.content[0] as { text: string }).text.length).toBeGreaterThan(0);
    expect(m.stop_reason).toBe('end_turn');
    expect(m.usage.input_tokens).toBeGreaterThan(0);
    expect(seen.at(-1)?.headers.get('anthropic-version')).toBeTruthy();
  });

  it('messages.create with a forced tool answers a tool_use block with an input object, and takes the result back', async () => {
    const m = await client().messages.create({
      model: 'auto',
      max_tokens: 64,
      tools: [weather],
      tool_choice: { type: 'tool', name: 'get_weather' },
      messages: [{ role: 'user', content: 'Weather in Oslo?' }],
    });
    expect(m.stop_reason).toBe('tool_use');
    const use = m.content.find((b) => b.type === 'tool_use');
    expect(use).toMatchObject({ type: 'tool_use', name: 'get_weather' });
    expect(typeof (use as { input: { city?: unknown } }).input.city).toBe('string');
    const next = await client().messages.create({
      model: 'auto',
      max_tokens: 64,
      tools: [weather],
      messages: [
        { role: 'user', content: 'Weather in Oslo?' },
        { role: 'assistant', content: m.content },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: (use as { id: string }).id, content: '18C and sunny' },
          ],
        },
      ],
    });
    expect(next.content.some((b) => b.type === 'text')).toBe(true);
  });

  it('messages.stream assembles text and a streamed tool call into the final message', async () => {
    const text = await client()
      .messages.stream({
        model: 'auto',
        max_tokens: 64,
        messages: [{ role: 'user', content: 'Count to three' }],
      })
      .finalMessage();
    expect((text.content[0] as { text: string }).text.length).toBeGreaterThan(0);
    expect(text.usage.output_tokens).toBeGreaterThan(0);
    const tools = await client()
      .messages.stream({
        model: 'auto',
        max_tokens: 64,
        tools: [weather],
        tool_choice: { type: 'any' },
        messages: [{ role: 'user', content: 'Weather in Oslo?' }],
      })
      .finalMessage();
    expect(tools.stop_reason).toBe('tool_use');
    const use = tools.content.find((b) => b.type === 'tool_use') as { input: { city?: unknown } };
    expect(typeof use.input.city).toBe('string');
  });

  it('bad input is an Anthropic-shaped 400 naming the field', async () => {
    const err = await client()
      .messages.create({ model: 'auto', messages: [{ role: 'user', content: 'hi' }] } as never)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    const body = (err as InstanceType<typeof Anthropic.BadRequestError>).error as {
      type: string;
      error: { type: string; message: string };
    };
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toContain('max_tokens');
  });
});

describe('openai SDK against /v1/responses', () => {
  const client = () => new OpenAI({ baseURL: `${base}/v1`, apiKey: 'test', maxRetries: 0, fetch: recording });

  it('responses.create with a string input answers output_text', async () => {
    const r = await client().responses.create({
      model: 'auto',
      input: 'Say hello',
      instructions: 'Be brief.',
    });
    expect(r.status).toBe('completed');
    expect(r.output_text.length).toBeGreaterThan(0);
    expect(r.usage?.input_tokens).toBeGreaterThan(0);
    // What the SDK sends by default: no `store` at all (the API defaults it to true server-side).
    expect(Object.keys(seen.at(-1)!.body as object).sort()).toEqual(['input', 'instructions', 'model']);
    const stored = await client().responses.create({ model: 'auto', input: 'Say hello', store: true });
    expect(stored.status).toBe('completed');
    expect((stored as { store?: unknown }).store).toBe(false);
  });

  it('responses.stream assembles a streamed function call', async () => {
    const final = await client()
      .responses.stream({
        model: 'auto',
        input: 'Weather in Oslo?',
        tools: [{ type: 'function', name: 'get_weather', parameters: weather.input_schema, strict: false }],
        tool_choice: 'required',
      })
      .finalResponse();
    const call = final.output.find((o) => o.type === 'function_call') as { name: string; arguments: string };
    expect(call.name).toBe('get_weather');
    expect(typeof (JSON.parse(call.arguments) as { city?: unknown }).city).toBe('string');
  });

  it('responses.create honours a JSON schema format and a required function tool', async () => {
    const schema = {
      type: 'object',
      properties: { answer: { type: 'string' }, confidence: { type: 'number' } },
      required: ['answer', 'confidence'],
      additionalProperties: false,
    };
    const r = await client().responses.create({
      model: 'auto',
      input: 'Capital of France?',
      text: { format: { type: 'json_schema', name: 'answer', schema, strict: true } },
    });
    const parsed = JSON.parse(r.output_text) as { answer: unknown; confidence: unknown };
    expect(typeof parsed.answer).toBe('string');
    expect(typeof parsed.confidence).toBe('number');
    const tools = await client().responses.create({
      model: 'auto',
      input: [{ role: 'user', content: 'Weather in Oslo?' }],
      tools: [{ type: 'function', name: 'get_weather', parameters: weather.input_schema, strict: false }],
      tool_choice: 'required',
    });
    const call = tools.output.find((o) => o.type === 'function_call');
    expect(call).toMatchObject({ type: 'function_call', name: 'get_weather' });
    const follow = await client().responses.create({
      model: 'auto',
      input: [
        { role: 'user', content: 'Weather in Oslo?' },
        call as never,
        { type: 'function_call_output', call_id: (call as { call_id: string }).call_id, output: '18C' },
      ],
      tools: [{ type: 'function', name: 'get_weather', parameters: weather.input_schema, strict: false }],
    });
    expect(follow.status).toBe('completed');
  });

  it('responses.stream delivers the typed events and a final response', async () => {
    const stream = client().responses.stream({ model: 'auto', input: 'Count to three' });
    const types = new Set<string>();
    let deltas = '';
    for await (const e of stream) {
      types.add(e.type);
      if (e.type === 'response.output_text.delta') deltas += e.delta;
    }
    const final = await stream.finalResponse();
    expect(final.output_text).toBe(deltas);
    for (const t of [
      'response.created',
      'response.in_progress',
      'response.output_text.done',
      'response.completed',
    ])
      expect(types.has(t)).toBe(true);
  });

  it('previous_response_id is a 400 naming the field; bad input too', async () => {
    const err = await client()
      .responses.create({ model: 'auto', input: 'x', previous_response_id: 'resp_1' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('previous_response_id');
    const bad = await client()
      .responses.create({ model: 'auto', input: [{ type: 'function_call_output', output: 'x' }] } as never)
      .catch((e: unknown) => e);
    expect((bad as InstanceType<typeof OpenAI.BadRequestError>).status).toBe(400);
    expect((bad as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('input[0].call_id');
  });
});

describe('the other endpoints', () => {
  const client = () => new OpenAI({ baseURL: `${base}/v1`, apiKey: 'test', maxRetries: 0, fetch: recording });

  it('GET /v1/models/{id} answers a served model and 404s one that is not', async () => {
    expect(await client().models.retrieve('small')).toMatchObject({
      id: 'small',
      object: 'model',
      owned_by: 'sim',
    });
    expect(await client().models.retrieve('auto')).toMatchObject({ id: 'auto' });
    const err = await client()
      .models.retrieve('gpt-9')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('/v1/completions is a 404 that names the supported endpoints', async () => {
    const err = await client()
      .completions.create({ model: 'auto', prompt: 'hi' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as Error).message).toContain('POST /v1/chat/completions');
    expect((err as Error).message).toContain('POST /v1/messages');
  });

  it('GET /v1/messages is a 405 in the Anthropic shape', async () => {
    const res = await fetch(`${base}/v1/messages`);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
  });
});

describe('Vercel AI SDK', () => {
  it('@ai-sdk/openai default provider (Responses): generateText, streamText and a multi-turn follow-up', async () => {
    const openai = createOpenAI({ baseURL: `${base}/v1`, apiKey: 'test', fetch: recording });
    const first = await generateText({ model: openai('auto'), prompt: 'Say hello' });
    expect(first.text.length).toBeGreaterThan(0);
    expect(lastPath()).toBe('/v1/responses');
    // The follow-up carries the first answer as an item_reference (the SDK's default, store: true).
    const second = await generateText({
      model: openai('auto'),
      messages: [
        ...[{ role: 'user' as const, content: 'Say hello' }],
        ...first.response.messages,
        { role: 'user', content: 'Again' },
      ],
    });
    expect(second.text.length).toBeGreaterThan(0);
    const input = (seen.at(-1)!.body as { input: Array<{ type?: string }> }).input;
    expect(input.some((i) => i.type === 'item_reference')).toBe(true);
    const streamed = streamText({ model: openai('auto'), prompt: 'Count to three' });
    expect((await streamed.text).length).toBeGreaterThan(0);
  });

  it('@ai-sdk/openai tool calling', async () => {
    const openai = createOpenAI({ baseURL: `${base}/v1`, apiKey: 'test', fetch: recording });
    const r = await generateText({
      model: openai('auto'),
      prompt: 'Weather in Oslo?',
      tools: {
        get_weather: tool({
          description: 'weather',
          inputSchema: jsonSchema<{ city: string }>(weather.input_schema),
        }),
      },
      toolChoice: 'required',
    });
    expect(r.toolCalls[0]?.toolName).toBe('get_weather');
    expect(typeof (r.toolCalls[0]!.input as { city?: unknown }).city).toBe('string');
  });

  it('@ai-sdk/anthropic: generateText, streamText and tool calling', async () => {
    const anthropic = createAnthropic({ baseURL: `${base}/v1`, apiKey: 'test', fetch: recording });
    const r = await generateText({ model: anthropic('auto'), prompt: 'Say hello' });
    expect(r.text.length).toBeGreaterThan(0);
    expect(lastPath()).toBe('/v1/messages');
    const s = streamText({ model: anthropic('auto'), prompt: 'Count to three' });
    expect((await s.text).length).toBeGreaterThan(0);
    const t = await generateText({
      model: anthropic('auto'),
      prompt: 'Weather in Oslo?',
      tools: {
        get_weather: tool({
          description: 'weather',
          inputSchema: jsonSchema<{ city: string }>(weather.input_schema),
        }),
      },
      toolChoice: 'required',
    });
    expect(t.toolCalls[0]?.toolName).toBe('get_weather');
    const st = streamText({
      model: anthropic('auto'),
      prompt: 'Weather in Oslo?',
      tools: {
        get_weather: tool({
          description: 'weather',
          inputSchema: jsonSchema<{ city: string }>(weather.input_schema),
        }),
      },
      toolChoice: 'required',
    });
    const calls = await st.toolCalls;
    expect(typeof (calls[0]!.input as { city?: unknown }).city).toBe('string');
  });

  it('@ai-sdk/openai streamText with a tool call', async () => {
    const openai = createOpenAI({ baseURL: `${base}/v1`, apiKey: 'test', fetch: recording });
    const st = streamText({
      model: openai('auto'),
      prompt: 'Weather in Oslo?',
      tools: {
        get_weather: tool({
          description: 'weather',
          inputSchema: jsonSchema<{ city: string }>(weather.input_schema),
        }),
      },
      toolChoice: 'required',
    });
    const calls = await st.toolCalls;
    expect(calls[0]?.toolName).toBe('get_weather');
    expect(typeof (calls[0]!.input as { city?: unknown }).city).toBe('string');
  });
});
