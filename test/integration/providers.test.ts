/** Provider adapters against the wire-format fixtures over real loopback sockets. */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Provider } from '../../src/api/modelroute.js';
import type { ChatCompletionChunk, ChatCompletionRequest } from '../../src/api/openai.js';
import { createAnthropicAdapter } from '../../src/providers/anthropic.js';
import { upstreamAgent } from '../../src/providers/http.js';
import { defaultKeyEnv, keySource } from '../../src/providers/keys.js';
import { createOpenAIAdapter } from '../../src/providers/openai.js';
import { type ProviderAdapter, ProviderError, type UpstreamCall } from '../../src/providers/types.js';
import { toolUse } from '../fixtures/providers/anthropic.js';
import {
  behave,
  type Fixture,
  startAnthropicFixture,
  startOpenAIFixture,
} from '../fixtures/providers/index.js';
import { routeConfig, SIMPLE_PROMPT } from '../helpers/config.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

const OPENAI_KEY = 'sk-test-openai-0123456789';
const ANTHROPIC_KEY = 'sk-ant-test-0123456789';
const env = { OPENAI_KEY, ANTHROPIC_KEY };

const call = (
  body: Partial<ChatCompletionRequest> = {},
  signal = new AbortController().signal,
): UpstreamCall => ({
  body: { model: 'up-model', messages: [{ role: 'user', content: 'Say hi' }], ...body },
  signal,
  firstByteTimeoutMs: 2000,
});

async function collect(it: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const out: ChatCompletionChunk[] = [];
  for await (const c of it) out.push(c);
  return out;
}

async function failure(p: Promise<unknown>): Promise<ProviderError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ProviderError);
    return e as ProviderError;
  }
  throw new Error('expected a ProviderError');
}

const text = (chunks: ChatCompletionChunk[]) => chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');

/**
 * Two streams in a row from a fresh fixture whose response ends (the chunked encoding's last chunk) only after the
 * answer was read to its terminator, as api.openai.com sends it. Returns the connection each came over: the same
 * one when the adapter drained the tail and the keep-alive connection went back to the pool.
 */
