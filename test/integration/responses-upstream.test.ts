/**
 * Targets called on OpenAI's Responses API (POST /v1/responses): a Responses-only model (gpt-5-codex) on an openai
 * provider, behind the real sidecar, spoken to by the real SDKs (openai chat.completions and responses,
 * @anthropic-ai/sdk) over real sockets. The OpenAI fixture answers /v1/responses in the API's own wire format; a
 * second fixture speaks chat completions, the failover target.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ChatCompletionChunk } from '../../src/api/openai.js';
import { keySource } from '../../src/providers/keys.js';
import { createOpenAIResponsesAdapter } from '../../src/providers/openai-responses.js';
import { ProviderError, type UpstreamCall } from '../../src/providers/types.js';
import { behave, type Fixture, startOpenAIFixture } from '../fixtures/providers/index.js';
import { toolCalls } from '../fixtures/providers/openai.js';
import { metricSum, startTestSidecar, type TestSidecar, testKeyEnv } from '../helpers/sidecar.js';

const OPENAI_KEY = 'sk-test-openai-0123456789';
const usage = { prompt: 200, completion: 40 };
// gpt-5-codex list price: $1.25 / $10 per 1M tokens.
const COST = (200 * 1.25 + 40 * 10) / 1e6;

let up: Fixture;
let backup: Fixture;
let sidecar: TestSidecar;

beforeAll(async () => {
  up = await startOpenAIFixture({ apiKey: OPENAI_KEY });
  backup = await startOpenAIFixture();
  const yaml = `
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default, namespace: test }
spec:
  providers:
    - { name: oa, type: openai, baseURL: "${up.baseURL}", apiKey: { env: OPENAI_KEY } }
    - { name: backup, type: openai-compatible, baseURL: "${backup.baseURL}" }
  models:
    - name: codex
      targets: [{ provider: oa, model: gpt-5-codex }, { provider: backup, model: gpt-4o-mini }]
      pricing: { inputPerMTok: 1.25, outputPerMTok: 10 }
      contextWindow: 400000
  tiers:
    - { name: cheap, models: [codex] }
    - { name: premium, models: [codex] }
  classifier: { mode: rules }
  resilience: { retries: { attempts: 0 } }
`;
  sidecar = await startTestSidecar(yaml, { env: { OPENAI_KEY } });
});
afterAll(async () => {
  await sidecar.close(1000);
  await up.close();
  await backup.close();
});
afterEach(() => {
  up.calls.length = 0;
  backup.calls.length = 0;
});

const weather = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};
const parisCall = [{ id: 'call_paris', name: 'get_weather', arguments: '{"city":"Paris"}' }];
/** A chat stream's text, asked for with a plain prompt. */
async function streamedText(client: OpenAI): Promise<string> {
  const stream = await client.chat.completions.create({
    model: 'auto',
    stream: true,
    messages: [{ role: 'user', content: 'hi' }],
  });
  let text = '';
  for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
  return text;
}
const sent = (i = 0) => up.calls[i]!.body as Record<string, unknown>;

