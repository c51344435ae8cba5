import { describe, expect, it } from 'vitest';
import type { ChatCompletionChunk, ChatCompletionRequest } from '../api/openai.js';
import {
  AnthropicStreamTranslator,
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
          { role: 'user', content: [{ type: 'text', text: 'two' }, { type: 'image_url' }] },
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
    expect(out.messages[4]?.content).toEqual([{ type: 'text', text: 'result' }]);
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
  it('declines tools and non-text parts, accepts plain text', () => {
    expect(untranslatable(req({}))).toBeUndefined();
    expect(untranslatable(req({ tools: [{ type: 'function', function: { name: 'f' } }] }))).toContain('tool');
    expect(untranslatable(req({ messages: [{ role: 'user', content: [{ type: 'image_url' }] }] }))).toContain(
      'non-text',
    );
    expect(
      untranslatable(req({ messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }] }] })),
    ).toBeUndefined();
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
    expect(c.usage).toEqual({ prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 });
  });

  it('maps stop reasons', () => {
    expect(finishReason('end_turn')).toBe('stop');
    expect(finishReason('stop_sequence')).toBe('stop');
    expect(finishReason('max_tokens')).toBe('length');
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

  it('throws a typed error on an error event', () => {
    const t = new AnthropicStreamTranslator('anthropic', 'm');
    try {
      t.onEvent('error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ProviderError);
      expect((e as ProviderError).reason).toBe('server_error');
    }
  });
});
