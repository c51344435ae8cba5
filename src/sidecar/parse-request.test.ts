import { describe, expect, it } from 'vitest';
import { chatCompletionRequest } from '../api/openai.js';
import { TiermeshError } from '../errors.js';
import { commonChatRequest, isJsonContentType, parseChatRequest } from './parse-request.js';

const ok = { model: 'auto', messages: [{ role: 'user', content: 'hi' }] };
const buf = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));

function error(fn: () => unknown): TiermeshError {
  try {
    fn();
  } catch (e) {
    if (e instanceof TiermeshError) return e;
    throw e;
  }
  throw new Error('expected a TiermeshError');
}

describe('parseChatRequest', () => {
  it('accepts a valid request and keeps unknown fields for the upstream', () => {
    const r = parseChatRequest('application/json; charset=utf-8', buf({ ...ok, seed: 7 }));
    expect(r.model).toBe('auto');
    expect((r as Record<string, unknown>)['seed']).toBe(7);
  });

  it('rejects broken JSON with TM_INVALID_JSON (400)', () => {
    const e = error(() => parseChatRequest('application/json', buf('{"model": ')));
    expect(e.code).toBe('TM_INVALID_JSON');
    expect(e.status).toBe(400);
  });

  it('names the missing field in message and param', () => {
    const e = error(() => parseChatRequest(undefined, buf({ model: 'auto' })));
    expect(e.code).toBe('TM_INVALID_REQUEST');
    expect(e.param).toBe('messages');
    expect(e.message).toContain('messages');
  });

  it('bounds user at 253 characters, naming the field (the fast path too)', () => {
    expect(parseChatRequest(undefined, buf({ ...ok, user: 'u'.repeat(253) })).user).toHaveLength(253);
    const e = error(() => parseChatRequest(undefined, buf({ ...ok, user: 'u'.repeat(254) })));
    expect(e.code).toBe('TM_INVALID_REQUEST');
    expect(e.status).toBe(400);
    expect(e.param).toBe('user');
    expect(e.message).toContain('user');
  });

  it('names nested fields with their index', () => {
    const e = error(() =>
      parseChatRequest(undefined, buf({ model: 'auto', messages: [{ role: 'robot', content: 'x' }] })),
    );
    expect(e.param).toBe('messages[0].role');
  });

  it('rejects out-of-range sampling parameters', () => {
    expect(error(() => parseChatRequest(undefined, buf({ ...ok, temperature: 3 }))).param).toBe(
      'temperature',
    );
  });

  const SECRET = 'my secret prompt text';
  const msg = (content: unknown, extra: Record<string, unknown> = {}) => ({
    ...ok,
    messages: [{ role: 'user', content, ...extra }],
  });
  it.each([
    ['messages: "hi"', { ...ok, messages: 'hi' }, 'messages', 'messages: expected array, received string'],
    ['model: 5', { ...ok, model: 5 }, 'model', 'model: expected string, received number'],
    [
      'temperature: "hot"',
      { ...ok, temperature: 'hot' },
      'temperature',
      'temperature: expected number, received string',
    ],
    ['stream: "yes"', { ...ok, stream: 'yes' }, 'stream', 'stream: expected boolean, received string'],
    ['max_tokens: 1.5', { ...ok, max_tokens: 1.5 }, 'max_tokens', 'max_tokens: expected an integer'],
    ['max_tokens: 0', { ...ok, max_tokens: 0 }, 'max_tokens', 'max_tokens: must be >= 1'],
    [
      'a message that is a string',
      { ...ok, messages: [SECRET] },
      'messages[0]',
      'messages[0]: expected object, received string',
    ],
    [
      'content: 5',
      msg(5),
      'messages[0].content',
      'messages[0].content: expected string, array or null, received number',
    ],
    [
      'a text part with a number text',
      msg([{ type: 'text', text: 5 }]),
      'messages[0].content[0].text',
      'messages[0].content[0].text: expected string, received number',
    ],
    [
      'a text part without text',
      msg([{ type: 'text' }]),
      'messages[0].content[0].text',
      'messages[0].content[0].text: required field is missing',
    ],
    [
      'null user content',
      msg(null),
      'messages[0].content',
      'messages[0].content: must be a string or an array of content parts; null is allowed only on an assistant message with tool_calls',
    ],
    [
      'missing user content',
      { ...ok, messages: [{ role: 'user' }] },
      'messages[0].content',
      'messages[0].content: required field is missing',
    ],
    ['n: -1', { ...ok, n: -1 }, 'n', 'n: must be >= 1'],
    ['n: 1000', { ...ok, n: 1000 }, 'n', 'n: must be <= 128'],
    ['tools: "nope"', { ...ok, tools: 'nope' }, 'tools', 'tools: expected array, received string'],
    ['model: ""', { ...ok, model: '' }, 'model', 'model: must not be empty'],
    ['messages: []', { ...ok, messages: [] }, 'messages', 'messages: must not be empty'],
    ['stop: 5', { ...ok, stop: 5 }, 'stop', 'stop: expected string or array, received number'],
    [
      'response_format type',
      { ...ok, response_format: { type: 'bogus' } },
      'response_format.type',
      'response_format.type: expected one of "text"|"json_object"|"json_schema"',
    ],
    [
      'response_format json_schema without json_schema',
      { ...ok, response_format: { type: 'json_schema' } },
      'response_format.json_schema',
      'response_format.json_schema: required field is missing',
    ],
    [
      'response_format json_schema without a name',
      { ...ok, response_format: { type: 'json_schema', json_schema: { schema: {} } } },
      'response_format.json_schema.name',
      'response_format.json_schema.name: required field is missing',
    ],
    [
      'an unknown role',
      { ...ok, messages: [{ role: SECRET, content: SECRET }] },
      'messages[0].role',
      'messages[0].role: expected one of "system"|"developer"|"user"|"assistant"|"tool"|"function"',
    ],
  ])('%s: 400 naming the field and the wrong type, quoting no input', (_, body, param, message) => {
    const e = error(() => parseChatRequest(undefined, buf(body)));
    expect(e.code).toBe('TM_INVALID_REQUEST');
    expect(e.status).toBe(400);
    expect(e.param).toBe(param);
    expect(e.message).toBe(message);
    expect(e.message).not.toContain('secret');
  });

  it('names a missing model as missing, not as a wrong type', () => {
    const e = error(() => parseChatRequest(undefined, buf({ messages: ok.messages })));
    expect(e.param).toBe('model');
    expect(e.message).toBe('model: required field is missing');
  });

  it('accepts null content on an assistant message that calls tools, and non-text parts as they are', () => {
    const call = { id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } };
    const r = parseChatRequest(
      undefined,
      buf({
        ...ok,
        n: 2,
        tools: [{ type: 'function', function: { name: 'f' } }],
        messages: [
          { role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:,' } }] },
          { role: 'assistant', content: null, tool_calls: [call] },
          { role: 'tool', tool_call_id: 'c1', content: 'ok' },
        ],
      }),
    );
    expect(r.messages).toHaveLength(3);
    // Without tool_calls the same null content is rejected.
    const e = error(() =>
      parseChatRequest(undefined, buf({ ...ok, messages: [{ role: 'assistant', content: null }] })),
    );
    expect(e.param).toBe('messages[0].content');
  });

  it('broken JSON says where, never what the body said', () => {
    for (const body of [`{"messages":[{"content":"${SECRET}" x}]}`, `${SECRET}`, '{"model": ']) {
      const e = error(() => parseChatRequest('application/json', buf(body)));
      expect(e.code).toBe('TM_INVALID_JSON');
      expect(e.message).toMatch(/^request body is not valid JSON/);
      expect(e.message).not.toContain('secret');
      expect(e.message).not.toContain('"');
    }
    expect(error(() => parseChatRequest(undefined, buf('{"a":1,}'))).message).toBe(
      'request body is not valid JSON (at character 7)',
    );
  });

  it('rejects non-object bodies and other media types', () => {
    expect(error(() => parseChatRequest(undefined, buf('[1]'))).code).toBe('TM_INVALID_REQUEST');
    expect(error(() => parseChatRequest('text/plain', buf(ok))).status).toBe(415);
  });

  it('content types', () => {
    expect(isJsonContentType('application/json')).toBe(true);
    expect(isJsonContentType('Application/JSON;charset=utf-8')).toBe(true);
    expect(isJsonContentType('application/vnd.api+json')).toBe(true);
    expect(isJsonContentType('multipart/form-data')).toBe(false);
  });
});

