import { describe, expect, it } from 'vitest';
import type { ChatCompletion, ChatCompletionChunk } from '../../api/openai.js';
import { responsesRequest } from '../../api/responses.js';
import { TiermeshError } from '../../errors.js';
import { SseParser } from '../../providers/sse.js';
import {
  frameResponsesEvents,
  fromResponsesRequest,
  type IdMaker,
  ResponsesStreamWriter,
  toResponse,
} from './responses.js';

const parse = (body: Record<string, unknown>) => responsesRequest.parse({ model: 'auto', ...body });

const ids = (): IdMaker => {
  let n = 0;
  return (prefix) => `${prefix}_${++n}`;
};

const thrown = (f: () => unknown): TiermeshError => {
  try {
    f();
  } catch (e) {
    return e as TiermeshError;
  }
  throw new Error('did not throw');
};

describe('responsesRequest schema', () => {
  it('names the malformed field inside an input item', () => {
    const r = responsesRequest.safeParse({
      model: 'm',
      input: [{ type: 'function_call_output', output: 'x' }],
    });
    expect(r.error?.issues[0]?.path).toEqual(['input', 0, 'call_id']);
    const part = responsesRequest.safeParse({
      model: 'm',
      input: [{ role: 'user', content: [{ type: 'input_text', text: 5 }] }],
    });
    expect(part.error?.issues[0]?.path).toEqual(['input', 0, 'content', 0, 'text']);
  });
});

