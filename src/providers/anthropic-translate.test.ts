import { describe, expect, it } from 'vitest';
import type { ChatCompletionChunk, ChatCompletionRequest } from '../api/openai.js';
import {
  AnthropicStreamTranslator,
  anthropicToolId,
  finishReason,
  fromAnthropicMessage,
  toAnthropicRequest,
  untranslatable,
} from './anthropic-translate.js';
import { ProviderError } from './types.js';

const req = (r: Partial<ChatCompletionRequest>): ChatCompletionRequest => ({
  model: 'claude-3-5-haiku-latest',
  messages: [{ role: 'user', content: 'hi' }],
  ...r,
});

describe('toAnthropicRequest', () => {
  it('moves system and developer messages to `system`', () => {
    const out = toAnthropicRequest(
      req({
        messages: [
          { role: 'system', content: 'Be terse.' },
          { role: 'developer', content: 'Use British spelling.' },
          { role: 'user', content: 'Colour?' },
        ],
      }),
    );
    expect(out.system).toBe('Be terse.\n\nUse British spelling.');
    expect(out.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'Colour?' }] }]);
  });

  it('merges consecutive roles, sends tool results as user turns, drops empty messages, opens with a user turn', () => {
    const out = toAnthropicRequest(
      req({
        messages: [
          { role: 'assistant', content: 'Hello, how can I help?' },
          { role: 'user', content: 'one' },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'two' },
              { type: 'text', text: '' },
            ],
          },
          { role: 'assistant', content: null, tool_calls: [] },
          { role: 'assistant', content: 'three' },
          { role: 'tool', content: 'result', tool_call_id: 'x' },
        ],
      }),
    );
    expect(out.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant', 'user']);
    expect(out.messages[2]?.content).toEqual([
      { type: 'text', text: 'one' },
      { type: 'text', text: 'two' },
    ]);
    expect(out.messages[4]?.content).toEqual([{ type: 'tool_result', tool_use_id: 'x', content: 'result' }]);
  });

  it('maps max tokens, stop, temperature, top_p, user and stream', () => {
    const out = toAnthropicRequest(
      req({ max_tokens: 50, stop: 'END', temperature: 1.6, top_p: 0.9, user: 'u1', stream: true }),
    );
    expect(out).toMatchObject({
      max_tokens: 50,
      stop_sequences: ['END'],
      temperature: 1,
      top_p: 0.9,
      stream: true,
    });
    expect(out.metadata).toEqual({ user_id: 'u1' });
    expect(toAnthropicRequest(req({ max_completion_tokens: 9, max_tokens: 50 })).max_tokens).toBe(9);
    expect(toAnthropicRequest(req({})).max_tokens).toBe(4096);
    expect(toAnthropicRequest(req({ stop: ['a', 'b'] })).stop_sequences).toEqual(['a', 'b']);
    expect(toAnthropicRequest(req({})).stream).toBeUndefined();
  });

  it('rewrites tool-call ids Anthropic refuses, the same way in tool_use and the tool_result answering it', () => {
    const id = 'functions.get_weather:0';
    const out = toAnthropicRequest(
      req({
        tools: [
          {
            type: 'function',
            function: { name: 'get_weather', parameters: { type: 'object', properties: {} } },
          },
        ],
        messages: [
          { role: 'user', content: 'w' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id, type: 'function', function: { name: 'get_weather', arguments: '{}' } }],
          },
          { role: 'tool', tool_call_id: id, content: '20C' },
        ],
      }),
    );
    const use = out.messages[1]?.content[0] as { type: string; id: string };
    const result = out.messages[2]?.content[0] as { type: string; tool_use_id: string };
    expect(use.type).toBe('tool_use');
    expect(use.id).toMatch(/^[a-zA-Z0-9_-]+$/);
    expect(result).toEqual({ type: 'tool_result', tool_use_id: use.id, content: '20C' });
  });

  it('sends images in a tool message as image blocks of the tool_result', () => {
    const out = toAnthropicRequest(
      req({
        tools: [{ type: 'function', function: { name: 'shot' } }],
        messages: [
          { role: 'user', content: 'look' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'shot', arguments: '{}' } }],
          },
          {
            role: 'tool',
            tool_call_id: 'call_1',
            content: [
              { type: 'text', text: 'see' },
              { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
            ],
          },
        ],
      }),
    );
    expect(out.messages[2]?.content).toEqual([
      {
        type: 'tool_result',
        tool_use_id: 'call_1',
        content: [
          { type: 'text', text: 'see' },
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
        ],
      },
    ]);
  });

  it('asks for JSON in the system prompt when response_format wants JSON', () => {
    const out = toAnthropicRequest(
      req({
        response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' } } },
      }),
    );
    expect(out.system).toContain('valid JSON');
    expect(out.system).toContain('{"type":"object"}');
  });
});

