import { describe, expect, it } from 'vitest';
import type { ResponseCacheSpec } from '../api/modelroute.js';
import type { ChatCompletion, ChatCompletionRequest } from '../api/openai.js';
import {
  type CacheEntry,
  cacheDirectives,
  cacheKey,
  chunksFromCompletion,
  completionFromChunks,
  entryBytes,
  hitSavedUSD,
  lookupCache,
  ResponseCache,
} from './cache.js';

const req = (r: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest => ({
  model: 'auto',
  messages: [{ role: 'user', content: 'What is 2+2?' }],
  temperature: 0,
  ...r,
});
const scope = { namespace: 'team-a', route: 'default' };
const spec: ResponseCacheSpec = { enabled: true, ttlSeconds: 60, maxBytes: 1_000_000 };

describe('cacheKey', () => {
  it('is equal for requests that differ only in delivery, key order or who asked', () => {
    const a = cacheKey(
      scope,
      'cheap',
      req({ stream: true, stream_options: { include_usage: true }, user: 'u1' }),
    );
    const b = cacheKey(scope, 'cheap', {
      temperature: 0,
      messages: [{ content: 'What is 2+2?', role: 'user' }],
      model: 'auto',
    });
    expect(a).toBe(b);
  });

  it('differs for another namespace, route, decided tier, model, message or parameter', () => {
    const base = cacheKey(scope, 'cheap', req());
    expect(cacheKey(scope, 'premium', req())).not.toBe(base);
    expect(cacheKey({ ...scope, namespace: 'team-b' }, 'cheap', req())).not.toBe(base);
    expect(cacheKey({ ...scope, route: 'other' }, 'cheap', req())).not.toBe(base);
    expect(cacheKey(scope, 'cheap', req({ model: 'gpt-4o' }))).not.toBe(base);
    expect(cacheKey(scope, 'cheap', req({ messages: [{ role: 'user', content: 'What is 2+3?' }] }))).not.toBe(
      base,
    );
    expect(cacheKey(scope, 'cheap', req({ max_tokens: 5 }))).not.toBe(base);
    expect(
      cacheKey(scope, 'cheap', req({ tools: [{ type: 'function', function: { name: 'f' } }] })),
    ).not.toBe(base);
  });
});

describe('cacheDirectives', () => {
  it('caches only temperature 0 unless the client opts in, and nothing when the route has no cache', () => {
    expect(cacheDirectives(spec, req(), {})).toEqual({ lookup: true, store: true });
    expect(cacheDirectives(spec, req({ temperature: 0.7 }), {})).toEqual({ lookup: false, store: false });
    expect(cacheDirectives(spec, req({ temperature: undefined }), {})).toEqual({
      lookup: false,
      store: false,
    });
    expect(cacheDirectives(spec, req({ temperature: 0.7 }), { optIn: 'on' })).toEqual({
      lookup: true,
      store: true,
    });
    expect(cacheDirectives(spec, req(), { optIn: 'off' })).toEqual({ lookup: false, store: false });
    expect(cacheDirectives({ ...spec, enabled: false }, req(), {})).toEqual({ lookup: false, store: false });
    expect(cacheDirectives(undefined, req(), {})).toEqual({ lookup: false, store: false });
  });

  it('no-cache skips the lookup but stores the fresh answer; no-store skips both', () => {
    expect(cacheDirectives(spec, req(), { cacheControl: 'no-cache' })).toEqual({
      lookup: false,
      store: true,
    });
    expect(cacheDirectives(spec, req(), { cacheControl: 'max-age=0, No-Store' })).toEqual({
      lookup: false,
      store: false,
    });
    expect(cacheDirectives(spec, req(), { cacheControl: 'max-age=60' })).toEqual({
      lookup: true,
      store: true,
    });
  });
});

const completion = (text: string): ChatCompletion => ({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1,
  model: 'gpt-x',
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: text, refusal: null },
      finish_reason: 'stop',
      logprobs: null,
    },
  ],
  usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 },
});
const entry = (text: string): CacheEntry => ({
  completion: completion(text),
  model: 'small',
  provider: 'sim',
  tier: 'cheap',
  costUSD: 0.001,
  baselineUSD: 0.01,
});