describe('fromResponsesRequest', () => {
  it('reads a string input with instructions and the sampling parameters', () => {
    expect(
      fromResponsesRequest(
        parse({
          input: 'hi',
          instructions: 'Be terse.',
          max_output_tokens: 64,
          temperature: 0,
          top_p: 0.5,
          stream: true,
          store: true,
          safety_identifier: 'u-1',
        }),
      ),
    ).toEqual({
      model: 'auto',
      messages: [
        { role: 'system', content: 'Be terse.' },
        { role: 'user', content: 'hi' },
      ],
      max_completion_tokens: 64,
      temperature: 0,
      top_p: 0.5,
      user: 'u-1',
      stream: true,
      store: true,
    });
  });

  it('translates every setting with a chat-completions equivalent', () => {
    const out = fromResponsesRequest(
      parse({
        input: 'hi',
        reasoning: { effort: 'high', summary: 'auto' },
        text: { verbosity: 'low' },
        service_tier: 'flex',
        prompt_cache_key: 'k1',
        prompt_cache_retention: '24h',
        store: true,
        metadata: { team: 'a' },
        include: ['message.output_text.logprobs', 'reasoning.encrypted_content'],
        top_logprobs: 3,
        max_tool_calls: 2,
        truncation: 'auto',
      }),
    );
    expect(out).toEqual({
      model: 'auto',
      // The prompt cache key also puts a breakpoint on the last block, for Anthropic targets.
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'hi', cache_control: { type: 'ephemeral' } }] },
      ],
      reasoning_effort: 'high',
      verbosity: 'low',
      service_tier: 'flex',
      prompt_cache_key: 'k1',
      prompt_cache_retention: '24h',
      store: true,
      metadata: { team: 'a' },
      logprobs: true,
      top_logprobs: 3,
    });
  });

  it('with a prompt_cache_key, marks the last block of the conversation as a cache breakpoint, and only then', () => {
    const input = [
      { role: 'user', content: 'list files' },
      { type: 'function_call', call_id: 'c1', name: 'shell', arguments: '{}' },
      { type: 'function_call_output', call_id: 'c1', output: 'a.txt' },
    ];
    const keyed = fromResponsesRequest(parse({ input, prompt_cache_key: 'conv-1' }));
    expect(keyed.messages.at(-1)).toEqual({
      role: 'tool',
      tool_call_id: 'c1',
      content: [{ type: 'text', text: 'a.txt', cache_control: { type: 'ephemeral' } }],
    });
    expect(JSON.stringify(keyed.messages.slice(0, -1))).not.toContain('cache_control');
    expect(JSON.stringify(fromResponsesRequest(parse({ input })))).not.toContain('cache_control');
  });

  it('sends metadata only with store: true, and logprobs only when asked for', () => {
    const unstored = fromResponsesRequest(parse({ input: 'hi', metadata: { team: 'a' } }));
    expect(unstored).not.toHaveProperty('metadata');
    expect(unstored).not.toHaveProperty('store');
    expect(unstored).not.toHaveProperty('logprobs');
    const included = fromResponsesRequest(parse({ input: 'hi', include: ['message.output_text.logprobs'] }));
    expect(included).toMatchObject({ logprobs: true });
    expect(included).not.toHaveProperty('top_logprobs');
    expect(fromResponsesRequest(parse({ input: 'hi', top_logprobs: 2 }))).toMatchObject({
      logprobs: true,
      top_logprobs: 2,
    });
  });

  it('refuses a stored prompt template, naming the field', () => {
    const e = thrown(() => fromResponsesRequest(parse({ input: 'hi', prompt: { id: 'pmpt_1' } })));
    expect(e.status).toBe(400);
    expect(e.param).toBe('prompt');
  });

  it('makes a function tool without strict strict when its schema allows it, as the Responses API does', () => {
    const closed = {
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
      additionalProperties: false,
    };
    const open = { type: 'object', properties: { city: { type: 'string' } } };
    const out = fromResponsesRequest(
      parse({
        input: 'x',
        tools: [
          { type: 'function', name: 'a', parameters: closed },
          { type: 'function', name: 'b', parameters: open },
          { type: 'function', name: 'c', parameters: closed, strict: false },
        ],
      }),
    );
    const fns = (out['tools'] as unknown as Array<{ function: Record<string, unknown> }>).map(
      (t) => t.function,
    );
    expect(fns[0]?.['strict']).toBe(true);
    expect(fns[1]).not.toHaveProperty('strict');
    expect(fns[2]?.['strict']).toBe(false);
  });

  it('turns item arrays into messages: developer to system, parts, function calls and their outputs', () => {
    const out = fromResponsesRequest(
      parse({
        input: [
          { role: 'developer', content: 'Use tools.' },
          {
            type: 'message',
            role: 'user',
            content: [
              { type: 'input_text', text: 'Weather here?' },
              { type: 'input_image', image_url: 'https://x.test/p.png', detail: 'low' },
            ],
          },
          { type: 'reasoning', id: 'rs_1', summary: [] },
          { role: 'assistant', content: [{ type: 'output_text', text: 'Checking.' }] },
          { type: 'function_call', call_id: 'call_1', name: 'weather', arguments: '{"city":"Oslo"}' },
          { type: 'function_call', call_id: 'call_2', name: 'time', arguments: '{}' },
          { type: 'function_call_output', call_id: 'call_1', output: '18C' },
          { type: 'function_call_output', call_id: 'call_2', output: [{ type: 'input_text', text: 'noon' }] },
        ],
      }),
    );
    expect(out.messages).toEqual([
      { role: 'system', content: 'Use tools.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Weather here?' },
          { type: 'image_url', image_url: { url: 'https://x.test/p.png', detail: 'low' } },
        ],
      },
      {
        role: 'assistant',
        content: 'Checking.',
        tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } },
          { id: 'call_2', type: 'function', function: { name: 'time', arguments: '{}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '18C' },
      { role: 'tool', tool_call_id: 'call_2', content: 'noon' },
    ]);
  });

  it('maps function tools, tool_choice and the JSON schema format', () => {
    const out = fromResponsesRequest(
      parse({
        input: 'x',
        tools: [{ type: 'function', name: 'weather', parameters: { type: 'object' }, strict: true }],
        tool_choice: { type: 'function', name: 'weather' },
        parallel_tool_calls: false,
        text: { format: { type: 'json_schema', name: 'answer', schema: { type: 'object' }, strict: true } },
      }),
    );
    expect(out['tools']).toEqual([
      { type: 'function', function: { name: 'weather', parameters: { type: 'object' }, strict: true } },
    ]);
    expect(out['tool_choice']).toEqual({ type: 'function', function: { name: 'weather' } });
    expect(out['parallel_tool_calls']).toBe(false);
    expect(out.response_format).toEqual({
      type: 'json_schema',
      json_schema: { name: 'answer', schema: { type: 'object' }, strict: true },
    });
  });

  it('resolves item references through the resolver and refuses unknown ones by name', () => {
    const known = { role: 'assistant', content: [{ type: 'output_text', text: 'Earlier answer' }] } as never;
    const out = fromResponsesRequest(
      parse({
        input: [
          { role: 'user', content: 'a' },
          { type: 'item_reference', id: 'msg_1' },
          { role: 'user', content: 'b' },
        ],
      }),
      (id) => (id === 'msg_1' ? known : undefined),
    );
    expect(out.messages[1]).toEqual({ role: 'assistant', content: 'Earlier answer' });
    const e = thrown(() =>
      fromResponsesRequest(parse({ input: [{ type: 'item_reference', id: 'msg_zz' }] }), () => undefined),
    );
    expect(e.param).toBe('input[0].id');
    expect(e.message).toContain('msg_zz');
    expect(e.logMessage).not.toContain('msg_zz');
  });

  it('refuses state it does not keep and types it cannot carry, naming the field', () => {
    const prev = thrown(() => fromResponsesRequest(parse({ input: 'x', previous_response_id: 'resp_1' })));
    expect(prev.status).toBe(400);
    expect(prev.param).toBe('previous_response_id');
    expect(prev.message).toContain('whole conversation');
    expect(
      thrown(() => fromResponsesRequest(parse({ input: 'x', tools: [{ type: 'web_search' }] }))).param,
    ).toBe('tools[0].type');
    expect(
      thrown(() =>
        fromResponsesRequest(
          parse({ input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'f' }] }] }),
        ),
      ).param,
    ).toBe('input[0].content[0].type');
    expect(
      thrown(() =>
        fromResponsesRequest(
          parse({ input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'f' }] }] }),
        ),
      ).param,
    ).toBe('input[0].content[0].image_url');
    expect(
      thrown(() => fromResponsesRequest(parse({ input: [{ type: 'computer_call_output' }] }))).param,
    ).toBe('input[0].type');
    expect(thrown(() => fromResponsesRequest(parse({ input: 'x', tool_choice: 'required' }))).param).toBe(
      'tool_choice',
    );
  });

  it('offers custom tools as functions and carries their calls and outputs as tool calls and tool messages', () => {
    const patch = '*** Begin Patch\n*** End Patch';
    const out = fromResponsesRequest(
      parse({
        input: [
          { role: 'user', content: 'Fix it' },
          { type: 'custom_tool_call', call_id: 'c1', name: 'apply_patch', input: patch },
          { type: 'custom_tool_call_output', call_id: 'c1', output: 'Done!' },
        ],
        tools: [
          { type: 'function', name: 'shell', parameters: { type: 'object', properties: {} } },
          {
            type: 'custom',
            name: 'apply_patch',
            format: { type: 'grammar', syntax: 'lark', definition: 'g' },
          },
        ],
        tool_choice: { type: 'custom', name: 'apply_patch' },
      }),
    );
    expect(out.messages.slice(1)).toEqual([
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 'c1',
            type: 'function',
            function: { name: 'apply_patch', arguments: JSON.stringify({ input: patch }) },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'c1', content: 'Done!' },
    ]);
    expect(
      (out['tools'] as unknown as Array<{ function: { name: string; strict?: boolean } }>)[1]?.function,
    ).toMatchObject({
      name: 'apply_patch',
      strict: true,
    });
    expect(out['tool_choice']).toEqual({ type: 'function', function: { name: 'apply_patch' } });
    const twice = thrown(() =>
      fromResponsesRequest(
        parse({
          input: 'x',
          tools: [
            { type: 'function', name: 'apply_patch' },
            { type: 'custom', name: 'apply_patch' },
          ],
        }),
      ),
    );
    expect(twice.param).toBe('tools[1].name');
    // A custom tool_choice names a custom tool, not a function of that name.
    const wrongKind = thrown(() =>
      fromResponsesRequest(
        parse({
          input: 'x',
          tools: [{ type: 'function', name: 'shell' }],
          tool_choice: { type: 'custom', name: 'shell' },
        }),
      ),
    );
    expect(wrongKind.param).toBe('tool_choice.name');
  });

  it("moves a tool result's images to a user message after the tool results, which carry text only", () => {
    const img = (url: string) => ({ type: 'input_image', image_url: url, detail: 'low' });
    const out = fromResponsesRequest(
      parse({
        input: [
          { role: 'user', content: 'Screenshot both' },
          { type: 'function_call', call_id: 'c1', name: 'shot', arguments: '{}' },
          { type: 'function_call', call_id: 'c2', name: 'shot', arguments: '{}' },
          {
            type: 'function_call_output',
            call_id: 'c1',
            output: [{ type: 'input_text', text: 'one' }, img('u1')],
          },
          { type: 'function_call_output', call_id: 'c2', output: [img('u2')] },
          { role: 'user', content: 'Compare them' },
        ],
      }),
    );
    expect(out.messages.slice(2)).toEqual([
      // Tool results stay together right after the calls, as chat completions require.
      { role: 'tool', tool_call_id: 'c1', content: 'one' },
      { role: 'tool', tool_call_id: 'c2', content: '' },
      {
        role: 'user',
        content: [
          { type: 'image_url', image_url: { url: 'u1', detail: 'low' } },
          { type: 'image_url', image_url: { url: 'u2', detail: 'low' } },
        ],
      },
      { role: 'user', content: 'Compare them' },
    ]);
    const last = fromResponsesRequest(
      parse({
        input: [
          { role: 'user', content: 'x' },
          { type: 'function_call', call_id: 'c1', name: 'shot', arguments: '{}' },
          { type: 'function_call_output', call_id: 'c1', output: [img('u1')] },
        ],
      }),
    );
    expect(last.messages.at(-1)).toEqual({
      role: 'user',
      content: [{ type: 'image_url', image_url: { url: 'u1', detail: 'low' } }],
    });
    const file = thrown(() =>
      fromResponsesRequest(
        parse({
          input: [
            {
              type: 'function_call_output',
              call_id: 'c1',
              output: [img('u1'), { type: 'input_file', file_id: 'f' }],
            },
          ],
        }),
      ),
    );
    expect(file.param).toBe('input[0].output[1].type');
  });

  it('takes tool_choice auto or none without tools as asking for nothing, as the Responses API does', () => {
    for (const tool_choice of ['auto', 'none'])
      for (const tools of [undefined, []]) {
        const out = fromResponsesRequest(parse({ input: 'x', tool_choice, ...(tools ? { tools } : {}) }));
        // Chat completions refuse a tool_choice without tools.
        expect(out, `${tool_choice} ${JSON.stringify(tools)}`).not.toHaveProperty('tool_choice');
      }
  });
});