describe('untranslatable', () => {
  it('declines legacy functions and audio/file parts, accepts text, images and tools', () => {
    expect(untranslatable(req({}))).toBeUndefined();
    expect(untranslatable(req({ tools: [{ type: 'function', function: { name: 'f' } }] }))).toBeUndefined();
    expect(
      untranslatable(
        req({
          messages: [
            { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] },
          ],
        }),
      ),
    ).toBeUndefined();
    expect(untranslatable(req({ functions: [{ name: 'f', parameters: {} }] }))).toContain('legacy function');
    expect(untranslatable(req({ messages: [{ role: 'function', name: 'f', content: '1' }] }))).toContain(
      'legacy function',
    );
    expect(
      untranslatable(
        req({ messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: {} }] }] }),
      ),
    ).toContain('other than text and images');
    expect(
      untranslatable(req({ messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }] }] })),
    ).toBeUndefined();
  });

  it('declines what would change the answer and has no Anthropic counterpart, naming the field', () => {
    expect(untranslatable(req({ n: 3 }))).toBe(
      'more than one choice (n > 1) (asked for by n) is not translated to Anthropic',
    );
    expect(untranslatable(req({ n: 1 }))).toBeUndefined();
    expect(untranslatable(req({ logprobs: true } as Partial<ChatCompletionRequest>))).toContain(
      'asked for by logprobs',
    );
    expect(untranslatable(req({ logprobs: false } as Partial<ChatCompletionRequest>))).toBeUndefined();
    expect(untranslatable(req({ top_logprobs: 2 } as Partial<ChatCompletionRequest>))).toContain(
      'asked for by top_logprobs',
    );
    expect(untranslatable(req({ stop: ['\n'] }))).toContain('whitespace-only stop sequences');
    expect(untranslatable(req({ stop: ['END', ' \t'] }))).toContain('asked for by stop');
    expect(untranslatable(req({ stop: ['END', ''] }))).toBeUndefined();
    expect(
      untranslatable(req({ modalities: ['text', 'audio'] } as Partial<ChatCompletionRequest>)),
    ).toContain('audio output');
    // Sampling hints only tune the answer: dropped (documented), not declined.
    expect(
      untranslatable(
        req({ seed: 1, presence_penalty: 1, logit_bias: { '1': 2 } } as Partial<ChatCompletionRequest>),
      ),
    ).toBeUndefined();
  });
});

describe('anthropicToolId', () => {
  it('keeps valid ids and rewrites others deterministically, keeping distinct ids distinct', () => {
    expect(anthropicToolId('call_abc-1')).toBe('call_abc-1');
    const a = anthropicToolId('functions.get_weather:0');
    expect(a).toMatch(/^functions_get_weather_0_[0-9a-f]{8}$/);
    expect(anthropicToolId('functions.get_weather:0')).toBe(a);
    const b = anthropicToolId('functions:get_weather.0');
    expect(b).toMatch(/^[a-zA-Z0-9_-]+$/);
    expect(b).not.toBe(a);
  });
});

const weather = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

function clientError(f: () => unknown): ProviderError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ProviderError);
    expect((e as ProviderError).reason).toBe('client_error');
    expect((e as ProviderError).status).toBe(400);
    return e as ProviderError;
  }
  throw new Error('expected a client_error');
}

