/** The Gemini and Azure OpenAI adapters against their wire-format fixtures, alone and through the sidecar. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { AzureOpenAI } from 'openai';
import { zodFunction, zodResponseFormat } from 'openai/helpers/zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import { type Provider, provider as providerSchema } from '../../src/api/modelroute.js';
import type { ChatCompletionChunk, ChatCompletionRequest } from '../../src/api/openai.js';
import { createAzureOpenAIAdapter } from '../../src/providers/azure-openai.js';
import { createGeminiAdapter } from '../../src/providers/gemini.js';
import { defaultKeyEnv, keySource, tokenSource } from '../../src/providers/keys.js';
import { createAdapter } from '../../src/providers/registry.js';
import { type ProviderAdapter, ProviderError, type UpstreamCall } from '../../src/providers/types.js';
import {
  behave,
  contentFiltered,
  type Fixture,
  functionCall,
  quotaExhausted,
  startAzureOpenAIFixture,
  startGeminiFixture,
} from '../fixtures/providers/index.js';
import { COMPLEX_PROMPT, SIMPLE_PROMPT } from '../helpers/config.js';
import { metricValue, startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

const GEMINI_KEY = 'AIzaSyTest0123456789abcdefghijklmnopq';
const AZURE_KEY = 'azure-test-key-0123456789abcdef';
const env = { GEMINI_KEY, AZURE_KEY };

const call = (body: Partial<ChatCompletionRequest> = {}): UpstreamCall => ({
  body: { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'Say hi' }], ...body },
  signal: new AbortController().signal,
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

const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
      additionalProperties: false,
    },
  },
};

describe('Gemini adapter', () => {
  let up: Fixture;
  let gemini: ProviderAdapter;
  const provider: Provider = { name: 'gemini', type: 'gemini', apiKey: { env: 'GEMINI_KEY' } };
  beforeAll(async () => {
    up = await startGeminiFixture({ apiKey: GEMINI_KEY });
    gemini = createGeminiAdapter(
      { ...provider, baseURL: up.baseURL },
      keySource(provider.apiKey, defaultKeyEnv(env)),
    );
  });
  afterAll(() => up.close());

  it('calls generateContent with the key in x-goog-api-key (never the URL) and translates the answer', async () => {
    up.script([behave.ok('Bonjour !', { prompt: 12, completion: 3 })]);
    const r = await gemini.complete(
      call({
        messages: [
          { role: 'system', content: 'Answer in French.' },
          { role: 'user', content: 'Hello' },
        ],
        temperature: 0.3,
        max_tokens: 64,
        stop: ['END'],
      }),
    );
    expect(r).toMatchObject({ object: 'chat.completion', model: 'gemini-2.5-flash' });
    expect(r.choices[0]).toMatchObject({ message: { content: 'Bonjour !' }, finish_reason: 'stop' });
    expect(r.usage).toEqual({ prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 });
    const sent = up.calls.at(-1)!;
    expect(sent.path).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
    expect(sent.path).not.toContain('key=');
    expect(sent.headers['x-goog-api-key']).toBe(GEMINI_KEY);
    expect(sent.headers.authorization).toBeUndefined();
    expect(sent.body).toEqual({
      contents: [{ role: 'user', parts: [{ text: 'Hello' }] }],
      systemInstruction: { parts: [{ text: 'Answer in French.' }] },
      generationConfig: { temperature: 0.3, maxOutputTokens: 64, stopSequences: ['END'] },
    });
  });

  it('streams over streamGenerateContent?alt=sse into OpenAI chunks, finish then usage last', async () => {
    up.script([{ ...behave.ok('one two three', { prompt: 7, completion: 3 }), finishReason: 'MAX_TOKENS' }]);
    const chunks = await collect(gemini.stream(call({ stream: true })));
    expect(up.calls.at(-1)?.path).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
    expect(text(chunks)).toBe('one two three');
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('length');
    expect(chunks.at(-1)).toMatchObject({
      choices: [],
      usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 },
    });
  });

  it('turns functionCall parts into tool_calls, and the follow-up with results passes the API checks', async () => {
    up.script([
      functionCall([
        { name: 'get_weather', args: { city: 'Paris' } },
        { name: 'get_weather', args: { city: 'Oslo' } },
      ]),
      behave.ok('Paris is warmer.'),
    ]);
    const first = await gemini.complete(
      call({
        messages: [{ role: 'user', content: 'Paris or Oslo?' }],
        tools: [weatherTool],
        tool_choice: 'required',
      }),
    );
    expect(up.calls.at(-1)?.body).toMatchObject({
      tools: [
        {
          functionDeclarations: [
            { name: 'get_weather', parametersJsonSchema: weatherTool.function.parameters },
          ],
        },
      ],
      toolConfig: { functionCallingConfig: { mode: 'ANY' } },
    });
    const choice = first.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    const calls = choice.message.tool_calls as Array<{
      id: string;
      function: { name: string; arguments: string };
    }>;
    expect(calls.map((c) => JSON.parse(c.function.arguments))).toEqual([{ city: 'Paris' }, { city: 'Oslo' }]);
    expect(new Set(calls.map((c) => c.id)).size).toBe(2);

    const second = await gemini.complete(
      call({
        tools: [weatherTool],
        messages: [
          { role: 'user', content: 'Paris or Oslo?' },
          { role: 'assistant', content: null, tool_calls: calls },
          { role: 'tool', tool_call_id: calls[0]!.id, content: '{"tempC":18}' },
          { role: 'tool', tool_call_id: calls[1]!.id, content: '4C' },
        ],
      }),
    );
    expect(second.choices[0]?.message.content).toBe('Paris is warmer.');
    expect((up.calls.at(-1)!.body as { contents: unknown[] }).contents.at(-1)).toEqual({
      role: 'user',
      parts: [
        { functionResponse: { name: 'get_weather', response: { tempC: 18 } } },
        { functionResponse: { name: 'get_weather', response: { output: '4C' } } },
      ],
    });
  });

  it('streams a function call as one whole tool_call delta', async () => {
    up.script([functionCall([{ name: 'get_weather', args: { city: 'Nice' } }], 'Let me check.')]);
    const chunks = await collect(
      gemini.stream(
        call({
          stream: true,
          tools: [weatherTool],
          tool_choice: { type: 'function', function: { name: 'get_weather' } },
        }),
      ),
    );
    expect(up.calls.at(-1)?.body).toMatchObject({
      toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_weather'] } },
    });
    expect(text(chunks)).toBe('Let me check.');
    const deltas = chunks.flatMap(
      (c) => (c.choices[0]?.delta.tool_calls ?? []) as Array<Record<string, unknown>>,
    );
    expect(deltas).toEqual([
      {
        index: 0,
        id: expect.stringMatching(/^call_/),
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Nice"}' },
      },
    ]);
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('tool_calls');
  });

  it('sends JSON mode as responseMimeType + responseJsonSchema, and images as inlineData', async () => {
    up.script([behave.ok('{"a":1}')]);
    const schema = { type: 'object', properties: { a: { type: 'integer' } }, required: ['a'] };
    const r = await gemini.complete(
      call({
        response_format: { type: 'json_schema', json_schema: { name: 'a', schema } },
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Describe' },
              { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
            ],
          },
        ],
      }),
    );
    expect(JSON.parse(r.choices[0]?.message.content ?? '')).toEqual({ a: 1 });
    expect(up.calls.at(-1)?.body).toMatchObject({
      contents: [
        { parts: [{ text: 'Describe' }, { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } }] },
      ],
      generationConfig: { responseMimeType: 'application/json', responseJsonSchema: schema },
    });
  });

  it('declines what it cannot translate without calling the upstream', async () => {
    const before = up.requests.length;
    const e = await failure(
      gemini.complete(
        call({
          messages: [
            { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x.test/a.png' } }] },
          ],
        }),
      ),
    );
    expect(e.reason).toBe('unavailable');
    expect(up.requests.length).toBe(before);
  });

  it('declines, as unavailable, what only Gemini refuses, JSON and stream, without calling the upstream', async () => {
    // Both are fine for OpenAI and Anthropic: failover must move on, not answer the caller with a 400.
    const before = up.requests.length;
    const digitTool = call({
      tools: [
        {
          type: 'function',
          function: { name: '2fa_lookup', parameters: { type: 'object', properties: {} } },
        },
      ],
    });
    const systemOnly = call({ messages: [{ role: 'system', content: 'Write a haiku about the sea.' }] });
    for (const c of [digitTool, systemOnly]) {
      expect(await failure(gemini.complete(c))).toMatchObject({ reason: 'unavailable' });
      expect(
        await failure(collect(gemini.stream({ ...c, body: { ...c.body, stream: true } }))),
      ).toMatchObject({
        reason: 'unavailable',
      });
    }
    expect(up.requests.length).toBe(before);
  });

  it('maps RESOURCE_EXHAUSTED with RetryInfo, UNAVAILABLE, INVALID_ARGUMENT, NOT_FOUND and malformed JSON', async () => {
    up.script([
      quotaExhausted('2s'),
      behave.error(503),
      behave.error(400),
      behave.error(404),
      behave.malformed(),
    ]);
    expect(await failure(gemini.complete(call()))).toMatchObject({
      reason: 'rate_limited',
      status: 429,
      retryAfter: 2,
    });
    expect(await failure(gemini.complete(call()))).toMatchObject({ reason: 'server_error', status: 503 });
    expect(await failure(gemini.complete(call()))).toMatchObject({ reason: 'client_error', status: 400 });
    expect(await failure(gemini.complete(call()))).toMatchObject({ reason: 'server_error', status: 404 });
    expect(await failure(gemini.complete(call()))).toMatchObject({ reason: 'bad_response' });
  });

  it('reports broken streams: cut before the finishReason, socket destroyed, error chunk mid-stream', async () => {
    up.script([
      behave.endWithoutDone(),
      behave.breakAfter(1),
      { ...behave.ok('a b c'), breakAfterChunks: 1, streamErrorType: 'UNAVAILABLE' },
    ]);
    const cut: ChatCompletionChunk[] = [];
    const e1 = await failure(
      (async () => {
        for await (const c of gemini.stream(call({ stream: true }))) cut.push(c);
      })(),
    );
    expect(e1.reason).toBe('stream_broken');
    expect(text(cut)).toBe('Hello from the Gemini fixture.');
    expect((await failure(collect(gemini.stream(call({ stream: true }))))).reason).toMatch(
      /connection|stream_broken/,
    );
    expect(await failure(collect(gemini.stream(call({ stream: true }))))).toMatchObject({
      reason: 'server_error',
    });
  });

  it('answers a blocked prompt as content_filter, with its prompt tokens', async () => {
    up.script([{ ...behave.ok('', { prompt: 9, completion: 0 }), blockReason: 'SAFETY' } as never]);
    const r = await gemini.complete(call());
    expect(r.choices[0]).toMatchObject({ finish_reason: 'content_filter', message: { content: '' } });
    expect(r.usage?.prompt_tokens).toBe(9);
  });

  it('a wrong key is auth (though Gemini sends 400) and never leaks; the fixture rejects OpenAI-shaped bodies', async () => {
    const wrongKey = 'AIzaSyWrong0123456789abcdefghijklmnopq';
    const bad = createGeminiAdapter(
      { ...provider, baseURL: up.baseURL },
      keySource({ env: 'K' }, defaultKeyEnv({ K: wrongKey })),
    );
    const e = await failure(bad.complete(call()));
    expect(e).toMatchObject({ reason: 'auth', status: 400 });
    expect(e.message).not.toContain(wrongKey);
    const r = await fetch(`${up.url}/v1beta/models/m:generateContent`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-goog-api-key': GEMINI_KEY },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ error: { code: 400, status: 'INVALID_ARGUMENT' } });
  });
});

describe('Azure OpenAI fixture', () => {
  it("is understood by the official SDK's AzureOpenAI client (deployment URL, api-key, JSON, stream, errors)", async () => {
    const up = await startAzureOpenAIFixture({
      apiKey: AZURE_KEY,
      deployments: { mini: 'gpt-4o-mini-2024-07-18' },
    });
    try {
      const client = new AzureOpenAI({
        endpoint: up.url,
        apiKey: AZURE_KEY,
        apiVersion: '2024-10-21',
        deployment: 'mini',
        maxRetries: 0,
      });
      up.script([
        behave.ok('one two', { prompt: 4, completion: 2 }),
        behave.ok('a b c'),
        contentFiltered('prompt'),
      ]);
      const r = await client.chat.completions.create({
        model: 'mini',
        messages: [{ role: 'user', content: 'x' }],
      });
      expect(r.choices[0]?.message.content).toBe('one two');
      expect(r.usage?.total_tokens).toBe(6);
      expect(up.calls.at(-1)?.path).toBe('/openai/deployments/mini/chat/completions?api-version=2024-10-21');
      expect(up.calls.at(-1)?.headers['api-key']).toBe(AZURE_KEY);
      const s = await client.chat.completions.create({
        model: 'mini',
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
        client.chat.completions.create({ model: 'mini', messages: [{ role: 'user', content: 'x' }] }),
      ).rejects.toMatchObject({ status: 400, code: 'content_filter' });
    } finally {
      await up.close();
    }
  });
});

describe('Azure OpenAI adapter', () => {
  let up: Fixture;
  const tokens: string[] = [];
  beforeAll(async () => {
    up = await startAzureOpenAIFixture({
      apiKey: AZURE_KEY,
      bearerTokens: tokens,
      deployments: { 'gpt-4o-mini': 'gpt-4o-mini-2024-07-18', 'prod-4o': 'gpt-4o-2024-08-06' },
    });
  });
  afterAll(() => up.close());

  const azure = (extra: Partial<Provider> = {}) => {
    const p: Provider = {
      name: 'azure',
      type: 'azure-openai',
      baseURL: up.baseURL,
      apiKey: { env: 'AZURE_KEY' },
      ...extra,
    };
    return createAzureOpenAIAdapter(p, keySource(p.apiKey, defaultKeyEnv(env)));
  };

  it('puts the deployment and api-version in the URL and the key in the api-key header', async () => {
    up.script([behave.ok('Hi from Azure', { prompt: 5, completion: 3 })]);
    const r = await azure().complete(call({ model: 'gpt-4o-mini' }));
    expect(r.choices[0]?.message.content).toBe('Hi from Azure');
    expect(r.model).toBe('gpt-4o-mini-2024-07-18');
    expect(r.usage).toEqual({ prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 });
    const sent = up.calls.at(-1)!;
    expect(sent.path).toBe('/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21');
    expect(sent.headers['api-key']).toBe(AZURE_KEY);
    expect(sent.headers.authorization).toBeUndefined();

    up.script([behave.ok('fixed')]);
    await azure({
      azure: { deployment: 'prod-4o', apiVersion: '2025-01-01-preview', auth: 'api-key' },
    }).complete(call({ model: 'anything' }));
    expect(up.calls.at(-1)?.path).toBe(
      '/openai/deployments/prod-4o/chat/completions?api-version=2025-01-01-preview',
    );
  });

  it('streams, skipping the prompt_filter_results chunk, with usage last', async () => {
    up.script([behave.ok('a b c', { prompt: 4, completion: 3 })]);
    const chunks = await collect(azure().stream(call({ model: 'gpt-4o-mini', stream: true })));
    expect(chunks.every((c) => c.choices.length > 0 || c.usage)).toBe(true);
    expect(text(chunks)).toBe('a b c');
    expect(chunks.at(-1)?.usage).toMatchObject({ total_tokens: 7 });
    expect(up.calls.at(-1)?.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('maps 429 with Retry-After, the content-filter 400, DeploymentNotFound and a wrong key', async () => {
    up.script([behave.rateLimited('6'), contentFiltered('prompt'), contentFiltered('completion')]);
    expect(await failure(azure().complete(call({ model: 'gpt-4o-mini' })))).toMatchObject({
      reason: 'rate_limited',
      retryAfter: 6,
    });
    const filtered = await failure(azure().complete(call({ model: 'gpt-4o-mini' })));
    expect(filtered).toMatchObject({ reason: 'client_error', status: 400 });
    expect(filtered.message).toContain('content management policy');
    const cut = await azure().complete(call({ model: 'gpt-4o-mini' }));
    expect(cut.choices[0]?.finish_reason).toBe('content_filter');
    expect(await failure(azure().complete(call({ model: 'no-such-deployment' })))).toMatchObject({
      reason: 'server_error',
      status: 404,
    });
    const wrong = createAzureOpenAIAdapter(
      { name: 'azure', type: 'azure-openai', baseURL: up.baseURL, apiKey: { env: 'K' } },
      keySource({ env: 'K' }, defaultKeyEnv({ K: 'wrong-azure-key-123456' })),
    );
    const e = await failure(wrong.complete(call({ model: 'gpt-4o-mini' })));
    expect(e.reason).toBe('auth');
    expect(e.message).not.toContain('wrong-azure-key');
  });

  it('streams fail the Azure way: the prompt filter before any chunk, cut streams, a whole stream without [DONE], a 429 with its default wait', async () => {
    up.script([contentFiltered('prompt'), behave.endWithoutDone(), behave.breakAfter(2), behave.error(429)]);
    expect(
      await failure(collect(azure().stream(call({ model: 'gpt-4o-mini', stream: true })))),
    ).toMatchObject({
      reason: 'client_error',
      status: 400,
    });
    // A stream that ends after its finish_reason without [DONE] is whole (some servers end that way).
    const whole = await collect(azure().stream(call({ model: 'gpt-4o-mini', stream: true })));
    expect(whole.some((c) => c.choices.some((ch) => ch.finish_reason != null))).toBe(true);
    expect(
      (await failure(collect(azure().stream(call({ model: 'gpt-4o-mini', stream: true }))))).reason,
    ).toMatch(/connection|stream_broken/);
    // retry-after-ms wins over retry-after, as OpenAI's SDK reads them.
    expect(await failure(azure().complete(call({ model: 'gpt-4o-mini' })))).toMatchObject({
      reason: 'rate_limited',
      retryAfter: 6,
    });
  });

  it('sends a bearer token from a file, and after a rotation retries once with the re-read token', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tiermesh-azure-token-'));
    const file = join(dir, 'token');
    writeFileSync(file, 'entra-token-1\n');
    tokens.splice(0, tokens.length, 'entra-token-1');
    const p: Provider = {
      name: 'azure-entra',
      type: 'azure-openai',
      baseURL: up.baseURL,
      apiKey: { file },
      azure: { apiVersion: '2024-10-21', auth: 'bearer' },
    };
    // A long check interval: only the 401 can make the adapter look at the file again.
    const adapter = createAzureOpenAIAdapter(
      p,
      tokenSource(p.apiKey, defaultKeyEnv({}), { checkMs: 3_600_000 }),
    );
    up.script([behave.ok('one'), behave.ok('two')]);
    expect((await adapter.complete(call({ model: 'gpt-4o-mini' }))).choices[0]?.message.content).toBe('one');
    expect(up.calls.at(-1)?.headers.authorization).toBe('Bearer entra-token-1');
    expect(up.calls.at(-1)?.headers['api-key']).toBeUndefined();

    // The refresher rotates the token: the resource now refuses the old one.
    writeFileSync(file, 'entra-token-2\n');
    tokens.splice(0, tokens.length, 'entra-token-2');
    const before = up.requests.length;
    expect((await adapter.complete(call({ model: 'gpt-4o-mini' }))).choices[0]?.message.content).toBe('two');
    expect(up.requests.length - before).toBe(2);
    expect(up.calls.at(-1)?.headers.authorization).toBe('Bearer entra-token-2');

    // Refused and not rotated: one try only, and the token is not in the error.
    tokens.splice(0, tokens.length);
    const n = up.requests.length;
    const e = await failure(adapter.complete(call({ model: 'gpt-4o-mini' })));
    expect(e.reason).toBe('auth');
    expect(e.message).not.toContain('entra-token');
    expect(up.requests.length - n).toBe(1);
  });
});

/** A route whose cheap model fails over from Gemini to Azure and whose premium model goes Azure first. */
function mixedRoute(geminiURL: string, azureURL: string): string {
  return stringify({
    apiVersion: 'tiermesh.dev/v1alpha1',
    kind: 'ModelRoute',
    metadata: { name: 'default', namespace: 'test' },
    spec: {
      providers: [
        { name: 'gemini', type: 'gemini', baseURL: geminiURL, apiKey: { env: 'GEMINI_KEY' } },
        {
          name: 'azure',
          type: 'azure-openai',
          baseURL: azureURL,
          apiKey: { env: 'AZURE_KEY' },
          azure: { apiVersion: '2024-10-21' },
        },
      ],
      models: [
        {
          name: 'flash',
          targets: [
            { provider: 'gemini', model: 'gemini-2.5-flash' },
            { provider: 'azure', model: 'gpt-4o-mini' },
          ],
          pricing: { inputPerMTok: 0.3, outputPerMTok: 2.5 },
          contextWindow: 1_000_000,
        },
        {
          name: 'big',
          targets: [
            { provider: 'azure', model: 'gpt-4o' },
            { provider: 'gemini', model: 'gemini-2.5-pro' },
          ],
          pricing: { inputPerMTok: 2.5, outputPerMTok: 10 },
          contextWindow: 128_000,
        },
      ],
      tiers: [
        { name: 'cheap', models: ['flash'] },
        { name: 'premium', models: ['big'] },
      ],
      classifier: {
        mode: 'rules',
        confidenceBand: 0.05,
        rules: [{ name: 'hard', pattern: '\\b(prove|step by step|derive)\\b', tier: 'premium', weight: 10 }],
      },
      cascade: { enabled: false, checks: ['empty'], maxEscalations: 0 },
      resilience: {
        timeoutMs: 10_000,
        firstByteTimeoutMs: 5_000,
        retries: { attempts: 0, backoffMs: 10, maxBackoffMs: 50 },
        breaker: {
          errorThresholdPercentage: 50,
          volumeThreshold: 1000,
          resetTimeoutMs: 10_000,
          rollingWindowMs: 30_000,
        },
      },
    },
  });
}