async function streamConnections(
  start: () => Promise<Fixture>,
  adapterFor: (up: Fixture) => ProviderAdapter,
): Promise<number[]> {
  const up = await start();
  try {
    const adapter = adapterFor(up);
    for (let i = 0; i < 2; i++) {
      let end!: () => void;
      const holdEnd = new Promise<void>((r) => {
        end = r;
      });
      up.script([{ ...behave.ok('one two'), holdEnd }]);
      expect(text(await collect(adapter.stream(call({ stream: true }))))).toBe('one two');
      end();
      // Until the connection is free for the next call, or gone.
      for (;;) {
        const pool = (upstreamAgent.stats as Record<string, { free: number; connected: number }>)[up.url];
        if (!pool || pool.free > 0 || pool.connected === 0) break;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    return up.calls.map((c) => c.connection);
  } finally {
    await up.close();
  }
}

describe('OpenAI fixture', () => {
  let up: Fixture;
  beforeAll(async () => {
    up = await startOpenAIFixture({ apiKey: OPENAI_KEY, models: ['m1'] });
  });
  afterAll(() => up.close());

  it('is understood by the official OpenAI SDK (JSON, stream, models, errors)', async () => {
    const client = new OpenAI({ apiKey: OPENAI_KEY, baseURL: up.baseURL, maxRetries: 0 });
    up.script([behave.ok('one two', { prompt: 4, completion: 2 }), behave.ok('a b c'), behave.error(500)]);
    const r = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(r.choices[0]?.message.content).toBe('one two');
    expect(r.usage?.total_tokens).toBe(6);
    const s = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'x' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let streamed = '';
    let usage: unknown;
    for await (const c of s) {
      streamed += c.choices[0]?.delta.content ?? '';
      if (c.usage) usage = c.usage;
    }
    expect(streamed).toBe('a b c');
    expect(usage).toMatchObject({ completion_tokens: 3 });
    await expect(
      client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
    ).rejects.toMatchObject({
      status: 500,
      type: 'server_error',
    });
    expect((await client.models.list()).data.map((m) => m.id)).toEqual(['m1']);
  });
});

describe('OpenAI adapter', () => {
  let up: Fixture;
  let openai: ProviderAdapter;
  const provider: Provider = {
    name: 'openai',
    type: 'openai',
    apiKey: { env: 'OPENAI_KEY' },
    headers: { 'x-org': 'acme' },
  };
  beforeAll(async () => {
    up = await startOpenAIFixture({ apiKey: OPENAI_KEY });
    openai = createOpenAIAdapter(
      { ...provider, baseURL: up.baseURL },
      keySource(provider.apiKey, defaultKeyEnv(env)),
    );
  });
  afterAll(() => up.close());

  it('completes, sending the bearer key, extra headers and the body as given', async () => {
    up.script([behave.ok('Hi!', { prompt: 9, completion: 2 })]);
    const r = await openai.complete(call({ temperature: 0.2, seed: 7 }));
    expect(r.choices[0]?.message.content).toBe('Hi!');
    expect(r.usage).toMatchObject({ prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 });
    const sent = up.calls.at(-1)!;
    expect(sent.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
    expect(sent.headers['x-org']).toBe('acme');
    expect(sent.body).toMatchObject({ model: 'up-model', temperature: 0.2, seed: 7, stream: false });
  });

  it('streams, always asking for usage, and ends with a usage chunk', async () => {
    up.script([behave.ok('streamed words here', { prompt: 5, completion: 3 })]);
    const chunks = await collect(openai.stream(call({ stream: true })));
    expect(text(chunks)).toBe('streamed words here');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 3 } });
    expect(up.calls.at(-1)?.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('maps 429 with Retry-After, 500, 400 and malformed JSON', async () => {
    up.script([behave.rateLimited('3'), behave.error(500), behave.error(400), behave.malformed()]);
    expect(await failure(openai.complete(call()))).toMatchObject({
      reason: 'rate_limited',
      status: 429,
      retryAfter: 3,
    });
    expect(await failure(openai.complete(call()))).toMatchObject({ reason: 'server_error', status: 500 });
    expect(await failure(openai.complete(call()))).toMatchObject({ reason: 'client_error', status: 400 });
    expect(await failure(openai.complete(call()))).toMatchObject({ reason: 'bad_response' });
  });

  it('keeps the connection of a stream whose response ends after [DONE] (drained, not destroyed)', async () => {
    const conns = await streamConnections(
      () => startOpenAIFixture({ apiKey: OPENAI_KEY }),
      (f) =>
        createOpenAIAdapter(
          { ...provider, baseURL: f.baseURL },
          keySource(provider.apiKey, defaultKeyEnv(env)),
        ),
    );
    expect(conns).toEqual([1, 1]);
  });

  it('takes a stream that ends after its finish_reason without [DONE] as complete', async () => {
    up.script([behave.endWithoutDone()]);
    const chunks = await collect(openai.stream(call({ stream: true })));
    expect(chunks.some((c) => c.choices[0]?.finish_reason === 'stop')).toBe(true);
    expect(chunks.at(-1)?.usage).toBeTruthy();
  });

  it('reports a stream cut before its finish_reason or broken, and garbage chunks', async () => {
    up.script([{ endAfterChunks: 2 }, behave.breakAfter(2), { ...behave.ok(), malformed: true }]);
    expect(await failure(collect(openai.stream(call({ stream: true }))))).toMatchObject({
      reason: 'stream_broken',
    });
    expect(await failure(collect(openai.stream(call({ stream: true }))))).toMatchObject({
      reason: 'connection',
    });
    expect(await failure(collect(openai.stream(call({ stream: true }))))).toMatchObject({
      reason: 'bad_response',
    });
  });

  it('times out on a slow first byte, for JSON and for streams', async () => {
    up.script([
      behave.slowFirstByte(1500),
      { ...behave.ok('a b'), chunkDelayMs: 1000 },
      { ...behave.ok('a b'), chunkDelayMs: 400 },
    ]);
    const quick = { firstByteTimeoutMs: 200 };
    const e1 = await failure(openai.complete({ ...call(), ...quick }));
    expect(e1.reason).toBe('timeout');
    // Headers and the role chunk come at once, the first text late: a role chunk is not output, the deadline holds.
    const e2 = await failure(collect(openai.stream({ ...call({ stream: true }), ...quick })));
    expect(e2.reason).toBe('timeout');
    // The first text in time, the rest later than the deadline: the first text disarmed it.
    const chunks = await collect(openai.stream({ ...call({ stream: true }), firstByteTimeoutMs: 1_000 }));
    expect(text(chunks)).toBe('a b');
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
  });

  it('never puts a key in an error message, even when the upstream echoes it', async () => {
    up.script([behave.error(401, { errorMessage: `Incorrect API key provided: ${OPENAI_KEY}.` })]);
    const e = await failure(openai.complete(call()));
    expect(e.reason).toBe('auth');
    expect(e.message).not.toContain(OPENAI_KEY);
    expect(JSON.stringify(e)).not.toContain(OPENAI_KEY);

    const wrong = createOpenAIAdapter(
      { ...provider, baseURL: up.baseURL, apiKey: { env: 'WRONG' } },
      keySource({ env: 'WRONG' }, defaultKeyEnv({ WRONG: 'sk-wrong-key-0123456789' })),
    );
    const e2 = await failure(wrong.complete(call()));
    expect(e2.reason).toBe('auth');
    expect(e2.message).not.toContain('sk-wrong');
    expect(e2.message).not.toContain('6789');
  });

  it('is unavailable without calling anyone when its key cannot be resolved', async () => {
    const before = up.requests.length;
    const nokey = createOpenAIAdapter(
      { ...provider, baseURL: up.baseURL, apiKey: { env: 'UNSET_KEY' } },
      keySource({ env: 'UNSET_KEY' }, defaultKeyEnv({})),
    );
    expect(nokey.unavailable?.()).toContain('UNSET_KEY is not set');
    expect(await failure(nokey.complete(call()))).toMatchObject({ reason: 'unavailable' });
    expect(up.requests.length).toBe(before);
  });

  it('reports a refused connection as connection', async () => {
    const dead = await startOpenAIFixture();
    const url = dead.baseURL;
    await dead.close();
    const a = createOpenAIAdapter({ name: 'dead', type: 'openai-compatible', baseURL: url }, () => ({
      ok: false,
      why: '',
    }));
    expect(await failure(a.complete(call()))).toMatchObject({ reason: 'connection' });
  });
});

describe('Anthropic adapter', () => {
  let up: Fixture;
  let claude: ProviderAdapter;
  beforeAll(async () => {
    up = await startAnthropicFixture({ apiKey: ANTHROPIC_KEY });
    const p: Provider = {
      name: 'anthropic',
      type: 'anthropic',
      baseURL: up.baseURL,
      apiKey: { env: 'ANTHROPIC_KEY' },
    };
    claude = createAnthropicAdapter(p, keySource(p.apiKey, defaultKeyEnv(env)));
  });
  afterAll(() => up.close());

  const conversation: Partial<ChatCompletionRequest> = {
    messages: [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'first' },
      { role: 'user', content: 'second' },
      { role: 'assistant', content: 'ok' },
      { role: 'user', content: 'third' },
    ],
    max_tokens: 64,
    stop: ['END', ''],
    temperature: 0.5,
  };

  it('translates the request (headers, system, merged turns) and the answer back', async () => {
    up.script([behave.ok('Bonjour', { prompt: 20, completion: 2 })]);
    const r = await claude.complete(call(conversation));
    const sent = up.calls.at(-1)!;
    expect(sent.headers['x-api-key']).toBe(ANTHROPIC_KEY);
    expect(sent.headers['anthropic-version']).toBe('2023-06-01');
    expect(sent.headers.authorization).toBeUndefined();
    expect(sent.body).toMatchObject({
      model: 'up-model',
      system: 'You are terse.',
      max_tokens: 64,
      // An empty stop sequence stops nothing: not sent.
      stop_sequences: ['END'],
      temperature: 0.5,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'first' },
            { type: 'text', text: 'second' },
          ],
        },
        { role: 'assistant', content: [{ type: 'text', text: 'ok' }] },
        { role: 'user', content: [{ type: 'text', text: 'third' }] },
      ],
    });
    expect(r).toMatchObject({ object: 'chat.completion', model: 'up-model' });
    expect(r.choices[0]).toMatchObject({ message: { content: 'Bonjour' }, finish_reason: 'stop' });
    expect(r.usage).toEqual({ prompt_tokens: 20, completion_tokens: 2, total_tokens: 22 });
    // Anthropic rejects whitespace-only stop sequences: declined (failover finds another target), never dropped.
    const calls = up.calls.length;
    const e = await failure(claude.complete(call({ ...conversation, stop: ['END', '  '] })));
    expect(e.reason).toBe('unavailable');
    expect(e.message).toContain('whitespace-only stop sequences');
    expect(up.calls.length).toBe(calls);
  });

  it('streams event by event into OpenAI chunks, usage last', async () => {
    up.script([{ ...behave.ok('one two three', { prompt: 11, completion: 3 }), finishReason: 'max_tokens' }]);
    const chunks = await collect(claude.stream(call({ ...conversation, stream: true })));
    expect(text(chunks)).toBe('one two three');
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('length');
    expect(chunks.at(-1)).toMatchObject({
      choices: [],
      usage: { prompt_tokens: 11, completion_tokens: 3, total_tokens: 14 },
    });
    expect(up.calls.at(-1)?.body).toMatchObject({ stream: true });
  });

  it('keeps the connection of a stream whose response ends after message_stop', async () => {
    const conns = await streamConnections(
      () => startAnthropicFixture({ apiKey: ANTHROPIC_KEY }),
      (f) => {
        const p: Provider = {
          name: 'anthropic',
          type: 'anthropic',
          baseURL: f.baseURL,
          apiKey: { env: 'ANTHROPIC_KEY' },
        };
        return createAnthropicAdapter(p, keySource(p.apiKey, defaultKeyEnv(env)));
      },
    );
    expect(conns).toEqual([1, 1]);
  });

  it('maps rate_limit_error, overloaded_error (529), invalid requests and mid-stream error events', async () => {
    up.script([
      behave.rateLimited('2'),
      behave.error(529),
      { ...behave.ok(), breakAfterChunks: 1, streamErrorType: 'overloaded_error' },
    ]);
    expect(await failure(claude.complete(call()))).toMatchObject({ reason: 'rate_limited', retryAfter: 2 });
    expect(await failure(claude.complete(call()))).toMatchObject({ reason: 'server_error', status: 529 });
    const chunks: ChatCompletionChunk[] = [];
    const e = await failure(
      (async () => {
        for await (const c of claude.stream(call({ stream: true }))) chunks.push(c);
      })(),
    );
    expect(e.reason).toBe('server_error');
    // The error came right after message_start: its role chunk is no output, so nothing was yielded before it.
    expect(chunks.length).toBe(0);
    up.script([behave.error(400)]);
    expect(await failure(claude.complete(call()))).toMatchObject({
      reason: 'client_error',
      status: 400,
    });
  });

  it('fixture rejects what the real API rejects: untranslated OpenAI bodies, missing version header', async () => {
    const post = (headers: Record<string, string>, body: unknown) =>
      fetch(`${up.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': ANTHROPIC_KEY, ...headers },
        body: JSON.stringify(body),
      });
    const openaiShaped = {
      model: 'm',
      max_tokens: 5,
      messages: [
        { role: 'system', content: 'x' },
        { role: 'user', content: 'y' },
      ],
    };
    const r1 = await post({ 'anthropic-version': '2023-06-01' }, openaiShaped);
    expect(r1.status).toBe(400);
    expect(await r1.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    const r2 = await post({}, { model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'y' }] });
    expect(r2.status).toBe(400);
  });

  const weatherTool = {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Current weather for a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  };

  it('translates tools out and tool_use answers back (JSON), and the follow-up turn with results is accepted', async () => {
    up.script([
      toolUse([
        { id: 'toolu_paris', name: 'get_weather', input: { city: 'Paris' } },
        { id: 'toolu_oslo', name: 'get_weather', input: { city: 'Oslo' } },
      ]),
      behave.ok('Paris is warmer.'),
    ]);
    const first = await claude.complete(
      call({
        messages: [{ role: 'user', content: 'Weather in Paris and Oslo?' }],
        tools: [weatherTool],
        tool_choice: 'required',
      }),
    );
    expect(up.calls.at(-1)?.body).toMatchObject({
      tools: [{ name: 'get_weather', input_schema: weatherTool.function.parameters }],
      tool_choice: { type: 'any' },
    });
    const choice = first.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls).toEqual([
      {
        id: 'toolu_paris',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
      },
      { id: 'toolu_oslo', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
    ]);

    // The caller sends the tool calls back with their results, OpenAI style; the fixture checks the pairing.
    const second = await claude.complete(
      call({
        messages: [
          { role: 'user', content: 'Weather in Paris and Oslo?' },
          { role: 'assistant', content: null, tool_calls: choice.message.tool_calls },
          { role: 'tool', tool_call_id: 'toolu_paris', content: '18C' },
          { role: 'tool', tool_call_id: 'toolu_oslo', content: '4C' },
        ],
        tools: [weatherTool],
      }),
    );
    expect(second.choices[0]?.message.content).toBe('Paris is warmer.');
    expect((up.calls.at(-1)!.body as { messages: unknown[] }).messages.at(-1)).toEqual({
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'toolu_paris', content: '18C' },
        { type: 'tool_result', tool_use_id: 'toolu_oslo', content: '4C' },
      ],
    });
  });

  it('streams tool calls as OpenAI tool_call deltas whose arguments reassemble to the input', async () => {
    up.script([
      toolUse(
        [{ id: 'toolu_s', name: 'get_weather', input: { city: 'Reykjavík', units: 'C' } }],
        'Let me look.',
      ),
    ]);
    const chunks = await collect(
      claude.stream(
        call({
          stream: true,
          messages: [{ role: 'user', content: 'Weather in Reykjavík?' }],
          tools: [weatherTool],
          tool_choice: { type: 'function', function: { name: 'get_weather' } },
        }),
      ),
    );
    expect(up.calls.at(-1)?.body).toMatchObject({ tool_choice: { type: 'tool', name: 'get_weather' } });
    expect(text(chunks)).toBe('Let me look.');
    type Delta = {
      index: number;
      id?: string;
      type?: string;
      function?: { name?: string; arguments?: string };
    };
    const deltas = chunks.flatMap((c) => (c.choices[0]?.delta.tool_calls ?? []) as Delta[]);
    expect(deltas[0]).toEqual({
      index: 0,
      id: 'toolu_s',
      type: 'function',
      function: { name: 'get_weather', arguments: '' },
    });
    expect(deltas.length).toBeGreaterThan(2);
    expect(deltas.every((d) => d.index === 0)).toBe(true);
    const args = deltas.map((d) => d.function?.arguments ?? '').join('');
    expect(JSON.parse(args)).toEqual({ city: 'Reykjavík', units: 'C' });
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('tool_calls');
    expect(chunks.at(-1)?.usage?.total_tokens).toBeGreaterThan(0);
  });

  it('sends image parts as Anthropic image blocks the API accepts', async () => {
    up.script([behave.ok('A cat.')]);
    const r = await claude.complete(
      call({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is this?' },
              { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
              { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
            ],
          },
        ],
      }),
    );
    expect(r.choices[0]?.message.content).toBe('A cat.');
    expect((up.calls.at(-1)!.body as { messages: Array<{ content: unknown }> }).messages[0]?.content).toEqual(
      [
        { type: 'text', text: 'What is this?' },
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
        { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
      ],
    );
  });

  it('answers malformed tool arguments with a client_error and never calls the upstream', async () => {
    const before = up.requests.length;
    const bad = call({
      messages: [
        { role: 'user', content: 'x' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"city":' } },
          ],
        },
        { role: 'tool', tool_call_id: 'c1', content: 'r' },
      ],
      tools: [weatherTool],
    });
    expect(await failure(claude.complete(bad))).toMatchObject({ reason: 'client_error', status: 400 });
    expect(
      await failure(collect(claude.stream({ ...bad, body: { ...bad.body, stream: true } }))),
    ).toMatchObject({ reason: 'client_error' });
    expect(up.requests.length).toBe(before);
  });

  it('fixture rejects tool turns the real API rejects', async () => {
    const post = async (body: Record<string, unknown>) => {
      const r = await fetch(`${up.url}/v1/messages`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-api-key': ANTHROPIC_KEY,
          'anthropic-version': '2023-06-01',
        },
        body: JSON.stringify({ model: 'm', max_tokens: 5, ...body }),
      });
      return {
        status: r.status,
        message: ((await r.json()) as { error?: { message?: string } }).error?.message,
      };
    };
    const tools = [{ name: 'f', input_schema: { type: 'object' } }];
    const use = { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'f', input: {} }] };
    const ask = { role: 'user', content: 'go' };
    // Orphan tool_result, unanswered tool_use, results after text, tool turns without tools, bad tool_choice.
    expect(
      await post({
        tools,
        messages: [
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_x', content: 'r' }] },
        ],
      }),
    ).toMatchObject({ status: 400, message: expect.stringContaining('tool_use_id') });
    expect(await post({ tools, messages: [ask, use, { role: 'user', content: 'next' }] })).toMatchObject({
      status: 400,
      message: expect.stringContaining('without `tool_result`'),
    });
    const result = { type: 'tool_result', tool_use_id: 'toolu_1', content: 'r' };
    expect(
      await post({
        tools,
        messages: [ask, use, { role: 'user', content: [{ type: 'text', text: 'hi' }, result] }],
      }),
    ).toMatchObject({ status: 400 });
    expect(await post({ messages: [ask, use, { role: 'user', content: [result] }] })).toMatchObject({
      status: 400,
      message: expect.stringContaining('must define tools'),
    });
    expect(await post({ tools, tool_choice: { type: 'tool', name: 'g' }, messages: [ask] })).toMatchObject({
      status: 400,
    });
    expect(await post({ tools, messages: [ask, use, { role: 'user', content: [result] }] })).toMatchObject({
      status: 200,
    });
  });

  it('does not leak the key on a 401', async () => {
    const bad = createAnthropicAdapter(
      { name: 'anthropic', type: 'anthropic', baseURL: up.baseURL, apiKey: { env: 'K' } },
      keySource({ env: 'K' }, defaultKeyEnv({ K: 'sk-ant-wrong-0123456789' })),
    );
    const e = await failure(bad.complete(call()));
    expect(e.reason).toBe('auth');
    expect(e.message).not.toContain('sk-ant-wrong');
  });
});

describe('tool calls to Anthropic through the sidecar, driven by the official OpenAI SDK', () => {
  let cheapUp: Fixture;
  let premiumUp: Fixture;
  let sidecar: TestSidecar;
  let client: OpenAI;
  beforeAll(async () => {
    cheapUp = await startAnthropicFixture({ apiKey: ANTHROPIC_KEY });
    premiumUp = await startAnthropicFixture({ apiKey: ANTHROPIC_KEY });
    premiumUp.fallback(behave.ok('premium answer'));
    const yaml = routeConfig({
      upstreams: [
        { name: 'claude-cheap', baseURL: cheapUp.baseURL, keyEnv: 'ANTHROPIC_KEY' },
        { name: 'claude-premium', baseURL: premiumUp.baseURL, keyEnv: 'ANTHROPIC_KEY' },
      ],
      cheap: [{ name: 'haiku', upstreams: ['claude-cheap'] }],
      premium: [{ name: 'opus', upstreams: ['claude-premium'] }],
      cascade: { enabled: true, checks: ['empty', 'refusal', 'json'], maxEscalations: 1 },
    }).replaceAll('type: openai-compatible', 'type: anthropic');
    sidecar = await startTestSidecar(yaml, { env: { ANTHROPIC_KEY } });
    client = new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'client-key-not-used', maxRetries: 0 });
  });
  afterAll(async () => {
    await sidecar?.close();
    await cheapUp?.close();
    await premiumUp?.close();
  });

  const tools: OpenAI.ChatCompletionTool[] = [
    {
      type: 'function',
      function: {
        name: 'get_weather',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      },
    },
  ];

  it('serves a tool-call-only answer from the cheap tier without a cascade escalation (JSON)', async () => {
    cheapUp.script([toolUse([{ id: 'toolu_sdk', name: 'get_weather', input: { city: 'Lyon' } }])]);
    const before = premiumUp.calls.length;
    const r = await client.chat.completions
      .create({ model: 'auto', messages: [{ role: 'user', content: SIMPLE_PROMPT }], tools })
      .withResponse();
    expect(r.response.headers.get('x-tiermesh-model')).toBe('haiku');
    expect(r.data.choices[0]?.finish_reason).toBe('tool_calls');
    expect(r.data.choices[0]?.message.content).toBeNull();
    expect(r.data.choices[0]?.message.tool_calls).toEqual([
      { id: 'toolu_sdk', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Lyon"}' } },
    ]);
    expect(premiumUp.calls.length).toBe(before);
  });

  it('streams a tool call the SDK reassembles, and a 400 for malformed arguments', async () => {
    cheapUp.script([toolUse([{ id: 'toolu_st', name: 'get_weather', input: { city: 'Nice' } }])]);
    const s = await client.chat.completions.create({
      model: 'auto',
      messages: [{ role: 'user', content: SIMPLE_PROMPT }],
      tools,
      stream: true,
    });
    let args = '';
    let id: string | undefined;
    let finish: string | null | undefined;
    for await (const c of s) {
      for (const tc of c.choices[0]?.delta.tool_calls ?? []) {
        id ??= tc.id;
        args += tc.function?.arguments ?? '';
      }
      finish ??= c.choices[0]?.finish_reason;
    }
    expect(id).toBe('toolu_st');
    expect(JSON.parse(args)).toEqual({ city: 'Nice' });
    expect(finish).toBe('tool_calls');

    const calls = cheapUp.calls.length + premiumUp.calls.length;
    await expect(
      client.chat.completions.create({
        model: 'auto',
        messages: [
          { role: 'user', content: SIMPLE_PROMPT },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              { id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{oops' } },
            ],
          },
          { role: 'tool', tool_call_id: 'c1', content: '20C' },
        ],
        tools,
      }),
    ).rejects.toMatchObject({ status: 400 });
    expect(cheapUp.calls.length + premiumUp.calls.length).toBe(calls);
  });
});