describe('toAnthropicRequest: tools', () => {
  it('translates tool definitions, defaulting a missing parameter schema to an empty object schema', () => {
    const out = toAnthropicRequest(
      req({ tools: [weather, { type: 'function', function: { name: 'now' } }] }),
    );
    expect(out.tools).toEqual([
      {
        name: 'get_weather',
        description: 'Current weather for a city',
        input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      },
      { name: 'now', input_schema: { type: 'object', properties: {} } },
    ]);
    expect(out.tool_choice).toBeUndefined();
    expect(toAnthropicRequest(req({ tools: [] })).tools).toBeUndefined();
  });

  it('maps tool_choice and parallel_tool_calls', () => {
    const choice = (tool_choice: unknown, extra: Record<string, unknown> = {}) =>
      toAnthropicRequest(req({ tools: [weather], tool_choice, ...extra })).tool_choice;
    expect(choice('auto')).toBeUndefined();
    expect(choice('none')).toEqual({ type: 'none' });
    expect(choice('required')).toEqual({ type: 'any' });
    expect(choice({ type: 'function', function: { name: 'get_weather' } })).toEqual({
      type: 'tool',
      name: 'get_weather',
    });
    expect(choice('auto', { parallel_tool_calls: false })).toEqual({
      type: 'auto',
      disable_parallel_tool_use: true,
    });
    expect(choice('required', { parallel_tool_calls: false })).toEqual({
      type: 'any',
      disable_parallel_tool_use: true,
    });
    expect(clientError(() => choice({ type: 'function', function: { name: 'other' } })).message).toContain(
      'not in tools',
    );
    clientError(() => choice('sometimes'));
    clientError(() => toAnthropicRequest(req({ tool_choice: 'required' })));
    clientError(() => toAnthropicRequest(req({ tools: [{ type: 'web_search' }] })));
    clientError(() =>
      toAnthropicRequest(req({ tools: [{ type: 'function', function: { parameters: {} } }] })),
    );
  });

  it('turns assistant tool_calls into tool_use blocks and tool messages into one merged user turn of results', () => {
    const out = toAnthropicRequest(
      req({
        tools: [weather],
        messages: [
          { role: 'user', content: 'Weather in Paris and Oslo?' },
          {
            role: 'assistant',
            content: 'Checking both.',
            tool_calls: [
              {
                id: 'call_1',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
              },
              {
                id: 'call_2',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
              },
            ],
          },
          { role: 'tool', tool_call_id: 'call_1', content: '18C sunny' },
          { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: '4C rain' }] },
          { role: 'user', content: 'Which is warmer?' },
        ],
      }),
    );
    expect(out.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Oslo?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Checking both.' },
          { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'call_2', name: 'get_weather', input: { city: 'Oslo' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'call_1', content: '18C sunny' },
          { type: 'tool_result', tool_use_id: 'call_2', content: '4C rain' },
          { type: 'text', text: 'Which is warmer?' },
        ],
      },
    ]);
  });

  it('sends a tool call with empty arguments as {} and an empty tool result without content', () => {
    const out = toAnthropicRequest(
      req({
        messages: [
          { role: 'user', content: 'time?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'c', type: 'function', function: { name: 'now', arguments: '' } }],
          },
          { role: 'tool', tool_call_id: 'c', content: '' },
        ],
      }),
    );
    expect(out.messages[1]?.content).toEqual([{ type: 'tool_use', id: 'c', name: 'now', input: {} }]);
    expect(out.messages[2]?.content).toEqual([{ type: 'tool_result', tool_use_id: 'c' }]);
  });

  it('rejects malformed tool calls and tool messages as client errors, not crashes', () => {
    const withCall = (tc: unknown) =>
      toAnthropicRequest(
        req({
          messages: [
            { role: 'user', content: 'x' },
            { role: 'assistant', content: null, tool_calls: [tc] },
          ],
        }),
      );
    expect(
      clientError(() => withCall({ id: 'c', type: 'function', function: { name: 'f', arguments: '{"a":' } }))
        .message,
    ).toContain('messages.1.tool_calls.0.function.arguments is not valid JSON');
    clientError(() => withCall({ id: 'c', type: 'function', function: { name: 'f', arguments: '[1]' } }));
    clientError(() => withCall({ id: 'c', type: 'function', function: { name: 'f', arguments: { a: 1 } } }));
    clientError(() => withCall({ type: 'function', function: { name: 'f', arguments: '{}' } }));
    clientError(() => withCall({ id: 'c', type: 'function', function: { arguments: '{}' } }));
    clientError(() => withCall(null));
    clientError(() => toAnthropicRequest(req({ messages: [{ role: 'tool', content: 'r' }] })));
  });
});

