import { describe, expect, it } from 'vitest';
import { anthropicMessagesRequest } from '../../api/anthropic-messages.js';
import type { ChatCompletion, ChatCompletionChunk } from '../../api/openai.js';
import { TiermeshError } from '../../errors.js';
import { SseParser } from '../../providers/sse.js';
import {
  AnthropicStreamWriter,
  anthropicErrorEvent,
  frameAnthropicEvents,
  fromAnthropicRequest,
  stopReason,
  toAnthropicMessage,
  toolInput,
} from './anthropic-messages.js';

const parse = (body: Record<string, unknown>) =>
  anthropicMessagesRequest.parse({ model: 'claude-x', max_tokens: 100, ...body });

const thrown = (f: () => unknown): TiermeshError => {
  try {
    f();
  } catch (e) {
    return e as TiermeshError;
  }
  throw new Error('did not throw');
};

describe('anthropicMessagesRequest schema', () => {
  it('names the malformed field inside a known block type', () => {
    const r = anthropicMessagesRequest.safeParse({
      model: 'm',
      max_tokens: 10,
      messages: [
        { role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png' } }] },
      ],
    });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['messages', 0, 'content', 0, 'source', 'data']);
  });

  it('names the missing or wrong field of a tool_choice or image source, and every type it could be', async () => {
    const { parseJsonBody } = await import('../parse-request.js');
    const message = (body: Record<string, unknown>) =>
      thrown(() =>
        parseJsonBody(
          anthropicMessagesRequest,
          undefined,
          Buffer.from(
            JSON.stringify({
              model: 'm',
              max_tokens: 10,
              messages: [{ role: 'user', content: 'hi' }],
              ...body,
            }),
          ),
        ),
      ).message;
    expect(message({ tool_choice: { type: 'tool' } })).toBe('tool_choice.name: required field is missing');
    expect(message({ tool_choice: { type: 'bogus' } })).toBe(
      'tool_choice.type: expected one of "auto"|"any"|"none"|"tool"',
    );
    expect(
      message({
        messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'file', id: 'f' } }] }],
      }),
    ).toBe('messages[0].content[0].source.type: expected one of "base64"|"url"');
    // Neither a string nor blocks: both are named.
    expect(message({ system: 5 })).toBe('system: expected string or array, received number');
    expect(message({ messages: [{ role: 'user', content: 5 }] })).toBe(
      'messages[0].content: expected string or array, received number',
    );
  });

  it('requires max_tokens, as the Messages API does', () => {
    const r = anthropicMessagesRequest.safeParse({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
    expect(r.error?.issues[0]?.path).toEqual(['max_tokens']);
  });
});