describe('Gemini and Azure OpenAI through the sidecar, driven by the official OpenAI SDK', () => {
  let geminiUp: Fixture;
  let azureUp: Fixture;
  let sidecar: TestSidecar;
  let client: OpenAI;
  beforeAll(async () => {
    geminiUp = await startGeminiFixture({ apiKey: GEMINI_KEY });
    azureUp = await startAzureOpenAIFixture({
      apiKey: AZURE_KEY,
      deployments: { 'gpt-4o-mini': 'gpt-4o-mini-2024-07-18', 'gpt-4o': 'gpt-4o-2024-08-06' },
    });
    sidecar = await startTestSidecar(mixedRoute(geminiUp.baseURL, azureUp.baseURL), { env });
    client = new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'client-key-not-used', maxRetries: 0 });
  });
  afterAll(async () => {
    await sidecar?.close();
    await geminiUp?.close();
    await azureUp?.close();
  });

  it('serves JSON from Gemini and books the cost from usageMetadata', async () => {
    geminiUp.script([behave.ok('Fine, thanks!', { prompt: 1000, completion: 200 })]);
    const r = await client.chat.completions
      .create({ model: 'auto', messages: [{ role: 'user', content: SIMPLE_PROMPT }] })
      .withResponse();
    expect(r.response.headers.get('x-tiermesh-provider')).toBe('gemini');
    expect(r.response.headers.get('x-tiermesh-model')).toBe('flash');
    expect(r.data.choices[0]?.message.content).toBe('Fine, thanks!');
    expect(r.data.usage).toMatchObject({ prompt_tokens: 1000, completion_tokens: 200, total_tokens: 1200 });
    // 1000 * 0.3 / 1e6 + 200 * 2.5 / 1e6
    expect(Number(r.response.headers.get('x-tiermesh-cost-usd'))).toBeCloseTo(0.0008, 10);
    const metrics = await (await fetch(`${sidecar.url}/metrics`)).text();
    expect(metricValue(metrics, 'tiermesh_cost_usd_total', { route: 'default', model: 'flash' })).toBeCloseTo(
      0.0008,
      10,
    );
  });

  it('streams from Gemini through the SDK, usage included when asked', async () => {
    geminiUp.script([behave.ok('streamed from gemini', { prompt: 10, completion: 3 })]);
    const s = await client.chat.completions.create({
      model: 'auto',
      messages: [{ role: 'user', content: SIMPLE_PROMPT }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let out = '';
    let usage: OpenAI.CompletionUsage | undefined;
    let finish: string | null | undefined;
    for await (const c of s) {
      out += c.choices[0]?.delta.content ?? '';
      finish ??= c.choices[0]?.finish_reason;
      if (c.usage) usage = c.usage;
    }
    expect(out).toBe('streamed from gemini');
    expect(finish).toBe('stop');
    expect(usage).toMatchObject({ prompt_tokens: 10, completion_tokens: 3 });
    expect(geminiUp.calls.at(-1)?.path).toContain(':streamGenerateContent?alt=sse');
  });

  it('round-trips a Gemini tool call: tool_calls out, results back in a turn the API accepts', async () => {
    geminiUp.script([
      functionCall([{ name: 'get_weather', args: { city: 'Lyon' } }]),
      behave.ok('It is sunny in Lyon.'),
    ]);
    const first = await client.chat.completions.create({
      model: 'auto',
      messages: [{ role: 'user', content: SIMPLE_PROMPT }],
      tools: [weatherTool],
    });
    const msg = first.choices[0]!.message;
    expect(first.choices[0]?.finish_reason).toBe('tool_calls');
    const tc = msg.tool_calls?.[0] as OpenAI.ChatCompletionMessageFunctionToolCall;
    expect(JSON.parse(tc.function.arguments)).toEqual({ city: 'Lyon' });
    const second = await client.chat.completions.create({
      model: 'auto',
      messages: [
        { role: 'user', content: SIMPLE_PROMPT },
        msg,
        { role: 'tool', tool_call_id: tc.id, content: 'sunny, 24C' },
      ],
      tools: [weatherTool],
    });
    expect(second.choices[0]?.message.content).toBe('It is sunny in Lyon.');
    expect(geminiUp.calls.length).toBeGreaterThanOrEqual(2);
  });

  it('streams a Gemini tool call the SDK reassembles (ChatCompletionStream)', async () => {
    geminiUp.script([functionCall([{ name: 'get_weather', args: { city: 'Nice' } }])]);
    const stream = client.chat.completions.stream({
      model: 'auto',
      messages: [{ role: 'user', content: SIMPLE_PROMPT }],
      tools: [weatherTool],
      tool_choice: 'required',
    });
    const final = await stream.finalChatCompletion();
    const tc = final.choices[0]?.message.tool_calls?.[0] as OpenAI.ChatCompletionMessageFunctionToolCall;
    expect(final.choices[0]?.finish_reason).toBe('tool_calls');
    expect(tc.function.name).toBe('get_weather');
    expect(JSON.parse(tc.function.arguments)).toEqual({ city: 'Nice' });
    expect(geminiUp.calls.at(-1)?.body).toMatchObject({
      toolConfig: { functionCallingConfig: { mode: 'ANY' } },
    });
  });

  it('fails over from a rate-limited Gemini to Azure', async () => {
    geminiUp.script([quotaExhausted('30s')]);
    azureUp.script([behave.ok('Azure took over', { prompt: 20, completion: 4 })]);
    const r = await client.chat.completions
      .create({ model: 'auto', messages: [{ role: 'user', content: SIMPLE_PROMPT }] })
      .withResponse();
    expect(r.data.choices[0]?.message.content).toBe('Azure took over');
    expect(r.response.headers.get('x-tiermesh-provider')).toBe('azure');
    expect(r.response.headers.get('x-tiermesh-attempts')).toBe('2');
    expect(azureUp.calls.at(-1)?.path).toBe(
      '/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21',
    );
    const metrics = await (await fetch(`${sidecar.url}/metrics`)).text();
    expect(
      metricValue(metrics, 'tiermesh_fallbacks_total', { from_provider: 'gemini', reason: 'rate_limited' }),
    ).toBe(1);
  });

  it('fails over from a broken Azure stream to Gemini before any byte reached the client', async () => {
    azureUp.script([behave.breakAfter(0)]);
    geminiUp.script([behave.ok('gemini rescued the stream')]);
    const s = await client.chat.completions.create({
      model: 'auto',
      messages: [{ role: 'user', content: COMPLEX_PROMPT }],
      stream: true,
    });
    let out = '';
    for await (const c of s) out += c.choices[0]?.delta.content ?? '';
    expect(out).toBe('gemini rescued the stream');
    expect(geminiUp.calls.at(-1)?.path).toBe('/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse');
  });

  it("answers the caller's faults as 400 without trying the other provider: Azure's content filter, Gemini's INVALID_ARGUMENT", async () => {
    azureUp.script([contentFiltered('prompt')]);
    const before = geminiUp.calls.length;
    await expect(
      client.chat.completions.create({
        model: 'auto',
        messages: [{ role: 'user', content: COMPLEX_PROMPT }],
      }),
    ).rejects.toMatchObject({ status: 400 });
    expect(geminiUp.calls.length).toBe(before);

    geminiUp.script([behave.error(400)]);
    const azureBefore = azureUp.calls.length;
    await expect(
      client.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: SIMPLE_PROMPT }] }),
    ).rejects.toMatchObject({ status: 400 });
    expect(azureUp.calls.length).toBe(azureBefore);
  });
});