describe('toAnthropicRequest: images', () => {
  const user = (content: unknown) => req({ messages: [{ role: 'user', content: content as never }] });

  it('inlines data URLs as base64 and passes http(s) URLs by reference, keeping part order', () => {
    const out = toAnthropicRequest(
      user([
        { type: 'text', text: 'Compare these:' },
        { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' } },
        { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
      ]),
    );
    expect(out.messages[0]?.content).toEqual([
      { type: 'text', text: 'Compare these:' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
    ]);
  });

  it('rejects images Anthropic cannot take as client errors', () => {
    clientError(() => toAnthropicRequest(user([{ type: 'image_url' }])));
    clientError(() =>
      toAnthropicRequest(user([{ type: 'image_url', image_url: { url: 'data:image/bmp;base64,Qk0=' } }])),
    );
    clientError(() =>
      toAnthropicRequest(user([{ type: 'image_url', image_url: { url: 'data:image/png;base64,' } }])),
    );
    clientError(() =>
      toAnthropicRequest(user([{ type: 'image_url', image_url: { url: 'file:///etc/passwd' } }])),
    );
  });
});

describe('fromAnthropicMessage', () => {
  it('builds a chat.completion with usage and mapped finish reason', () => {
    const c = fromAnthropicMessage(
      {
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model: 'claude-3-5-haiku-20241022',
        content: [
          { type: 'text', text: 'Hello' },
          { type: 'text', text: ' world' },
        ],
        stop_reason: 'max_tokens',
        usage: {
          input_tokens: 10,
          output_tokens: 5,
          cache_read_input_tokens: 2,
          cache_creation_input_tokens: null,
        },
      },
      123,
    );
    expect(c).toMatchObject({
      id: 'msg_1',
      object: 'chat.completion',
      created: 123,
      model: 'claude-3-5-haiku-20241022',
    });
    expect(c.choices[0]).toMatchObject({
      message: { role: 'assistant', content: 'Hello world' },
      finish_reason: 'length',
    });
    // Cache reads are part of prompt_tokens (billed once) and reported as cached_tokens, as OpenAI does.
    expect(c.usage).toEqual({
      prompt_tokens: 12,
      completion_tokens: 5,
      total_tokens: 17,
      prompt_tokens_details: { cached_tokens: 2 },
    });
  });

  it('turns tool_use blocks into tool_calls, with null content when there is no text', () => {
    const msg = (
      content: Array<{ type: string; text?: string; id?: string; name?: string; input?: unknown }>,
    ) =>
      fromAnthropicMessage(
        {
          id: 'msg_t',
          type: 'message',
          role: 'assistant',
          model: 'claude-x',
          content,
          stop_reason: 'tool_use',
          usage: { input_tokens: 3, output_tokens: 4 },
        },
        1,
      ).choices[0];
    const only = msg([
      { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
      { type: 'tool_use', id: 'toolu_2', name: 'now', input: {} },
    ]);
    expect(only).toMatchObject({
      finish_reason: 'tool_calls',
      message: {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 'toolu_1',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
          },
          { id: 'toolu_2', type: 'function', function: { name: 'now', arguments: '{}' } },
        ],
      },
    });
    const mixed = msg([
      { type: 'text', text: 'Let me check.' },
      { type: 'tool_use', id: 'toolu_3', name: 'now', input: {} },
    ]);
    expect(mixed?.message.content).toBe('Let me check.');
    expect(mixed?.message.tool_calls).toHaveLength(1);
    expect(msg([{ type: 'text', text: 'plain' }])?.message).not.toHaveProperty('tool_calls');
  });

  it('maps stop reasons', () => {
    expect(finishReason('end_turn')).toBe('stop');
    expect(finishReason('stop_sequence')).toBe('stop');
    expect(finishReason('max_tokens')).toBe('length');
    expect(finishReason('model_context_window_exceeded')).toBe('length');
    expect(finishReason('tool_use')).toBe('tool_calls');
    expect(finishReason('refusal')).toBe('content_filter');
    expect(finishReason(null)).toBeNull();
  });
});

describe('AnthropicStreamTranslator', () => {
  it('translates the event sequence into OpenAI chunks with usage at the end', () => {
    const t = new AnthropicStreamTranslator('anthropic', 'requested', 1);
    const events: Array<[string, unknown]> = [
      [
        'message_start',
        {
          type: 'message_start',
          message: { id: 'msg_9', model: 'claude-x', usage: { input_tokens: 25, output_tokens: 1 } },
        },
      ],
      [
        'content_block_start',
        { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      ],
      ['ping', { type: 'ping' }],
      [
        'content_block_delta',
        { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hi' } },
      ],
      [
        'content_block_delta',
        { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: ' there' } },
      ],
      ['content_block_stop', { type: 'content_block_stop', index: 0 }],
      [
        'message_delta',
        { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 7 } },
      ],
      ['message_stop', { type: 'message_stop' }],
    ];
    const chunks: ChatCompletionChunk[] = events.flatMap(([e, d]) => t.onEvent(e, d));
    expect(t.done).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta ?? null)).toEqual([
      { role: 'assistant', content: '' },
      { content: 'Hi' },
      { content: ' there' },
      {},
      null,
    ]);
    expect(
      chunks.every((c) => c.id === 'msg_9' && c.model === 'claude-x' && c.object === 'chat.completion.chunk'),
    ).toBe(true);
    expect(chunks[3]?.choices[0]?.finish_reason).toBe('stop');
    expect(chunks[4]).toMatchObject({
      choices: [],
      usage: { prompt_tokens: 25, completion_tokens: 7, total_tokens: 32 },
    });
  });

  it('reports cache reads from message_start and a later message_delta as cached_tokens', () => {
    const t = new AnthropicStreamTranslator('anthropic', 'requested', 1);
    t.onEvent('message_start', {
      message: { id: 'm', model: 'c', usage: { input_tokens: 5, cache_read_input_tokens: 100 } },
    });
    t.onEvent('message_delta', {
      delta: { stop_reason: 'end_turn' },
      usage: { output_tokens: 3, cache_read_input_tokens: 120 },
    });
    const [last] = t.onEvent('message_stop', {});
    expect(last?.usage).toEqual({
      prompt_tokens: 125,
      completion_tokens: 3,
      total_tokens: 128,
      prompt_tokens_details: { cached_tokens: 120 },
    });
  });

  it('translates tool_use blocks and input_json_delta into OpenAI tool_call deltas', () => {
    const t = new AnthropicStreamTranslator('anthropic', 'requested', 1);
    const ev = (type: string, rest: Record<string, unknown>) => t.onEvent(type, { type, ...rest });
    const chunks: ChatCompletionChunk[] = [
      ...ev('message_start', { message: { id: 'msg_t', model: 'claude-x', usage: { input_tokens: 9 } } }),
      ...ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
      ...ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Checking.' } }),
      ...ev('content_block_stop', { index: 0 }),
      ...ev('content_block_start', {
        index: 1,
        content_block: { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} },
      }),
      ...ev('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '' } }),
      ...ev('content_block_delta', {
        index: 1,
        delta: { type: 'input_json_delta', partial_json: '{"city": ' },
      }),
      ...ev('content_block_delta', {
        index: 1,
        delta: { type: 'input_json_delta', partial_json: '"Paris"}' },
      }),
      ...ev('content_block_stop', { index: 1 }),
      ...ev('content_block_start', {
        index: 2,
        content_block: { type: 'tool_use', id: 'toolu_2', name: 'now', input: {} },
      }),
      ...ev('content_block_stop', { index: 2 }),
      ...ev('message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 30 } }),
      ...ev('message_stop', {}),
    ];
    expect(chunks.map((c) => c.choices[0]?.delta ?? null)).toEqual([
      { role: 'assistant', content: '' },
      { content: 'Checking.' },
      {
        tool_calls: [
          { index: 0, id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '' } },
        ],
      },
      { tool_calls: [{ index: 0, function: { arguments: '{"city": ' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] },
      {
        tool_calls: [{ index: 1, id: 'toolu_2', type: 'function', function: { name: 'now', arguments: '' } }],
      },
      { tool_calls: [{ index: 1, function: { arguments: '{}' } }] },
      {},
      null,
    ]);
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('tool_calls');
    expect(chunks.at(-1)?.usage).toEqual({ prompt_tokens: 9, completion_tokens: 30, total_tokens: 39 });
    expect(t.done).toBe(true);
  });

  it('throws a typed error on an error event', () => {
    const t = new AnthropicStreamTranslator('anthropic', 'm');
    try {
      t.onEvent('error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ProviderError);
      expect((e as ProviderError).reason).toBe('server_error');
      expect((e as ProviderError).overloaded).toBe(true);
    }
    const other = new AnthropicStreamTranslator('anthropic', 'm');
    expect(() =>
      other.onEvent('error', { type: 'error', error: { type: 'api_error', message: 'x' } }),
    ).toThrow(expect.objectContaining({ reason: 'server_error', overloaded: false }));
  });
});

describe('toAnthropicRequest: prompt-cache breakpoints', () => {
  const eph = { type: 'ephemeral' as const };
  const fn = (name: string, cc?: typeof eph) => ({
    type: 'function',
    function: { name, parameters: { type: 'object', properties: {} } },
    ...(cc ? { cache_control: cc } : {}),
  });

  it('system parts become text blocks with their breakpoints; parts, tool results, tool calls and tools keep theirs', () => {
    const out = toAnthropicRequest(
      req({
        tools: [fn('a', eph)],
        messages: [
          {
            role: 'system',
            content: [
              { type: 'text', text: 'terse' },
              { type: 'text', text: 'big', cache_control: { type: 'ephemeral', ttl: '1h' } },
            ],
          },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'look', cache_control: eph },
              { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
            ],
          },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                id: 'call_1',
                type: 'function',
                function: { name: 'a', arguments: '{}' },
                cache_control: eph,
              },
            ],
          },
          {
            role: 'tool',
            tool_call_id: 'call_1',
            content: [{ type: 'text', text: 'ok', cache_control: eph }],
          },
        ],
      }),
    );
    // Five breakpoints arrived: the first (the tool's) is dropped, the last four stay.
    expect(out.tools?.[0]).not.toHaveProperty('cache_control');
    expect(out.system).toEqual([
      { type: 'text', text: 'terse' },
      { type: 'text', text: 'big', cache_control: { type: 'ephemeral', ttl: '1h' } },
    ]);
    expect(out.messages[0]?.content).toEqual([
      { type: 'text', text: 'look', cache_control: eph },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } },
    ]);
    expect(out.messages[1]?.content[0]).toMatchObject({ type: 'tool_use', id: 'call_1', cache_control: eph });
    expect(out.messages[2]?.content[0]).toEqual({
      type: 'tool_result',
      tool_use_id: 'call_1',
      content: 'ok',
      cache_control: eph,
    });
  });

  it('a message-level breakpoint on string content marks its block; tools keep theirs within the limit', () => {
    const out = toAnthropicRequest(
      req({
        tools: [fn('a'), fn('b', eph)],
        messages: [
          { role: 'system', content: 'sys', cache_control: eph },
          { role: 'user', content: 'hi', cache_control: eph },
        ],
      }),
    );
    expect(out.tools?.[1]).toMatchObject({ name: 'b', cache_control: eph });
    expect(out.system).toEqual([{ type: 'text', text: 'sys', cache_control: eph }]);
    expect(out.messages[0]?.content).toEqual([{ type: 'text', text: 'hi', cache_control: eph }]);
  });

  it('without breakpoints the system prompt stays one string', () => {
    const out = toAnthropicRequest(
      req({
        messages: [
          { role: 'system', content: [{ type: 'text', text: 'a' }] },
          { role: 'user', content: 'hi' },
        ],
      }),
    );
    expect(out.system).toBe('a');
  });
});