const completion = (
  message: ChatCompletion['choices'][number]['message'],
  finish = 'stop',
): ChatCompletion => ({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1700000000,
  model: 'gpt-x',
  choices: [{ index: 0, message, finish_reason: finish }],
  usage: { prompt_tokens: 11, completion_tokens: 4, total_tokens: 15 },
});

describe('toResponse', () => {
  it('answers text as one message item with usage, echoing the settings', () => {
    const r = toResponse(
      completion({ role: 'assistant', content: 'Hello' }),
      parse({ input: 'hi', temperature: 0, store: true }),
      ids(),
    );
    expect(r).toMatchObject({
      id: 'resp_2',
      object: 'response',
      created_at: 1700000000,
      status: 'completed',
      model: 'gpt-x',
      store: false,
      temperature: 0,
      output: [
        {
          type: 'message',
          id: 'msg_1',
          status: 'completed',
          role: 'assistant',
          content: [{ type: 'output_text', text: 'Hello', annotations: [] }],
        },
      ],
      usage: { input_tokens: 11, output_tokens: 4, total_tokens: 15 },
    });
  });

  it('echoes the settings it applied, the served service tier and the token logprobs', () => {
    const lp = [
      {
        token: 'Hello',
        logprob: -0.1,
        bytes: [72],
        top_logprobs: [{ token: 'Hello', logprob: -0.1, bytes: [72] }],
      },
    ];
    const c = {
      ...completion({ role: 'assistant', content: 'Hello' }),
      service_tier: 'flex',
    } as ChatCompletion;
    c.choices[0]!.logprobs = { content: lp, refusal: null };
    const r = toResponse(
      c,
      parse({
        input: 'hi',
        reasoning: { effort: 'high', summary: 'auto' },
        text: { verbosity: 'low' },
        service_tier: 'auto',
        prompt_cache_key: 'k1',
        top_logprobs: 1,
        max_tool_calls: 4,
        safety_identifier: 'u-1',
        truncation: 'auto',
      }),
      ids(),
    );
    expect(r).toMatchObject({
      reasoning: { effort: 'high', summary: null },
      text: { format: { type: 'text' }, verbosity: 'low' },
      service_tier: 'flex',
      prompt_cache_key: 'k1',
      top_logprobs: 1,
      max_tool_calls: 4,
      safety_identifier: 'u-1',
      truncation: 'disabled',
      store: false,
    });
    expect(r.output[0]).toMatchObject({ content: [{ type: 'output_text', text: 'Hello', logprobs: lp }] });
    const plain = toResponse(completion({ role: 'assistant', content: 'x' }), parse({ input: 'hi' }), ids());
    expect(plain).toMatchObject({ reasoning: { effort: null }, service_tier: 'auto', top_logprobs: 0 });
  });

  it('answers tool calls as function_call items and a cut answer as incomplete', () => {
    const tools = toResponse(
      completion(
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_7', type: 'function', function: { name: 'weather', arguments: '{}' } }],
        },
        'tool_calls',
      ),
      parse({ input: 'x' }),
      ids(),
    );
    expect(tools.output).toEqual([
      {
        type: 'function_call',
        id: 'fc_1',
        call_id: 'call_7',
        name: 'weather',
        arguments: '{}',
        status: 'completed',
      },
    ]);
    const noId = toResponse(
      completion(
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ type: 'function', function: { name: 'weather', arguments: '{}' } }],
        },
        'tool_calls',
      ),
      parse({ input: 'x' }),
      ids(),
    );
    // An upstream call without an id: the client needs one to send the output back with.
    expect(noId.output).toMatchObject([{ type: 'function_call', id: 'fc_1', call_id: 'call_2' }]);
    const cut = toResponse(
      completion({ role: 'assistant', content: 'Hel' }, 'length'),
      parse({ input: 'x' }),
      ids(),
    );
    expect(cut.status).toBe('incomplete');
    expect(cut.incomplete_details).toEqual({ reason: 'max_output_tokens' });
  });

  it('answers a call of a custom tool as a custom_tool_call item with its input as text', () => {
    const r = toResponse(
      completion(
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_7',
              type: 'function',
              function: { name: 'apply_patch', arguments: '{"input":"*** Begin"}' },
            },
            { id: 'call_8', type: 'function', function: { name: 'shell', arguments: '{}' } },
          ],
        },
        'tool_calls',
      ),
      parse({
        input: 'x',
        tools: [
          { type: 'custom', name: 'apply_patch' },
          { type: 'function', name: 'shell' },
        ],
      }),
      ids(),
    );
    expect(r.output).toEqual([
      {
        type: 'custom_tool_call',
        id: 'ctc_1',
        call_id: 'call_7',
        name: 'apply_patch',
        input: '*** Begin',
        status: 'completed',
      },
      {
        type: 'function_call',
        id: 'fc_2',
        call_id: 'call_8',
        name: 'shell',
        arguments: '{}',
        status: 'completed',
      },
    ]);
  });

  it("keeps a tool call's extra_content (Gemini's thought signature) on its function_call item", () => {
    const extra = { google: { thought_signature: 'sig-1' } };
    const r = toResponse(
      completion(
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_7',
              type: 'function',
              function: { name: 'weather', arguments: '{}' },
              extra_content: extra,
            },
          ] as never,
        },
        'tool_calls',
      ),
      parse({ input: 'x' }),
      ids(),
    );
    expect(r.output).toMatchObject([{ type: 'function_call', call_id: 'call_7', extra_content: extra }]);
  });
});