describe('fromAnthropicRequest', () => {
  it('puts system first and maps the sampling parameters', () => {
    const out = fromAnthropicRequest(
      parse({
        system: [
          { type: 'text', text: 'Be terse.' },
          { type: 'text', text: 'Use British spelling.' },
        ],
        messages: [{ role: 'user', content: 'Colour?' }],
        temperature: 0,
        top_p: 0.5,
        top_k: 3,
        stop_sequences: ['END'],
        metadata: { user_id: 'u-1' },
        stream: true,
      }),
    );
    expect(out).toEqual({
      model: 'claude-x',
      messages: [
        { role: 'system', content: 'Be terse.\nUse British spelling.' },
        { role: 'user', content: 'Colour?' },
      ],
      max_completion_tokens: 100,
      temperature: 0,
      top_p: 0.5,
      stop: ['END'],
      user: 'u-1',
      stream: true,
    });
  });

  it('turns tool_use into tool_calls and tool_result into tool messages ahead of the rest of the user turn', () => {
    const out = fromAnthropicRequest(
      parse({
        messages: [
          { role: 'user', content: 'Weather in Paris?' },
          {
            role: 'assistant',
            content: [
              { type: 'text', text: 'Let me check.' },
              { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Paris' } },
            ],
          },
          {
            role: 'user',
            content: [
              { type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: '18C' }] },
              { type: 'text', text: 'And tomorrow?' },
            ],
          },
        ],
      }),
    );
    expect(out.messages).toEqual([
      { role: 'user', content: 'Weather in Paris?' },
      {
        role: 'assistant',
        content: 'Let me check.',
        tool_calls: [
          { id: 'toolu_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'toolu_1', content: '18C' },
      { role: 'user', content: 'And tomorrow?' },
    ]);
  });

  it('marks failed tool results and moves their images to the user turn', () => {
    const out = fromAnthropicRequest(
      parse({
        messages: [
          {
            role: 'user',
            content: [
              {
                type: 'tool_result',
                tool_use_id: 't',
                is_error: true,
                content: [
                  { type: 'text', text: 'timeout' },
                  { type: 'image', source: { type: 'url', url: 'https://x.test/a.png' } },
                ],
              },
            ],
          },
        ],
      }),
    );
    expect(out.messages).toEqual([
      { role: 'tool', tool_call_id: 't', content: 'Error: timeout' },
      { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x.test/a.png' } }] },
    ]);
  });

  it('sends base64 images as data URLs next to the text', () => {
    const out = fromAnthropicRequest(
      parse({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is this?' },
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
            ],
          },
        ],
      }),
    );
    expect(out.messages[0]?.content).toEqual([
      { type: 'text', text: 'What is this?' },
      { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
    ]);
  });

  it('maps tools and every tool_choice', () => {
    const tools = [{ name: 'weather', description: 'd', input_schema: { type: 'object', properties: {} } }];
    const base = { messages: [{ role: 'user', content: 'hi' }], tools };
    expect(fromAnthropicRequest(parse(base))['tools']).toEqual([
      {
        type: 'function',
        function: { name: 'weather', description: 'd', parameters: tools[0]!.input_schema },
      },
    ]);
    const choice = (c: unknown) => {
      const r = fromAnthropicRequest(parse({ ...base, tool_choice: c }));
      return [r['tool_choice'], r['parallel_tool_calls']];
    };
    expect(choice({ type: 'auto' })).toEqual(['auto', undefined]);
    expect(choice({ type: 'any', disable_parallel_tool_use: true })).toEqual(['required', false]);
    expect(choice({ type: 'none' })).toEqual(['none', undefined]);
    expect(choice({ type: 'tool', name: 'weather' })).toEqual([
      { type: 'function', function: { name: 'weather' } },
      undefined,
    ]);
  });

  it('refuses what it cannot carry, naming the field', () => {
    const server = thrown(() =>
      fromAnthropicRequest(
        parse({
          messages: [{ role: 'user', content: 'hi' }],
          tools: [{ type: 'web_search_20250305', name: 'web_search' }],
        }),
      ),
    );
    expect(server.status).toBe(400);
    expect(server.param).toBe('tools[0].type');
    const doc = thrown(() =>
      fromAnthropicRequest(
        parse({
          messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'text', data: 'x' } }] }],
        }),
      ),
    );
    expect(doc.param).toBe('messages[0].content[0].type');
    expect(doc.message).toContain('"document"');
    expect(doc.logMessage).not.toContain('document');
    // A type that holds quotes of its own cannot slip its text past the log line.
    const quoted = thrown(() =>
      fromAnthropicRequest(
        parse({ messages: [{ role: 'user', content: [{ type: 'x" MY SECRET PROMPT "y' }] }] }),
      ),
    );
    expect(quoted.message).toContain('MY SECRET PROMPT');
    expect(quoted.logMessage).not.toContain('SECRET');
    const unknownTool = thrown(() =>
      fromAnthropicRequest(
        parse({
          messages: [{ role: 'user', content: 'hi' }],
          tools: [{ name: 'a', input_schema: { type: 'object' } }],
          tool_choice: { type: 'tool', name: 'b' },
        }),
      ),
    );
    expect(unknownTool.param).toBe('tool_choice.name');
  });

  it('refuses a conversation that translates to no message, naming messages (nothing is sent upstream)', () => {
    const e = thrown(() =>
      fromAnthropicRequest(
        parse({
          system: 'Be brief.',
          messages: [{ role: 'user', content: [{ type: 'thinking', thinking: 'hmm', signature: 's' }] }],
        }),
      ),
    );
    expect(e.status).toBe(400);
    expect(e.param).toBe('messages');
  });

  it('refuses an empty user turn, as Anthropic does, instead of letting an upstream make one up', () => {
    for (const content of ['', []]) {
      const e = thrown(() =>
        fromAnthropicRequest(
          parse({
            messages: [
              { role: 'user', content: 'hi' },
              { role: 'assistant', content: 'hello' },
              { role: 'user', content },
            ],
          }),
        ),
      );
      expect(e.status).toBe(400);
      expect(e.param).toBe('messages[2].content');
    }
  });

  it('refuses every top-level field it does not carry, naming it; metadata-only fields and defaults pass', () => {
    const refused: Array<[string, unknown]> = [
      ['mcp_servers', [{ type: 'url', url: 'https://mcp.example', name: 'x' }]],
      ['container', 'container_1'],
      ['inference_geo', 'us'],
      ['speed', 'fast'],
      ['some_future_field', true],
    ];
    for (const [field, value] of refused) {
      const e = thrown(() =>
        fromAnthropicRequest(parse({ messages: [{ role: 'user', content: 'x' }], [field]: value })),
      );
      expect(e.status).toBe(400);
      expect(e.code).toBe('TM_INVALID_REQUEST');
      expect(e.param).toBe(field);
      expect(e.message).toContain(field);
    }
    // A field of no known API is the client's text: named to the client, not in the log line.
    const unknown = thrown(() =>
      fromAnthropicRequest(parse({ messages: [{ role: 'user', content: 'x' }], secret_words_here: 1 })),
    );
    expect(unknown.message).toContain('secret_words_here');
    expect(unknown.logMessage).not.toContain('secret');
    const out = fromAnthropicRequest(
      parse({
        messages: [{ role: 'user', content: 'x' }],
        top_k: 5,
        service_tier: 'auto',
        diagnostics: { previous_message_id: null },
        context_management: { edits: [{ type: 'clear_tool_uses_20250919' }] },
        speed: 'standard',
        container: null,
        inference_geo: null,
        mcp_servers: [],
      }),
    );
    expect(out.messages).toEqual([{ role: 'user', content: 'x' }]);
    for (const k of [
      'top_k',
      'service_tier',
      'cache_control',
      'diagnostics',
      'context_management',
      'speed',
      'container',
    ])
      expect(out).not.toHaveProperty(k);
  });

  it('maps output_config.format (structured outputs) to a strict json_schema response_format, effort to reasoning_effort', () => {
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
    const out = fromAnthropicRequest(
      parse({
        messages: [{ role: 'user', content: 'x' }],
        output_config: { format: { type: 'json_schema', schema }, effort: 'low' },
      }),
    );
    expect(out.response_format).toEqual({
      type: 'json_schema',
      json_schema: { name: 'output', schema, strict: true },
    });
    expect(out['reasoning_effort']).toBe('low');
    // The beta's older spelling carries the same schema.
    const legacy = fromAnthropicRequest(
      parse({ messages: [{ role: 'user', content: 'x' }], output_format: { type: 'json_schema', schema } }),
    );
    expect(legacy.response_format).toEqual(out.response_format);
    for (const [config, param] of [
      [{ effort: 'max' }, 'output_config.effort'],
      [{ format: { type: 'xml' } }, 'output_config.format.type'],
      [{ format: { type: 'json_schema' } }, 'output_config.format.schema'],
      [{ task_budget: 5 }, 'output_config.task_budget'],
    ] as const) {
      const e = thrown(() =>
        fromAnthropicRequest(parse({ messages: [{ role: 'user', content: 'x' }], output_config: config })),
      );
      expect(e.param).toBe(param);
    }
  });

  it('drops tool_choice none when there are no tools (OpenAI refuses a tool_choice without tools)', () => {
    const out = fromAnthropicRequest(
      parse({ messages: [{ role: 'user', content: 'x' }], tool_choice: { type: 'none' } }),
    );
    expect(out).not.toHaveProperty('tool_choice');
    const withTools = fromAnthropicRequest(
      parse({
        messages: [{ role: 'user', content: 'x' }],
        tools: [{ name: 'f', input_schema: { type: 'object' } }],
        tool_choice: { type: 'none' },
      }),
    );
    expect(withTools['tool_choice']).toBe('none');
  });

  it("joins assistant text blocks with a newline, as user blocks are, and carries a tool_use block's extra_content back", () => {
    const sig = { google: { thought_signature: 'c2lnLTE=' } };
    const out = fromAnthropicRequest(
      parse({
        messages: [
          { role: 'user', content: 'a' },
          {
            role: 'assistant',
            content: [
              { type: 'text', text: 'first' },
              { type: 'text', text: 'second' },
              { type: 'tool_use', id: 'call_1', name: 'f', input: { x: 1 }, extra_content: sig },
            ],
          },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1', content: 'ok' }] },
        ],
      }),
    );
    expect(out.messages[1]).toEqual({
      role: 'assistant',
      content: 'first\nsecond',
      tool_calls: [
        { id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"x":1}' }, extra_content: sig },
      ],
    });
  });

  it("keeps an assistant turn's thinking and redacted_thinking blocks, in order and unchanged, as thinking_blocks", () => {
    const out = fromAnthropicRequest(
      parse({
        messages: [
          { role: 'user', content: 'a' },
          {
            role: 'assistant',
            content: [
              { type: 'thinking', thinking: 'hmm', signature: 's' },
              { type: 'redacted_thinking', data: 'EuYBCkQ=' },
              { type: 'text', text: 'b' },
            ],
          },
        ],
      }),
    );
    expect(out.messages[1]).toEqual({
      role: 'assistant',
      content: 'b',
      thinking_blocks: [
        { type: 'thinking', thinking: 'hmm', signature: 's' },
        { type: 'redacted_thinking', data: 'EuYBCkQ=' },
      ],
    });
  });

  it('carries every thinking config the SDK defines into the internal request', () => {
    for (const thinking of [
      { type: 'enabled', budget_tokens: 1024 },
      { type: 'enabled', budget_tokens: 2000, display: 'omitted' },
      { type: 'adaptive' },
      { type: 'adaptive', display: 'summarized' },
      { type: 'between_tools' },
      { type: 'disabled' },
    ]) {
      const out = fromAnthropicRequest(
        parse({ max_tokens: 4000, thinking, messages: [{ role: 'user', content: 'x' }] }),
      );
      expect(out.thinking).toEqual(thinking);
    }
  });

  it('refuses a thinking budget Anthropic would refuse, naming thinking.budget_tokens', () => {
    const small = anthropicMessagesRequest.safeParse({
      model: 'm',
      max_tokens: 4000,
      thinking: { type: 'enabled', budget_tokens: 1023 },
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(small.error?.issues[0]?.path).toEqual(['thinking', 'budget_tokens']);
    const unknown = anthropicMessagesRequest.safeParse({
      model: 'm',
      max_tokens: 4000,
      thinking: { type: 'sometimes' },
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(unknown.error?.issues[0]?.path).toEqual(['thinking', 'type']);
    for (const max_tokens of [1024, 1000]) {
      const e = thrown(() =>
        fromAnthropicRequest(
          parse({
            max_tokens,
            thinking: { type: 'enabled', budget_tokens: 1024 },
            messages: [{ role: 'user', content: 'x' }],
          }),
        ),
      );
      expect(e.status).toBe(400);
      expect(e.param).toBe('thinking.budget_tokens');
    }
  });

  it('names a malformed thinking block sent back in history', () => {
    const r = anthropicMessagesRequest.safeParse({
      model: 'm',
      max_tokens: 10,
      messages: [
        { role: 'user', content: 'a' },
        { role: 'assistant', content: [{ type: 'thinking', thinking: 'hmm' }] },
      ],
    });
    expect(r.error?.issues[0]?.path).toEqual(['messages', 1, 'content', 0, 'signature']);
  });
});

const completion = (
  message: ChatCompletion['choices'][number]['message'],
  finish = 'stop',
): ChatCompletion => ({
  id: 'chatcmpl-abc',
  object: 'chat.completion',
  created: 1,
  model: 'gpt-x',
  choices: [{ index: 0, message, finish_reason: finish }],
  usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 },
});

describe('toAnthropicMessage', () => {
  it('answers text with the usage and stop reason', () => {
    expect(toAnthropicMessage(completion({ role: 'assistant', content: 'Hello' }))).toEqual({
      id: 'msg_abc',
      type: 'message',
      role: 'assistant',
      model: 'gpt-x',
      content: [{ type: 'text', text: 'Hello' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: {
        input_tokens: 12,
        output_tokens: 5,
        cache_creation_input_tokens: null,
        cache_read_input_tokens: null,
      },
    });
  });

  it('answers tool calls as tool_use blocks with parsed input', () => {
    const m = toAnthropicMessage(
      completion(
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } },
          ],
        },
        'tool_calls',
      ),
    );
    expect(m.content).toEqual([{ type: 'tool_use', id: 'call_1', name: 'weather', input: { city: 'Oslo' } }]);
    expect(m.stop_reason).toBe('tool_use');
  });

  it('gives a tool call the upstream sent without an id a unique toolu_ id (the client sends it back)', () => {
    const call = { type: 'function', function: { name: 'weather', arguments: '{}' } };
    const m = toAnthropicMessage(
      completion({ role: 'assistant', content: null, tool_calls: [call, call] }, 'tool_calls'),
    );
    const ids = m.content.map((b) => (b as { id: string }).id);
    expect(ids[0]).toMatch(/^toolu_[0-9a-f]{24}$/);
    expect(ids[1]).toMatch(/^toolu_[0-9a-f]{24}$/);
    expect(ids[0]).not.toBe(ids[1]);
  });

  it('says tool_use whenever the answer calls tools, also when the upstream finished with "stop" (a named tool_choice)', () => {
    const call = { id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{}' } };
    const m = toAnthropicMessage(
      completion({ role: 'assistant', content: null, tool_calls: [call] }, 'stop'),
    );
    expect(m.stop_reason).toBe('tool_use');
    // Cut short stays cut short: the client must not run a call whose arguments may be truncated.
    const cut = toAnthropicMessage(
      completion({ role: 'assistant', content: null, tool_calls: [call] }, 'length'),
    );
    expect(cut.stop_reason).toBe('max_tokens');
  });

  it('answers thinking_blocks first, exactly, before text and tool calls', () => {
    const blocks = [
      { type: 'thinking' as const, thinking: 'Let me see.', signature: 'sig-1' },
      { type: 'redacted_thinking' as const, data: 'EuYBCkQ=' },
    ];
    const call = { id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } };
    const m = toAnthropicMessage(
      completion(
        {
          role: 'assistant',
          content: 'Done.',
          tool_calls: [call],
          reasoning_content: 'Let me see.',
          thinking_blocks: blocks,
        },
        'tool_calls',
      ),
    );
    expect(m.content).toEqual([
      ...blocks,
      { type: 'text', text: 'Done.' },
      { type: 'tool_use', id: 'call_1', name: 'f', input: {} },
    ]);
  });

  it("answers an OpenAI-compatible server's reasoning_content as a thinking block without a signature", () => {
    const m = toAnthropicMessage(
      completion({ role: 'assistant', content: '42', reasoning_content: 'six times seven' }),
    );
    expect(m.content).toEqual([
      { type: 'thinking', thinking: 'six times seven', signature: '' },
      { type: 'text', text: '42' },
    ]);
  });

  it("keeps a tool call's extra_content (Gemini's thought signature) on its tool_use block", () => {
    const sig = { google: { thought_signature: 'c2lnLTE=' } };
    const call = {
      id: 'call_1',
      type: 'function',
      function: { name: 'f', arguments: '{}' },
      extra_content: sig,
    };
    const m = toAnthropicMessage(
      completion({ role: 'assistant', content: null, tool_calls: [call] }, 'tool_calls'),
    );
    expect(m.content).toEqual([{ type: 'tool_use', id: 'call_1', name: 'f', input: {}, extra_content: sig }]);
  });

  it('keeps arguments that are not a JSON object instead of losing them', () => {
    expect(toolInput('')).toEqual({});
    expect(toolInput('[1]')).toEqual({ _raw_arguments: '[1]' });
    expect(toolInput('{oops')).toEqual({ _raw_arguments: '{oops' });
  });

  it('maps every finish reason', () => {
    expect(['stop', 'length', 'tool_calls', 'content_filter', null].map(stopReason)).toEqual([
      'end_turn',
      'max_tokens',
      'tool_use',
      'refusal',
      null,
    ]);
  });

  it('counts cached prompt tokens apart, as Anthropic does', () => {
    const c = completion({ role: 'assistant', content: 'x' });
    c.usage = { ...c.usage!, prompt_tokens_details: { cached_tokens: 10 } } as never;
    expect(toAnthropicMessage(c).usage).toMatchObject({ input_tokens: 2, cache_read_input_tokens: 10 });
  });
});