describe('toUsage: prompt-cache counts', () => {
  it('reads and writes are inside prompt_tokens and reported apart (JSON and stream)', () => {
    const m = fromAnthropicMessage({
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'claude',
      content: [{ type: 'text', text: 'hi' }],
      stop_reason: 'end_turn',
      usage: {
        input_tokens: 10,
        cache_creation_input_tokens: 200,
        cache_read_input_tokens: 1000,
        output_tokens: 5,
      },
    });
    expect(m.usage).toEqual({
      prompt_tokens: 1210,
      completion_tokens: 5,
      total_tokens: 1215,
      prompt_tokens_details: { cached_tokens: 1000, cache_creation_tokens: 200 },
    });
    const t = new AnthropicStreamTranslator('anth', 'claude');
    t.onEvent('message_start', {
      message: {
        id: 'msg_1',
        model: 'claude',
        usage: { input_tokens: 10, cache_creation_input_tokens: 200 },
      },
    });
    t.onEvent('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 5 } });
    const last = t.onEvent('message_stop', {}).at(-1);
    expect(last?.usage).toEqual({
      prompt_tokens: 210,
      completion_tokens: 5,
      total_tokens: 215,
      prompt_tokens_details: { cache_creation_tokens: 200 },
    });
  });
});

describe('extended thinking (Anthropic upstream)', () => {
  const thinker = (r: Partial<ChatCompletionRequest>) => req({ model: 'claude-sonnet-4-5', ...r });
  const signed = { type: 'thinking' as const, thinking: 'I should call f.', signature: 'sig-1' };
  const redacted = { type: 'redacted_thinking' as const, data: 'EuYBCkQ=' };
  const toolTurn = (blocks: ChatCompletionRequest['messages'][number]['thinking_blocks']) =>
    thinker({
      thinking: { type: 'enabled', budget_tokens: 1024 },
      max_completion_tokens: 2000,
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
      messages: [
        { role: 'user', content: 'go' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'f', arguments: '{}' } }],
          thinking_blocks: blocks,
        },
        { role: 'tool', tool_call_id: 'toolu_1', content: 'done' },
      ],
    });

  it('sends every thinking config as it came to a model that thinks', () => {
    for (const thinking of [
      { type: 'enabled', budget_tokens: 1500, display: 'omitted' },
      { type: 'adaptive' },
      { type: 'between_tools' },
      { type: 'disabled' },
    ] as const)
      expect(toAnthropicRequest(thinker({ thinking, max_completion_tokens: 4000 })).thinking).toEqual(
        thinking,
      );
  });

  it("sends the previous turn's thinking blocks back first, unchanged and in order", () => {
    const out = toAnthropicRequest(toolTurn([signed, redacted]));
    expect(out.messages[1]!.content).toEqual([
      signed,
      redacted,
      { type: 'tool_use', id: 'toolu_1', name: 'f', input: {} },
    ]);
  });

  it('leaves out thinking Anthropic did not sign (another vendor reasoned) and all of it for a model without thinking', () => {
    const unsigned = { type: 'thinking' as const, thinking: 'from vLLM', signature: '' };
    expect(toAnthropicRequest(toolTurn([unsigned, redacted])).messages[1]!.content[0]).toEqual(redacted);
    const old = toAnthropicRequest({ ...toolTurn([signed]), model: 'claude-3-5-haiku-latest' });
    expect(old.messages[1]!.content.map((b) => b.type)).toEqual(['tool_use']);
    expect(old).not.toHaveProperty('thinking');
  });

  it('maps reasoning_effort to a thinking budget (LiteLLM: low 1024, medium 2048, high 4096), raising max_tokens above it', () => {
    const cases = [
      ['low', 8000, 1024, 8000],
      ['medium', 8000, 2048, 8000],
      ['high', 1000, 4096, 5096],
      ['minimal', 1024, 1024, 2048],
    ] as const;
    for (const [effort, max, budget, sentMax] of cases) {
      const out = toAnthropicRequest(thinker({ reasoning_effort: effort, max_completion_tokens: max }));
      expect(out.thinking).toEqual({ type: 'enabled', budget_tokens: budget });
      expect(out.max_tokens).toBe(sentMax);
    }
    // Anthropic's own thinking config wins over an effort.
    const both = toAnthropicRequest(
      thinker({ reasoning_effort: 'high', thinking: { type: 'adaptive' }, max_completion_tokens: 100 }),
    );
    expect(both.thinking).toEqual({ type: 'adaptive' });
    expect(both.max_tokens).toBe(100);
  });

  it('asks for no thinking where Anthropic would refuse it with the effort: temperature, low top_p, forced tools, no thinking model', () => {
    const tools = [{ type: 'function', function: { name: 'f' } }];
    for (const r of [
      { temperature: 0.2 },
      { top_p: 0.5 },
      { tools, tool_choice: 'required' },
      { model: 'claude-3-5-haiku-latest' },
      { reasoning_effort: 'none' },
    ] as Array<Partial<ChatCompletionRequest>>)
      expect(toAnthropicRequest(thinker({ reasoning_effort: 'high', ...r }))).not.toHaveProperty('thinking');
    expect(toAnthropicRequest(thinker({ reasoning_effort: 'low', temperature: 1 })).thinking).toBeDefined();
  });

  it("reads an answer's thinking blocks into thinking_blocks and reasoning_content", () => {
    const c = fromAnthropicMessage({
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5',
      content: [signed, redacted, { type: 'text', text: 'Hi' }],
      stop_reason: 'end_turn',
      usage: { input_tokens: 5, output_tokens: 40 },
    });
    expect(c.choices[0]!.message).toMatchObject({
      content: 'Hi',
      reasoning_content: 'I should call f.',
      thinking_blocks: [signed, redacted],
    });
    // Thinking is output: already in Anthropic's output_tokens.
    expect(c.usage?.completion_tokens).toBe(40);
  });

  it('streams thinking as reasoning_content fragments and each block whole at its stop', () => {
    const t = new AnthropicStreamTranslator('anthropic', 'm', 1);
    const ev = (type: string, data: Record<string, unknown>) => t.onEvent(type, { type, ...data });
    const deltas = [
      ...ev('message_start', { message: { id: 'msg_1', model: 'm', usage: { input_tokens: 3 } } }),
      ...ev('content_block_start', {
        index: 0,
        content_block: { type: 'thinking', thinking: '', signature: '' },
      }),
      ...ev('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'I should ' } }),
      ...ev('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'call f.' } }),
      ...ev('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: 'sig-1' } }),
      ...ev('content_block_stop', { index: 0 }),
      ...ev('content_block_start', { index: 1, content_block: redacted }),
      ...ev('content_block_stop', { index: 1 }),
    ].map((c) => c.choices[0]!.delta);
    expect(deltas).toEqual([
      { role: 'assistant', content: '' },
      { reasoning_content: 'I should ' },
      { reasoning_content: 'call f.' },
      { thinking_blocks: [signed] },
      { thinking_blocks: [redacted] },
    ]);
  });
});

describe('extended thinking: a tool call continued without its thinking', () => {
  const loop = (blocks?: ChatCompletionRequest['messages'][number]['thinking_blocks']) =>
    req({
      model: 'claude-sonnet-4-5',
      max_completion_tokens: 4000,
      tools: [{ type: 'function', function: { name: 'f' } }],
      messages: [
        { role: 'user', content: 'go' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }],
          ...(blocks ? { thinking_blocks: blocks } : {}),
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'done' },
      ],
    });

  it('is served without thinking (another vendor answered that turn, or the client did not send it back)', () => {
    for (const ask of [
      { thinking: { type: 'enabled', budget_tokens: 1024 } },
      { reasoning_effort: 'low' },
    ] as const) {
      expect(toAnthropicRequest({ ...loop(), ...ask })).not.toHaveProperty('thinking');
      expect(
        toAnthropicRequest({ ...loop([{ type: 'thinking', thinking: 'x', signature: '' }]), ...ask }),
      ).not.toHaveProperty('thinking');
      expect(
        toAnthropicRequest({ ...loop([{ type: 'thinking', thinking: 'x', signature: 'sig' }]), ...ask })
          .thinking,
      ).toBeDefined();
    }
    // A tool call answered long ago, with a user turn after it, asks Anthropic for nothing.
    const later = loop();
    later.messages.push({ role: 'assistant', content: 'ok' }, { role: 'user', content: 'next' });
    expect(toAnthropicRequest({ ...later, reasoning_effort: 'low' }).thinking).toBeDefined();
  });
});