describe('commonChatRequest (the hand-checked fast path)', () => {
  const text = (role: string, content: unknown = 'hi') => ({ role, content });
  // Valid and invalid shapes, near the fast path's edges: whatever it accepts must be exactly what zod returns.
  const cases: Record<string, unknown>[] = [
    ok,
    {
      ...ok,
      stream: false,
      temperature: 0.7,
      top_p: 1,
      max_tokens: 64,
      max_completion_tokens: 1,
      n: 128,
      user: 'u',
    },
    { ...ok, stream: null, temperature: null, top_p: null, max_tokens: null, n: null, user: null },
    {
      ...ok,
      messages: [text('system'), text('developer'), text('user', ''), text('assistant'), text('tool')],
    },
    { messages: ok.messages, model: 'auto' },
    { ...ok, seed: 7 },
    { ...ok, stream_options: { include_usage: true } },
    { ...ok, messages: [{ content: 'hi', role: 'user' }] },
    { ...ok, messages: [{ role: 'user', content: 'hi', name: 'n' }] },
    { ...ok, messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'x' }] }] },
    { ...ok, messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] },
    { ...ok, messages: [text('robot')] },
    { ...ok, messages: [text('user', 5)] },
    { ...ok, messages: [{ role: 'user' }] },
    { ...ok, messages: [] },
    { ...ok, messages: ['hi'] },
    { ...ok, messages: [[]] },
    { ...ok, model: '' },
    { ...ok, model: 5 },
    { model: 'auto' },
    { messages: ok.messages },
    {},
    { ...ok, temperature: 2 },
    { ...ok, temperature: 2.01 },
    { ...ok, temperature: -0.1 },
    { ...ok, top_p: 1.5 },
    { ...ok, max_tokens: 0 },
    { ...ok, max_tokens: 1.5 },
    { ...ok, max_tokens: 2 ** 53 },
    { ...ok, n: 129 },
    { ...ok, stream: 'yes' },
    { ...ok, user: 5 },
    { ...ok, temperature: '1' },
    JSON.parse('{"model":"auto","messages":[{"role":"user","content":"hi"}],"__proto__":{"x":1}}'),
  ];
  it.each(cases.map((c) => [JSON.stringify(c), c]))('%s: accepted only as zod returns it', (_, c) => {
    const zod = chatCompletionRequest.safeParse(c);
    const fast = commonChatRequest(c as object);
    if (!zod.success) expect(fast).toBeUndefined();
    if (fast) expect(JSON.stringify(fast)).toBe(JSON.stringify(zod.data));
  });

  it('takes the plain request most clients send', () => {
    expect(commonChatRequest(ok)).toBe(ok);
    expect(commonChatRequest({ ...ok, stream: true, temperature: 0, max_tokens: 10 })).toBeDefined();
  });
});