const chunk = (
  delta: Record<string, unknown>,
  finish: string | null = null,
  usage?: unknown,
): ChatCompletionChunk =>
  ({
    id: 'chatcmpl-s1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'gpt-x',
    choices: [{ index: 0, delta, finish_reason: finish }],
    ...(usage ? { usage } : {}),
  }) as ChatCompletionChunk;

describe('AnthropicStreamWriter', () => {
  it('emits the Anthropic event sequence for text then a tool call', () => {
    const w = new AnthropicStreamWriter('auto', 7);
    const events = [
      ...w.push(chunk({ role: 'assistant', content: '' })),
      ...w.push(chunk({ content: 'Hel' })),
      ...w.push(chunk({ content: 'lo' })),
      ...w.push(
        chunk({ tool_calls: [{ index: 0, id: 'call_9', function: { name: 'weather', arguments: '' } }] }),
      ),
      ...w.push(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] })),
      ...w.push(chunk({ tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] })),
      ...w.push(chunk({}, 'tool_calls')),
      ...w.push({
        ...chunk({}),
        choices: [],
        usage: { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 },
      }),
      ...w.end(),
    ];
    expect(events.map((e) => e.event)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(events[0]!.data).toMatchObject({
      message: { id: 'msg_s1', model: 'gpt-x', usage: { input_tokens: 7 } },
    });
    expect(events[5]!.data).toEqual({
      type: 'content_block_start',
      index: 1,
      content_block: { type: 'tool_use', id: 'call_9', name: 'weather', input: {} },
    });
    expect(events[7]!.data).toEqual({
      type: 'content_block_delta',
      index: 1,
      delta: { type: 'input_json_delta', partial_json: '"Oslo"}' },
    });
    expect(events[9]!.data).toEqual({
      type: 'message_delta',
      delta: { stop_reason: 'tool_use', stop_sequence: null },
      usage: { output_tokens: 4, input_tokens: 9 },
    });
  });

  it('ends a stream whose upstream called a tool but finished with "stop" with stop_reason tool_use', () => {
    const w = new AnthropicStreamWriter('auto');
    const sig = { google: { thought_signature: 'c2lnLTE=' } };
    const events = [
      ...w.push(
        chunk({
          tool_calls: [
            { index: 0, id: 'call_1', function: { name: 'f', arguments: '{}' }, extra_content: sig },
          ],
        }),
      ),
      ...w.push(chunk({}, 'stop')),
      ...w.end(),
    ];
    expect(events.find((e) => e.event === 'content_block_start')!.data['content_block']).toEqual({
      type: 'tool_use',
      id: 'call_1',
      name: 'f',
      input: {},
      extra_content: sig,
    });
    expect(events.find((e) => e.event === 'message_delta')!.data['delta']).toEqual({
      stop_reason: 'tool_use',
      stop_sequence: null,
    });
  });

  it('frames events so an SSE parser reads back each type and payload', () => {
    const w = new AnthropicStreamWriter('auto');
    const text = frameAnthropicEvents([...w.push(chunk({ content: 'x' })), ...w.end()]);
    const parsed = new SseParser().push(text);
    expect(parsed.map((e) => e.event)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    for (const e of parsed) expect(JSON.parse(e.data).type).toBe(e.event);
  });

  it('still opens and closes a message for an empty stream, falling back to the estimate for input tokens', () => {
    const w = new AnthropicStreamWriter('auto', 3);
    const events = w.end();
    expect(events.map((e) => e.event)).toEqual(['message_start', 'message_delta', 'message_stop']);
    expect(events[1]!.data).toMatchObject({ delta: { stop_reason: 'end_turn' }, usage: { input_tokens: 3 } });
  });
});

