/** Provider adapters against the wire-format fixtures over real loopback sockets. */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Provider } from '../../src/api/modelroute.js';
import type { ChatCompletionChunk, ChatCompletionRequest } from '../../src/api/openai.js';
import { createAnthropicAdapter } from '../../src/providers/anthropic.js';
import { defaultKeyEnv, keySource } from '../../src/providers/keys.js';
import { createOpenAIAdapter } from '../../src/providers/openai.js';
import { type ProviderAdapter, ProviderError, type UpstreamCall } from '../../src/providers/types.js';
import {
  behave,
  type Fixture,
  startAnthropicFixture,
  startOpenAIFixture,
} from '../fixtures/providers/index.js';

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

  it('reports a stream that closes without [DONE] or breaks, and garbage chunks', async () => {
    up.script([behave.endWithoutDone(), behave.breakAfter(2), { ...behave.ok(), malformed: true }]);
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
    up.script([behave.slowFirstByte(1500), { ...behave.ok('a b'), chunkDelayMs: 300 }]);
    const quick = { firstByteTimeoutMs: 200 };
    const e1 = await failure(openai.complete({ ...call(), ...quick }));
    expect(e1.reason).toBe('timeout');
    // Headers and the role chunk come at once here, the next chunk late: the first chunk disarms the deadline,
    // so this stream must not time out on first byte.
    const chunks = await collect(openai.stream({ ...call({ stream: true }), ...quick }));
    expect(text(chunks)).toBe('a b');
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
    stop: ['END', '  '],
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
      // Anthropic rejects whitespace-only stop sequences, so they are dropped.
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
    expect(chunks.length).toBe(1);
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