describe('openai chat.completions routed to a Responses-only target', () => {
  const client = () => new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'test', maxRetries: 0 });

  it('is sent as a Responses request and answered as a chat.completion, usage and cost booked', async () => {
    up.script([behave.ok('Hello from codex.', usage)]);
    const before = metricSum((await sidecar.metrics.text()).body, 'tiermesh_cost_usd_total', {
      route: 'default',
    });
    const { data, response } = await client()
      .chat.completions.create({
        model: 'auto',
        max_tokens: 300,
        temperature: 0.3,
        messages: [
          { role: 'system', content: 'You are terse.' },
          { role: 'user', content: 'Say hello' },
        ],
      })
      .withResponse();
    expect(up.calls[0]!.path).toBe('/v1/responses');
    expect(up.calls[0]!.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
    expect(sent()).toMatchObject({
      model: 'gpt-5-codex',
      instructions: 'You are terse.',
      input: [{ type: 'message', role: 'user', content: 'Say hello' }],
      max_output_tokens: 300,
      temperature: 0.3,
      store: false,
      stream: false,
    });
    expect(data.choices[0]!.message.content).toBe('Hello from codex.');
    expect(data.choices[0]!.finish_reason).toBe('stop');
    expect(data.usage).toMatchObject({ prompt_tokens: 200, completion_tokens: 40, total_tokens: 240 });
    expect(Number(response.headers.get('x-tiermesh-cost-usd'))).toBeCloseTo(COST, 9);
    const after = metricSum((await sidecar.metrics.text()).body, 'tiermesh_cost_usd_total', {
      route: 'default',
    });
    expect(after - before).toBeCloseTo(COST, 9);
  });

  it('round-trips a tool call: function_call out, function_call_output back', async () => {
    up.script([toolCalls(parisCall, { finishReason: 'stop' }), behave.ok('18C and sunny.')]);
    const first = await client().chat.completions.create({
      model: 'auto',
      tools: [weather],
      tool_choice: 'auto',
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
    });
    const msg = first.choices[0]!.message;
    expect(first.choices[0]!.finish_reason).toBe('tool_calls');
    expect(msg.tool_calls).toEqual([
      {
        id: 'call_paris',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
      },
    ]);
    expect(sent(0)['tools']).toEqual([
      {
        type: 'function',
        name: 'get_weather',
        description: 'Current weather for a city',
        parameters: weather.function.parameters,
        strict: false,
      },
    ]);
    const second = await client().chat.completions.create({
      model: 'auto',
      tools: [weather],
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        msg,
        { role: 'tool', tool_call_id: 'call_paris', content: '18C, sunny' },
      ],
    });
    expect(second.choices[0]!.message.content).toBe('18C and sunny.');
    expect(sent(1)['input']).toEqual([
      { type: 'message', role: 'user', content: 'Weather in Paris?' },
      { type: 'function_call', call_id: 'call_paris', name: 'get_weather', arguments: '{"city":"Paris"}' },
      { type: 'function_call_output', call_id: 'call_paris', output: '18C, sunny' },
    ]);
  });

  it('streams text and tool calls as chat chunks, with usage at the end', async () => {
    up.script([behave.ok('one two three', usage), toolCalls(parisCall)]);
    const stream = await client().chat.completions.create({
      model: 'auto',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'Count' }],
    });
    let text = '';
    let finish: string | null = null;
    let seenUsage: OpenAI.CompletionUsage | undefined;
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
      if (c.usage) seenUsage = c.usage;
    }
    expect(sent()['stream']).toBe(true);
    expect(text).toBe('one two three');
    expect(finish).toBe('stop');
    expect(seenUsage).toMatchObject({ prompt_tokens: 200, completion_tokens: 40 });

    const tools = await client().chat.completions.create({
      model: 'auto',
      stream: true,
      tools: [weather],
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
    });
    const args: string[] = [];
    let id: string | undefined;
    for await (const c of tools) {
      for (const t of c.choices[0]?.delta.tool_calls ?? []) {
        id ??= t.id;
        args.push(t.function?.arguments ?? '');
      }
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    expect(id).toBe('call_paris');
    expect(JSON.parse(args.join(''))).toEqual({ city: 'Paris' });
    expect(finish).toBe('tool_calls');
    expect(up.calls.map((c) => c.path)).toEqual(['/v1/responses', '/v1/responses']);
  });

  it('refuses what one Response cannot carry with a 400 naming the field, without trying the target', async () => {
    const err = await client()
      .chat.completions.create({ model: 'auto', n: 2, messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).message).toMatch(/\bn: /);
    expect(up.calls).toHaveLength(0);
  });

  it('fails over to the chat-completions target on a 5xx, JSON and stream', async () => {
    up.script([behave.error(500), behave.error(503)]);
    backup.script([behave.ok('from the backup'), behave.ok('streamed backup')]);
    const whole = await client()
      .chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    expect(whole.data.choices[0]!.message.content).toBe('from the backup');
    expect(whole.response.headers.get('x-tiermesh-provider')).toBe('backup');
    expect(backup.calls[0]!.path).toBe('/v1/chat/completions');
    expect((backup.calls[0]!.body as { messages?: unknown }).messages).toBeDefined();
    const text = await streamedText(client());
    expect(text).toBe('streamed backup');
    expect(up.calls.map((c) => c.path)).toEqual(['/v1/responses', '/v1/responses']);
  });

  it('keeps a 429 a rate limit and a stream error event its class, failing over', async () => {
    up.script([
      behave.rateLimited('0'),
      { ...behave.ok('never seen'), breakAfterChunks: 2, streamErrorType: 'rate_limit_exceeded' },
    ]);
    backup.script([behave.ok('after 429'), behave.ok('after error event')]);
    const whole = await client().chat.completions.create({
      model: 'auto',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(whole.choices[0]!.message.content).toBe('after 429');
    const text = await streamedText(client());
    expect(text).toBe('after error event');
    const metrics = (await sidecar.metrics.text()).body;
    expect(metricSum(metrics, 'tiermesh_fallbacks_total', { reason: 'rate_limited' })).toBeGreaterThanOrEqual(
      2,
    );
  });
});