describe('AnthropicStreamWriter tool ids', () => {
  it('a streamed tool call without an id gets a unique toolu_ id, not one made of its index', () => {
    const started = () => {
      const w = new AnthropicStreamWriter('auto');
      const events = w.push(
        chunk({
          tool_calls: [{ index: 0, type: 'function', function: { name: 'weather', arguments: '{}' } }],
        }),
      );
      const start = events.find((e) => e.event === 'content_block_start');
      return (start!.data['content_block'] as { id: string }).id;
    };
    const [a, b] = [started(), started()];
    expect(a).toMatch(/^toolu_[0-9a-f]{24}$/);
    expect(b).toMatch(/^toolu_[0-9a-f]{24}$/);
    expect(a).not.toBe(b);
  });
});

describe('AnthropicStreamWriter parallel tool calls', () => {
  const events = (...chunks: ChatCompletionChunk[]) => {
    const w = new AnthropicStreamWriter('auto');
    return [...chunks.flatMap((c) => w.push(c)), ...w.end()]
      .filter((e) => e.event.startsWith('content_block'))
      .map((e) => `${e.event.slice('content_block_'.length)} ${e.data['index']}`);
  };
  const start = (index: number, id: string, args = '') =>
    chunk({ tool_calls: [{ index, id, type: 'function', function: { name: 'w', arguments: args } }] });
  const args = (index: number, a: string) => chunk({ tool_calls: [{ index, function: { arguments: a } }] });

  it('closes a call whose arguments are whole when the next starts, as Anthropic streams blocks', () => {
    expect(events(start(0, 'a', '{"x":1}'), start(1, 'b'), args(1, '{}'))).toEqual([
      'start 0',
      'delta 0',
      'stop 0',
      'start 1',
      'delta 1',
      'stop 1',
    ]);
  });

  it('keeps a call whose arguments are not whole open while the next starts (interleaved fragments)', () => {
    expect(events(start(0, 'a'), start(1, 'b'), args(0, '{"x":1}'), args(1, '{}'))).toEqual([
      'start 0',
      'start 1',
      'delta 0',
      'delta 1',
      'stop 0',
      'stop 1',
    ]);
  });
});