const chunk = (delta: Record<string, unknown>, finish: string | null = null): ChatCompletionChunk =>
  ({
    id: 'c',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'gpt-x',
    choices: [{ index: 0, delta, finish_reason: finish }],
  }) as ChatCompletionChunk;

describe('ResponsesStreamWriter', () => {
  it('keeps a call whose arguments are not whole open while the next starts (interleaved fragments)', () => {
    const w = new ResponsesStreamWriter(parse({ input: 'x', stream: true }), ids(), 5);
    const start = (index: number, id: string) =>
      chunk({ tool_calls: [{ index, id, type: 'function', function: { name: 'w', arguments: '' } }] });
    const args = (index: number, a: string) => chunk({ tool_calls: [{ index, function: { arguments: a } }] });
    const events = [
      ...w.push(start(0, 'call_a')),
      ...w.push(start(1, 'call_b')),
      ...w.push(args(0, '{"x":1}')),
      ...w.push(args(1, '{}')),
      ...w.end(),
    ];
    const done = events.filter((e) => e.type === 'response.function_call_arguments.done');
    expect(done.map((e) => [e['output_index'], e['arguments']])).toEqual([
      [0, '{"x":1}'],
      [1, '{}'],
    ]);
    // Each .done comes after the last fragment of its call.
    const lastDelta = events.findLastIndex((e) => e.type === 'response.function_call_arguments.delta');
    expect(events.indexOf(done[0]!)).toBeGreaterThan(lastDelta);
  });

  it('streams token logprobs on the text deltas and the done events, and the served service tier', () => {
    const w = new ResponsesStreamWriter(
      parse({ input: 'x', stream: true, top_logprobs: 1, reasoning: { effort: 'low' } }),
      ids(),
      5,
    );
    const tok = (t: string) => ({ token: t, logprob: -0.5, bytes: [...Buffer.from(t)], top_logprobs: [] });
    const lpChunk = (t: string) => {
      const c = chunk({ content: t });
      c.choices[0]!.logprobs = { content: [tok(t)] };
      return Object.assign(c, { service_tier: 'default' });
    };
    const events = [
      ...w.push(lpChunk('Hi')),
      ...w.push(lpChunk(' there')),
      ...w.push(chunk({}, 'stop')),
      ...w.end(),
    ];
    const deltas = events.filter((e) => e.type === 'response.output_text.delta');
    expect(deltas.map((e) => e['logprobs'])).toEqual([[tok('Hi')], [tok(' there')]]);
    expect(events.find((e) => e.type === 'response.output_text.done')?.['logprobs']).toEqual([
      tok('Hi'),
      tok(' there'),
    ]);
    const done = events.at(-1)?.['response'] as Record<string, unknown>;
    expect(done).toMatchObject({ service_tier: 'default', reasoning: { effort: 'low' }, top_logprobs: 1 });
    expect(done['output']).toMatchObject([{ content: [{ logprobs: [tok('Hi'), tok(' there')] }] }]);
  });

  it('streams a refusal as a message with a refusal part and refusal events', () => {
    const w = new ResponsesStreamWriter(parse({ input: 'x', stream: true }), ids(), 5);
    const events = [
      ...w.push(chunk({ role: 'assistant', content: null, refusal: '' })),
      ...w.push(chunk({ refusal: 'No, ' })),
      ...w.push(chunk({ refusal: 'sorry.' })),
      ...w.push(chunk({}, 'stop')),
      ...w.end(),
    ];
    expect(events.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.refusal.delta',
      'response.refusal.delta',
      'response.refusal.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events[3]).toMatchObject({ part: { type: 'refusal', refusal: '' } });
    expect(events[6]).toMatchObject({ refusal: 'No, sorry.' });
    expect((events.at(-1)!['response'] as { output: unknown }).output).toEqual([
      {
        type: 'message',
        id: 'msg_2',
        status: 'completed',
        role: 'assistant',
        content: [{ type: 'refusal', refusal: 'No, sorry.' }],
      },
    ]);
  });

  it("streams a tool call's extra_content (Gemini's thought signature) on its added and done items", () => {
    const extra = { google: { thought_signature: 'sig-1' } };
    const w = new ResponsesStreamWriter(parse({ input: 'x', stream: true }), ids(), 5);
    const events = [
      ...w.push(
        chunk({
          tool_calls: [
            { index: 0, id: 'call_1', function: { name: 'weather', arguments: '{}' }, extra_content: extra },
          ],
        }),
      ),
      ...w.push(chunk({}, 'tool_calls')),
      ...w.end(),
    ];
    const items = events.filter((e) => e.type.startsWith('response.output_item.')).map((e) => e['item']);
    expect(items).toMatchObject([{ extra_content: extra }, { extra_content: extra }]);
    const done = events.at(-1)!['response'] as ReturnType<typeof toResponse>;
    expect(done.output).toMatchObject([{ type: 'function_call', extra_content: extra }]);
  });

  it('streams a custom tool call as custom_tool_call_input events with its input whole, not JSON fragments', () => {
    const w = new ResponsesStreamWriter(
      parse({ input: 'x', stream: true, tools: [{ type: 'custom', name: 'apply_patch' }] }),
      ids(),
      5,
    );
    const events = [
      ...w.push(
        chunk({ tool_calls: [{ index: 0, id: 'call_1', function: { name: 'apply_patch', arguments: '' } }] }),
      ),
      ...w.push(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"input":"*** Be' } }] })),
      ...w.push(chunk({ tool_calls: [{ index: 0, function: { arguments: 'gin"}' } }] })),
      ...w.push(chunk({}, 'tool_calls')),
      ...w.end(),
    ];
    expect(events.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.custom_tool_call_input.delta',
      'response.custom_tool_call_input.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events[2]!['item']).toMatchObject({ type: 'custom_tool_call', input: '', status: 'in_progress' });
    expect(events[3]).toMatchObject({ delta: '*** Begin', output_index: 0, item_id: 'ctc_2' });
    expect(events[4]).toMatchObject({ input: '*** Begin' });
    expect(events[5]!['item']).toMatchObject({
      type: 'custom_tool_call',
      input: '*** Begin',
      status: 'completed',
    });
    const done = events.at(-1)!['response'] as ReturnType<typeof toResponse>;
    expect(done.output).toMatchObject([{ type: 'custom_tool_call', call_id: 'call_1', input: '*** Begin' }]);
  });

  it('gives a streamed tool call without an id a call_id of its own', () => {
    const w = new ResponsesStreamWriter(parse({ input: 'x', stream: true }), ids(), 5);
    const added = w
      .push(
        chunk({ tool_calls: [{ index: 0, type: 'function', function: { name: 'weather', arguments: '' } }] }),
      )
      .find((e) => e.type === 'response.output_item.added');
    expect(added?.['item']).toMatchObject({ type: 'function_call', call_id: 'call_2' });
  });

  it('emits the typed event sequence for text then a tool call, numbered in order', () => {
    const w = new ResponsesStreamWriter(parse({ input: 'x', stream: true }), ids(), 5);
    const events = [
      ...w.push(chunk({ role: 'assistant', content: '' })),
      ...w.push(chunk({ content: 'Hel' })),
      ...w.push(chunk({ content: 'lo' })),
      ...w.push(
        chunk({ tool_calls: [{ index: 0, id: 'call_1', function: { name: 'weather', arguments: '' } }] }),
      ),
      ...w.push(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"a":1}' } }] })),
      ...w.push(chunk({}, 'tool_calls')),
      ...w.push({
        ...chunk({}),
        choices: [],
        usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
      }),
      ...w.end(),
    ];
    expect(events.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events.map((e) => e['sequence_number'])).toEqual(events.map((_, i) => i));
    expect(events[6]).toMatchObject({ text: 'Hello', output_index: 0 });
    expect(events[11]).toMatchObject({ arguments: '{"a":1}', name: 'weather', output_index: 1 });
    const done = events[13]!['response'] as ReturnType<typeof toResponse>;
    expect(done.status).toBe('completed');
    expect(done.usage).toMatchObject({ input_tokens: 3, output_tokens: 2 });
    expect(done.output).toEqual([
      {
        type: 'message',
        id: 'msg_2',
        status: 'completed',
        role: 'assistant',
        content: [{ type: 'output_text', text: 'Hello', annotations: [], logprobs: [] }],
      },
      {
        type: 'function_call',
        id: 'fc_3',
        call_id: 'call_1',
        name: 'weather',
        arguments: '{"a":1}',
        status: 'completed',
      },
    ]);
  });

  it('ends a cut stream as response.incomplete and a broken one as response.failed', () => {
    const cut = new ResponsesStreamWriter(parse({ input: 'x' }), ids(), 5);
    cut.push(chunk({ content: 'a' }, 'length'));
    expect(cut.end().at(-1)).toMatchObject({
      type: 'response.incomplete',
      response: { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } },
    });
    const broken = new ResponsesStreamWriter(parse({ input: 'x' }), ids(), 5);
    broken.push(chunk({ content: 'a' }));
    expect(broken.fail(new TiermeshError('TM_UPSTREAM_ERROR', 'upstream reset')).at(-1)).toMatchObject({
      type: 'response.failed',
      response: { status: 'failed', error: { code: 'server_error', message: 'upstream reset' } },
    });
  });

  it('fails with what was streamed so far, and a rate limit as rate_limit_exceeded', () => {
    const w = new ResponsesStreamWriter(parse({ input: 'x' }), ids(), 5);
    w.push(chunk({ content: 'Hel' }));
    w.push(chunk({ content: 'lo' }));
    const failed = w.fail(new TiermeshError('TM_RATE_LIMITED', 'Please try again in 20s.')).at(-1)!;
    const response = failed['response'] as ReturnType<typeof toResponse>;
    expect(response.error).toEqual({ code: 'rate_limit_exceeded', message: 'Please try again in 20s.' });
    // A client's snapshot becomes this response: the text it already showed stays in it.
    expect(response.output).toMatchObject([
      { type: 'message', status: 'incomplete', content: [{ type: 'output_text', text: 'Hello' }] },
    ]);
    const call = new ResponsesStreamWriter(parse({ input: 'x' }), ids(), 5);
    call.push(
      chunk({ tool_calls: [{ index: 0, id: 'call_1', function: { name: 'w', arguments: '{"a"' } }] }),
    );
    const cut = call.fail(new TiermeshError('TM_UPSTREAM_ERROR', 'reset')).at(-1)!;
    expect((cut['response'] as ReturnType<typeof toResponse>).output).toMatchObject([
      { type: 'function_call', status: 'incomplete', arguments: '{"a"' },
    ]);
  });

  it('frames each event under its own type', () => {
    const w = new ResponsesStreamWriter(parse({ input: 'x' }), ids(), 5);
    const parsed = new SseParser().push(
      frameResponsesEvents([...w.push(chunk({ content: 'x' })), ...w.end()]),
    );
    expect(parsed.length).toBe(9);
    for (const e of parsed) expect(JSON.parse(e.data).type).toBe(e.event);
  });
});
