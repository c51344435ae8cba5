/**
 * The Anthropic Messages and Responses inbound translations, spoken to by the real SDKs over real sockets: the
 * official `@anthropic-ai/sdk` and `openai` clients and the Vercel AI SDK (`@ai-sdk/anthropic`, and `@ai-sdk/openai`
 * whose default provider is the Responses API). The server is the translation layer (src/sidecar/apis) in front of
 * the real `simulated` provider adapter: this checks that every shape and event sequence is one the SDKs accept.
 * Routing, budgets and failover are the sidecar pipeline's and are not exercised here.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import Anthropic from '@anthropic-ai/sdk';
import { generateText, jsonSchema, streamText, tool } from 'ai';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toTiermeshError } from '../../src/errors.js';
import { createSimulatedAdapter } from '../../src/providers/simulated.js';
import { anthropicMessagesApi, type InboundApi, responsesApi } from '../../src/sidecar/apis/inbound-api.js';
import { ItemMemory } from '../../src/sidecar/apis/item-memory.js';
import { readBody } from '../../src/sidecar/body.js';
import { parseJsonRequest } from '../../src/sidecar/parse-request.js';

const sim = createSimulatedAdapter({
  name: 'sim',
  type: 'simulated',
  simulated: { latencyMs: 0, tokensPerSecond: 100_000 },
});
const memory = new ItemMemory();
let n = 0;
const apis: Record<string, InboundApi<never>> = {
  '/v1/messages': anthropicMessagesApi as InboundApi<never>,
  '/v1/responses': responsesApi({ memory, now: Date.now, newId: (p) => `${p}_${++n}` }) as InboundApi<never>,
};
const seen: Array<{ path: string; headers: IncomingMessage['headers']; body: unknown }> = [];

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '').split('?')[0]!;
  const api = apis[path];
  if (!api) {
    res.writeHead(404).end();
    return;
  }
  try {
    const raw = await readBody(req, 1 << 20);
    seen.push({ path, headers: req.headers, body: JSON.parse(raw.toString('utf8')) });
    const request = parseJsonRequest(api.schema, req.headers['content-type'], raw);
    const internal = api.toInternal(request);
    const call = {
      body: { ...internal, model: 'sim-small' },
      signal: new AbortController().signal,
      firstByteTimeoutMs: 5000,
    };
    if (internal.stream) {
      const enc = api.stream(request, 0);
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
      for await (const c of sim.stream(call)) res.write(enc.chunk(c));
      res.end(enc.end());
      return;
    }
    const body = JSON.stringify(api.answer(await sim.complete(call), request));
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  } catch (e) {
    const err = toTiermeshError(e);
    res.writeHead(err.status, { 'content-type': 'application/json' }).end(JSON.stringify(api.errorBody(err)));
  }
}

let server: http.Server;
let base: string;

beforeAll(async () => {
  server = http.createServer((req, res) => void handle(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

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
  const client = () => new Anthropic({ baseURL: base, apiKey: 'test', maxRetries: 0 });

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
    expect(seen.at(-1)?.headers['anthropic-version']).toBeDefined();
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
  const client = () => new OpenAI({ baseURL: `${base}/v1`, apiKey: 'test', maxRetries: 0 });

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

describe('Vercel AI SDK', () => {
  it('@ai-sdk/openai default provider (Responses): generateText, streamText and a multi-turn follow-up', async () => {
    const openai = createOpenAI({ baseURL: `${base}/v1`, apiKey: 'test' });
    const first = await generateText({ model: openai('auto'), prompt: 'Say hello' });
    expect(first.text.length).toBeGreaterThan(0);
    expect(seen.at(-1)?.path).toBe('/v1/responses');
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
    const openai = createOpenAI({ baseURL: `${base}/v1`, apiKey: 'test' });
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
    const anthropic = createAnthropic({ baseURL: `${base}/v1`, apiKey: 'test' });
    const r = await generateText({ model: anthropic('auto'), prompt: 'Say hello' });
    expect(r.text.length).toBeGreaterThan(0);
    expect(seen.at(-1)?.path).toBe('/v1/messages');
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
    const openai = createOpenAI({ baseURL: `${base}/v1`, apiKey: 'test' });
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