describe('AnthropicStreamWriter thinking', () => {
  const blockEvents = (...chunks: ChatCompletionChunk[]) => {
    const w = new AnthropicStreamWriter('auto');
    return [...chunks.flatMap((c) => w.push(c)), ...w.end()]
      .filter((e) => e.event.startsWith('content_block'))
      .map((e) => e.data);
  };

  it("streams Anthropic's thinking as Anthropic does: thinking_delta fragments, the signature, then the text", () => {
    expect(
      blockEvents(
        chunk({ role: 'assistant', content: '' }),
        chunk({ reasoning_content: 'Let me ' }),
        chunk({ reasoning_content: 'see.' }),
        chunk({ thinking_blocks: [{ type: 'thinking', thinking: 'Let me see.', signature: 'sig-1' }] }),
        chunk({ thinking_blocks: [{ type: 'redacted_thinking', data: 'EuYB' }] }),
        chunk({ content: 'Hi' }),
      ),
    ).toEqual([
      {
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'thinking', thinking: '', signature: '' },
      },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'Let me ' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'see.' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'sig-1' } },
      { type: 'content_block_stop', index: 0 },
      {
        type: 'content_block_start',
        index: 1,
        content_block: { type: 'redacted_thinking', data: 'EuYB' },
      },
      { type: 'content_block_stop', index: 1 },
      { type: 'content_block_start', index: 2, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 2, delta: { type: 'text_delta', text: 'Hi' } },
      { type: 'content_block_stop', index: 2 },
    ]);
  });

  it('sends the text of a whole block no fragment carried (a replayed answer), and closes unsigned thinking at the text', () => {
    const whole = blockEvents(
      chunk({ thinking_blocks: [{ type: 'thinking', thinking: 'All at once.', signature: 'sig-2' }] }),
    );
    expect(whole.map((d) => (d as { delta?: unknown }).delta).filter(Boolean)).toEqual([
      { type: 'thinking_delta', thinking: 'All at once.' },
      { type: 'signature_delta', signature: 'sig-2' },
    ]);
    const unsigned = blockEvents(chunk({ reasoning_content: 'hmm' }), chunk({ content: 'ok' }));
    expect(unsigned.map((d) => `${d['type']} ${d['index']}`)).toEqual([
      'content_block_start 0',
      'content_block_delta 0',
      'content_block_stop 0',
      'content_block_start 1',
      'content_block_delta 1',
      'content_block_stop 1',
    ]);
  });
});