describe('docs/providers.md', () => {
  const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'providers.md'), 'utf8');
  const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parse(m[1] ?? '') as unknown);
  const providers = blocks.flatMap((b) => {
    const list = Array.isArray(b) ? b : ((b as { providers?: unknown[] }).providers ?? []);
    return list as unknown[];
  });

  it('shows a valid provider for every documented example, each building an adapter of its type', () => {
    const types = providers.map((raw) => {
      const p = providerSchema.parse(raw);
      const a = createAdapter(p, defaultKeyEnv({}));
      expect(a.type).toBe(p.type);
      return `${p.type}:${p.name}`;
    });
    expect(types).toEqual([
      'anthropic:anthropic',
      'gemini:gemini',
      'azure-openai:azure',
      'azure-openai:azure-entra',
      'openai-compatible:groq',
      'openai-compatible:together',
      'openai-compatible:vllm',
      'openai-compatible:ollama',
    ]);
  });
});

describe('the simulated provider behaves like a model for SDK helpers (structured output, tool calling)', () => {
  let sidecar: TestSidecar;
  let client: OpenAI;
  beforeAll(async () => {
    const yaml = stringify({
      apiVersion: 'tiermesh.dev/v1alpha1',
      kind: 'ModelRoute',
      metadata: { name: 'default', namespace: 'test' },
      spec: {
        providers: [{ name: 'sim', type: 'simulated', simulated: { latencyMs: 1, tokensPerSecond: 20_000 } }],
        models: [
          {
            name: 'sim-model',
            targets: [{ provider: 'sim' }],
            pricing: { inputPerMTok: 1, outputPerMTok: 2 },
            contextWindow: 128_000,
          },
        ],
        tiers: [{ name: 'cheap', models: ['sim-model'] }],
      },
    });
    sidecar = await startTestSidecar(yaml);
    client = new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(() => sidecar?.close());

  const Person = z.object({
    name: z.string(),
    age: z.number().int().min(18),
    email: z.email(),
    nickname: z.string().nullable(),
    tags: z.array(z.string()).min(1),
  });

  it('chat.completions.parse with a zod response format gets a value the schema accepts', async () => {
    const r = await client.chat.completions.parse({
      model: 'auto',
      messages: [{ role: 'user', content: 'Extract the person: Ada, 36, ada@example.com' }],
      response_format: zodResponseFormat(Person, 'person'),
    });
    const parsed = r.choices[0]?.message.parsed;
    expect(Person.safeParse(parsed).success).toBe(true);
  });

  it('a forced zod tool gets a call whose parsed arguments the schema accepts, JSON and streamed', async () => {
    const tools = [zodFunction({ name: 'save_person', parameters: Person })];
    const r = await client.chat.completions.parse({
      model: 'auto',
      messages: [{ role: 'user', content: 'Save Ada' }],
      tools,
      tool_choice: 'required',
    });
    const call = r.choices[0]?.message.tool_calls?.[0];
    expect(r.choices[0]?.finish_reason).toBe('tool_calls');
    expect(call?.function.name).toBe('save_person');
    expect(Person.safeParse(call?.function.parsed_arguments).success).toBe(true);

    const stream = client.chat.completions.stream({
      model: 'auto',
      messages: [{ role: 'user', content: 'Save Ada' }],
      tools,
      tool_choice: { type: 'function', function: { name: 'save_person' } },
    });
    const final = await stream.finalChatCompletion();
    const streamed = final.choices[0]?.message.tool_calls?.[0];
    expect(Person.safeParse(streamed?.function.parsed_arguments).success).toBe(true);
  });

  it('n, stop and logprobs reach the model through the sidecar', async () => {
    const r = await client.chat.completions.create({
      model: 'auto',
      messages: [{ role: 'user', content: SIMPLE_PROMPT }],
      n: 2,
      stop: [';'],
      logprobs: true,
      top_logprobs: 1,
    });
    expect(r.choices).toHaveLength(2);
    expect(r.choices.every((c) => !c.message.content?.includes(';'))).toBe(true);
    expect(r.choices[0]?.logprobs?.content?.[0]?.top_logprobs).toHaveLength(1);
  });
});