describe('ResponseCache', () => {
  it('serves what was put under the same scope and key until the TTL passes', () => {
    const cache = new ResponseCache();
    const key = cacheKey(scope, 'cheap', req());
    expect(cache.get(scope, spec, key, 0)).toBeUndefined();
    cache.put(scope, spec, key, entry('4'), 0);
    expect(cache.get(scope, spec, key, 59_999)?.completion.choices[0]?.message.content).toBe('4');
    expect(cache.get({ ...scope, route: 'other' }, spec, key, 1)).toBeUndefined();
    expect(cache.get(scope, spec, key, 60_000)).toBeUndefined();
  });

  it("stays within each route's maxBytes, evicting the least recently used answer", () => {
    const cache = new ResponseCache();
    const one = entryBytes('k1', entry('a'.repeat(100)));
    const small = { ...spec, maxBytes: Math.floor(one * 2.5) };
    cache.put(scope, small, 'k1', entry('a'.repeat(100)), 0);
    cache.put(scope, small, 'k2', entry('b'.repeat(100)), 0);
    cache.get(scope, small, 'k1', 1);
    cache.put(scope, small, 'k3', entry('c'.repeat(100)), 2);
    expect(cache.get(scope, small, 'k2', 3)).toBeUndefined();
    expect(cache.get(scope, small, 'k1', 3)).toBeDefined();
    expect(cache.stats(scope).bytes).toBeLessThanOrEqual(small.maxBytes);
    expect(cache.stats(scope).entries).toBe(2);
  });

  it('drops the memory of routes whose cache went away on a config change', () => {
    const cache = new ResponseCache();
    cache.put(scope, spec, 'k', entry('x'), 0);
    cache.retain(() => undefined, 1);
    expect(cache.stats(scope)).toEqual({ bytes: 0, entries: 0 });
  });
});

describe('stream <-> whole answer', () => {
  it('replays an answer with tool calls as chunks that assemble back into the same answer', () => {
    const c: ChatCompletion = {
      ...completion(''),
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: null,
            tool_calls: [
              { id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } },
              { id: 'call_2', type: 'function', function: { name: 'time', arguments: '{}' } },
            ],
            refusal: null,
          },
          finish_reason: 'tool_calls',
          logprobs: null,
        },
      ],
    };
    const chunks = chunksFromCompletion(c);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: c.usage });
    expect(completionFromChunks(chunks)).toEqual(c);
    const text = completion('four');
    expect(completionFromChunks(chunksFromCompletion(text))).toEqual(text);
  });

  it("keeps an answer's thinking: blocks and their text replay as a live stream has them, and assemble back", () => {
    const c: ChatCompletion = {
      ...completion('Sunny.'),
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: 'Sunny.',
            refusal: null,
            reasoning_content: 'Look outside.',
            thinking_blocks: [
              { type: 'thinking', thinking: 'Look outside.', signature: 'sig-1' },
              { type: 'redacted_thinking', data: 'EuYB' },
            ],
          },
          finish_reason: 'stop',
          logprobs: null,
        },
      ],
    };
    const chunks = chunksFromCompletion(c);
    expect(chunks.slice(1, 4).map((ch) => ch.choices[0]!.delta)).toEqual([
      { reasoning_content: 'Look outside.' },
      { thinking_blocks: [{ type: 'thinking', thinking: 'Look outside.', signature: 'sig-1' }] },
      { thinking_blocks: [{ type: 'redacted_thinking', data: 'EuYB' }] },
    ]);
    expect(completionFromChunks(chunks)).toEqual(c);
  });

  it('assembles a live stream split anywhere, and refuses one that never finished', () => {
    const base = { id: 'x', object: 'chat.completion.chunk' as const, created: 1, model: 'm' };
    const chunks = [
      {
        ...base,
        choices: [{ index: 0, delta: { role: 'assistant' as const, content: 'He' }, finish_reason: null }],
      },
      { ...base, choices: [{ index: 0, delta: { content: 'llo' }, finish_reason: null }] },
    ];
    expect(completionFromChunks(chunks)).toBeUndefined();
    const finished = [...chunks, { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }];
    expect(completionFromChunks(finished)?.choices[0]?.message.content).toBe('Hello');
    expect(completionFromChunks([])).toBeUndefined();
  });
});

describe('lookupCache', () => {
  it('finds a stored answer for the same request, and bypasses on no-cache', () => {
    const cache = new ResponseCache();
    expect(lookupCache(cache, undefined, scope, 'cheap', req(), {}, 0)).toBeUndefined();
    expect(lookupCache(cache, spec, scope, 'cheap', req({ temperature: 1 }), {}, 0)).toBeUndefined();
    const miss = lookupCache(cache, spec, scope, 'cheap', req(), {}, 0)!;
    expect(miss.hit).toBeUndefined();
    cache.put(scope, spec, miss.key, entry('4'), 0);
    expect(
      lookupCache(cache, spec, scope, 'cheap', req({ stream: true }), {}, 1)?.hit?.completion.choices[0]
        ?.message.content,
    ).toBe('4');
    const bypass = lookupCache(cache, spec, scope, 'cheap', req(), { cacheControl: 'no-cache' }, 1)!;
    expect(bypass.hit).toBeUndefined();
    expect(bypass.directives.store).toBe(true);
    expect(hitSavedUSD(entry('x'), true)).toBe(0.01);
    expect(hitSavedUSD(entry('x'), false)).toBe(0.001);
  });
});