describe('anthropicErrorEvent', () => {
  it('ends a broken stream with the Anthropic error body of the registry', () => {
    expect(anthropicErrorEvent(new TiermeshError('TM_BREAKER_OPEN', 'all targets busy'))).toEqual({
      event: 'error',
      data: { type: 'error', error: { type: 'overloaded_error', message: 'all targets busy' } },
    });
  });
});

describe('prompt-cache breakpoints (cache_control)', () => {
  const eph = { type: 'ephemeral' };
  const tool = { name: 'get_weather', input_schema: { type: 'object', properties: {} } };

  it('stay on system blocks, user and assistant blocks, tool results, tool_use blocks and tools', () => {
    const out = fromAnthropicRequest(
      parse({
        system: [
          { type: 'text', text: 'You are terse.' },
          { type: 'text', text: 'Big context.', cache_control: { type: 'ephemeral', ttl: '1h' } },
        ],
        tools: [{ ...tool, cache_control: eph }],
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Weather?', cache_control: eph },
              { type: 'text', text: 'Paris.' },
            ],
          },
          {
            role: 'assistant',
            content: [
              { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {}, cache_control: eph },
            ],
          },
          {
            role: 'user',
            content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny', cache_control: eph }],
          },
        ],
      }),
    );
    expect(out.messages).toEqual([
      {
        role: 'system',
        content: [
          { type: 'text', text: 'You are terse.' },
          { type: 'text', text: 'Big context.', cache_control: { type: 'ephemeral', ttl: '1h' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Weather?', cache_control: eph },
          { type: 'text', text: 'Paris.' },
        ],
      },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 'toolu_1',
            type: 'function',
            function: { name: 'get_weather', arguments: '{}' },
            cache_control: eph,
          },
        ],
      },
      {
        role: 'tool',
        tool_call_id: 'toolu_1',
        content: [{ type: 'text', text: 'sunny', cache_control: eph }],
      },
    ]);
    expect((out.tools as unknown[])[0]).toMatchObject({ type: 'function', cache_control: eph });
  });

  it('without breakpoints, blocks are joined as before', () => {
    const out = fromAnthropicRequest(
      parse({
        system: [
          { type: 'text', text: 'a' },
          { type: 'text', text: 'b' },
        ],
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'c' },
              { type: 'text', text: 'd' },
            ],
          },
        ],
      }),
    );
    expect(out.messages).toEqual([
      { role: 'system', content: 'a\nb' },
      { role: 'user', content: 'c\nd' },
    ]);
  });

  it('the top-level cache_control (automatic caching) marks the last block of the last message', () => {
    const plain = fromAnthropicRequest(
      parse({ cache_control: eph, messages: [{ role: 'user', content: 'hello' }] }),
    );
    expect(plain.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'hello', cache_control: eph }] },
    ]);
    expect(plain).not.toHaveProperty('cache_control');
    const calls = fromAnthropicRequest(
      parse({
        cache_control: eph,
        tools: [tool],
        messages: [
          { role: 'user', content: 'go' },
          {
            role: 'assistant',
            content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} }],
          },
        ],
      }),
    );
    expect(calls.messages.at(-1)?.tool_calls?.[0]).toMatchObject({ id: 'toolu_1', cache_control: eph });
  });

  it('a breakpoint of another type or ttl is refused by name', () => {
    const e = thrown(() =>
      fromAnthropicRequest(
        parse({
          messages: [{ role: 'user', content: [{ type: 'text', text: 'x', cache_control: { type: 'x' } }] }],
        }),
      ),
    );
    expect(e.status).toBe(400);
    expect(e.message).toContain('messages[0].content[0].cache_control.type');
    const ttl = thrown(() =>
      fromAnthropicRequest(
        parse({
          cache_control: { type: 'ephemeral', ttl: '2h' },
          messages: [{ role: 'user', content: 'x' }],
        }),
      ),
    );
    expect(ttl.message).toContain('cache_control.ttl');
  });

  it('cache reads and writes of the internal usage become Anthropic usage, apart from input_tokens (JSON and stream)', () => {
    const usage = {
      prompt_tokens: 1210,
      completion_tokens: 5,
      total_tokens: 1215,
      prompt_tokens_details: { cached_tokens: 1000, cache_creation_tokens: 200 },
    };
    const m = toAnthropicMessage({
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 1,
      model: 'claude',
      choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
      usage,
    });
    expect(m.usage).toEqual({
      input_tokens: 10,
      output_tokens: 5,
      cache_creation_input_tokens: 200,
      cache_read_input_tokens: 1000,
    });
    const w = new AnthropicStreamWriter('claude', 7);
    w.push({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'claude', choices: [], usage });
    const delta = w.end().find((e) => e.event === 'message_delta');
    expect(delta?.data['usage']).toEqual({
      output_tokens: 5,
      input_tokens: 10,
      cache_creation_input_tokens: 200,
      cache_read_input_tokens: 1000,
    });
  });
});