describe('cache_control breakpoints (LiteLLM convention)', () => {
  const eph = { type: 'ephemeral' };
  it('are accepted on text and image parts, messages and tools', () => {
    const r = parseChatRequest(
      undefined,
      buf({
        model: 'auto',
        messages: [
          { role: 'system', content: 'sys', cache_control: { type: 'ephemeral', ttl: '1h' } },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'a', cache_control: eph },
              { type: 'image_url', image_url: { url: 'https://example.com/a.png' }, cache_control: eph },
            ],
          },
        ],
        tools: [{ type: 'function', function: { name: 'f' }, cache_control: eph }],
      }),
    );
    expect(r.messages[1]?.content).toEqual([
      { type: 'text', text: 'a', cache_control: eph },
      { type: 'image_url', image_url: { url: 'https://example.com/a.png' }, cache_control: eph },
    ]);
  });

  it('of another type or ttl are a 400 naming the field', () => {
    for (const part of [
      { type: 'text', text: 'a', cache_control: { type: 'persistent' } },
      {
        type: 'image_url',
        image_url: { url: 'https://example.com/a.png' },
        cache_control: { type: 'ephemeral', ttl: '2h' },
      },
    ]) {
      const e = error(() =>
        parseChatRequest(undefined, buf({ model: 'auto', messages: [{ role: 'user', content: [part] }] })),
      );
      expect(e.status).toBe(400);
      expect(e.message).toContain('cache_control');
    }
    const tool = error(() =>
      parseChatRequest(
        undefined,
        buf({ ...ok, tools: [{ type: 'function', function: { name: 'f' }, cache_control: { type: 'x' } }] }),
      ),
    );
    expect(tool.message).toContain('tools');
  });
});