describe('openai responses client routed to a Responses-only target', () => {
  const client = () => new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'test', maxRetries: 0 });

  it('answers JSON and streams, with usage', async () => {
    up.script([behave.ok('Responses in, responses out.', usage), behave.ok('streamed words here', usage)]);
    const r = await client().responses.create({
      model: 'auto',
      instructions: 'Be kind.',
      input: 'hello',
    });
    expect(r.output_text).toBe('Responses in, responses out.');
    expect(r.usage).toMatchObject({ input_tokens: 200, output_tokens: 40 });
    expect(sent()).toMatchObject({ instructions: 'Be kind.', store: false });
    const stream = await client().responses.create({ model: 'auto', input: 'hello', stream: true });
    let text = '';
    let done: OpenAI.Responses.Response | undefined;
    for await (const ev of stream) {
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      if (ev.type === 'response.completed') done = ev.response;
    }
    expect(text).toBe('streamed words here');
    expect(done?.usage).toMatchObject({ input_tokens: 200, output_tokens: 40 });
    expect(up.calls.map((c) => c.path)).toEqual(['/v1/responses', '/v1/responses']);
  });
});

describe('@anthropic-ai/sdk routed to a Responses-only target', () => {
  const client = () => new Anthropic({ baseURL: sidecar.url, apiKey: 'test', maxRetries: 0 });

  it('gets tool_use from a function_call, and text in a stream', async () => {
    up.script([toolCalls(parisCall), behave.ok('Sunny in Paris.', usage)]);
    const msg = await client().messages.create({
      model: 'auto',
      max_tokens: 200,
      tools: [
        {
          name: 'get_weather',
          description: 'Current weather for a city',
          input_schema: { type: 'object', properties: { city: { type: 'string' } } },
        },
      ],
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
    });
    expect(msg.stop_reason).toBe('tool_use');
    expect(msg.content.find((b) => b.type === 'tool_use')).toMatchObject({
      id: 'call_paris',
      name: 'get_weather',
      input: { city: 'Paris' },
    });
    expect(sent(0)['max_output_tokens']).toBe(200);
    const stream = client().messages.stream({
      model: 'auto',
      max_tokens: 200,
      messages: [{ role: 'user', content: 'Weather?' }],
    });
    let text = '';
    stream.on('text', (t) => {
      text += t;
    });
    const final = await stream.finalMessage();
    expect(text).toBe('Sunny in Paris.');
    expect(final.usage.output_tokens).toBe(40);
  });
});

describe('the Responses adapter against the fixture: failures keep their class', () => {
  const adapter = () =>
    createOpenAIResponsesAdapter(
      { name: 'oa', type: 'openai', baseURL: up.baseURL, apiKey: { env: 'OPENAI_KEY' } },
      keySource({ env: 'OPENAI_KEY' }, testKeyEnv({ OPENAI_KEY })),
    );
  const call = (stream = false): UpstreamCall => ({
    body: {
      model: 'gpt-5-codex',
      messages: [{ role: 'user', content: 'hi' }],
      ...(stream ? { stream } : {}),
    },
    signal: new AbortController().signal,
    firstByteTimeoutMs: 300,
  });
  const failure = async (p: Promise<unknown>): Promise<ProviderError> => {
    const e = await p.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(ProviderError);
    return e as ProviderError;
  };
  const drain = async (s: AsyncIterable<ChatCompletionChunk>) => {
    const out: ChatCompletionChunk[] = [];
    for await (const c of s) out.push(c);
    return out;
  };

  it('JSON: 429 with Retry-After, 503 overload, 200 with an error body, garbage, a hang', async () => {
    up.script([
      behave.rateLimited('3'),
      behave.error(503),
      { ...behave.ok(), errorAt200: true },
      behave.malformed(),
      behave.hang(),
    ]);
    const limited = await failure(adapter().complete(call()));
    expect([limited.reason, limited.retryAfter]).toEqual(['rate_limited', 3]);
    const over = await failure(adapter().complete(call()));
    expect([over.reason, over.overloaded]).toEqual(['server_error', true]);
    expect((await failure(adapter().complete(call()))).reason).toBe('server_error');
    expect((await failure(adapter().complete(call()))).reason).toBe('bad_response');
    expect((await failure(adapter().complete(call()))).reason).toBe('timeout');
  });

  it('stream: an overload event, a cut connection, an end before response.completed, garbage', async () => {
    up.script([
      { ...behave.ok('a b c'), breakAfterChunks: 3, streamErrorType: 'overloaded' },
      { ...behave.ok('a b c'), breakAfterChunks: 5 },
      { ...behave.ok('a b c'), endAfterChunks: 5 },
      { ...behave.ok(), malformed: true },
    ]);
    const over = await failure(drain(adapter().stream(call(true))));
    expect([over.reason, over.overloaded]).toEqual(['server_error', true]);
    // As on the chat wire (providers.test.ts): a cut socket is a connection failure, a clean early end a broken stream.
    expect((await failure(drain(adapter().stream(call(true))))).reason).toBe('connection');
    expect((await failure(drain(adapter().stream(call(true))))).reason).toBe('stream_broken');
    expect((await failure(drain(adapter().stream(call(true))))).reason).toBe('bad_response');
  });
});
