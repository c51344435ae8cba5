import { describe, expect, it } from 'vitest';
import type { ChatCompletion, ChatCompletionChunk, ThinkingBlock } from '../../api/openai.js';
import { responsesRequest } from '../../api/responses.js';
import type { TiermeshError } from '../../errors.js';
import { decodeThinking, encodeThinking } from './reasoning-items.js';
import { fromResponsesRequest, type IdMaker, ResponsesStreamWriter, toResponse } from './responses.js';

const parse = (body: Record<string, unknown>) => responsesRequest.parse({ model: 'auto', ...body });
const ids = (): IdMaker => {
  let n = 0;
  return (prefix) => `${prefix}_${++n}`;
};
const signed: ThinkingBlock = { type: 'thinking', thinking: 'I should list.', signature: 'sig-a' };
const redacted: ThinkingBlock = { type: 'redacted_thinking', data: 'opaque' };

describe('reasoning items', () => {
  it('encode the blocks and decode only their own, refusing a tampered one by field', () => {
    expect(decodeThinking(encodeThinking([signed, redacted]), 'p')).toEqual([signed, redacted]);
    // OpenAI's own encrypted reasoning, or none: not ours, dropped as before.
    expect(decodeThinking('gAAAAABo-openai', 'p')).toBeUndefined();
    expect(decodeThinking(null, 'p')).toBeUndefined();
    let err: TiermeshError | undefined;
    try {
      decodeThinking(
        `tm1.${Buffer.from('[{"type":"thinking"}]').toString('base64url')}`,
        'input[1].encrypted_content',
      );
    } catch (e) {
      err = e as TiermeshError;
    }
    expect(err?.param).toBe('input[1].encrypted_content');
  });

  it('answer the thinking first, its text as reasoning_text, its blocks encoded', () => {
    const c: ChatCompletion = {
      id: 'c',
      object: 'chat.completion',
      created: 1,
      model: 'claude',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: null,
            thinking_blocks: [signed, redacted],
            tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'shell', arguments: '{}' } }],
          },
          finish_reason: 'tool_calls',
        },
      ],
    };
    const summarized = toResponse(c, parse({ input: 'x', reasoning: { summary: 'auto' } }), ids());
    expect(summarized.output[0]).toMatchObject({
      summary: [{ type: 'summary_text', text: 'I should list.' }],
      content: [],
    });
    const r = toResponse(c, parse({ input: 'x' }), ids());
    expect(r.output[0]).toEqual({
      type: 'reasoning',
      id: 'rs_1',
      summary: [],
      content: [{ type: 'reasoning_text', text: 'I should list.' }],
      encrypted_content: encodeThinking([signed, redacted]),
      status: 'completed',
    });
    expect(r.output[1]).toMatchObject({ type: 'function_call', call_id: 'toolu_1' });
    // Another vendor's reasoning text (no blocks): an unsigned block, which Anthropic is never sent.
    const plain = toResponse(
      {
        ...c,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: 'Hi', reasoning_content: 'hm' },
            finish_reason: 'stop',
          },
        ],
      },
      parse({ input: 'x' }),
      ids(),
    );
    expect(
      decodeThinking(
        plain.output[0] && 'encrypted_content' in plain.output[0] ? plain.output[0].encrypted_content : null,
        'p',
      ),
    ).toEqual([{ type: 'thinking', thinking: 'hm', signature: '' }]);
  });

  it('give their blocks to the assistant turn after them, from the item or remembered by its id', () => {
    const encoded = encodeThinking([signed]);
    const turn = (reasoning: Record<string, unknown>, resolve = (_: string) => undefined as never) =>
      fromResponsesRequest(
        parse({
          input: [
            { role: 'user', content: 'list' },
            reasoning,
            { type: 'function_call', call_id: 'toolu_1', name: 'shell', arguments: '{}' },
            { type: 'function_call_output', call_id: 'toolu_1', output: 'a.txt' },
          ],
        }),
        resolve,
      ).messages[1];
    expect(turn({ type: 'reasoning', id: 'rs_1', summary: [], encrypted_content: encoded })).toMatchObject({
      role: 'assistant',
      thinking_blocks: [signed],
    });
    const known = { type: 'reasoning', id: 'rs_1', summary: [], encrypted_content: encoded } as never;
    expect(turn({ type: 'reasoning', id: 'rs_1', summary: [] }, () => known)).toMatchObject({
      thinking_blocks: [signed],
    });
    // Reasoning that no assistant turn follows goes nowhere.
    const stray = fromResponsesRequest(
      parse({
        input: [
          { type: 'reasoning', id: 'rs_1', summary: [], encrypted_content: encoded },
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: 'hello' },
        ],
      }),
    );
    expect(stray.messages.some((m) => m.thinking_blocks)).toBe(false);
  });

  it('stream as a reasoning item: text deltas per block, closed by its signed block, before the answer', () => {
    const w = new ResponsesStreamWriter(parse({ input: 'x', stream: true }), ids(), 5);
    const chunk = (delta: Record<string, unknown>): ChatCompletionChunk =>
      ({
        id: 'c',
        object: 'chat.completion.chunk',
        created: 1,
        model: 'claude',
        choices: [{ index: 0, delta, finish_reason: null }],
      }) as ChatCompletionChunk;
    const events = [
      ...w.push(chunk({ reasoning_content: 'I should ' })),
      ...w.push(chunk({ reasoning_content: 'list.' })),
      ...w.push(chunk({ thinking_blocks: [signed] })),
      ...w.push(chunk({ thinking_blocks: [redacted] })),
      ...w.push(chunk({ content: 'Listing.' })),
      ...w.end(),
    ];
    expect(events.map((e) => e.type).slice(2, 10)).toEqual([
      'response.output_item.added',
      'response.content_part.added',
      'response.reasoning_text.delta',
      'response.reasoning_text.delta',
      'response.reasoning_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.output_item.added',
    ]);
    expect(events[6]).toMatchObject({ text: 'I should list.', content_index: 0, output_index: 0 });
    expect(events[8]!['item']).toMatchObject({
      type: 'reasoning',
      status: 'completed',
      content: [{ type: 'reasoning_text', text: 'I should list.' }],
      encrypted_content: encodeThinking([signed, redacted]),
    });
    const done = events.at(-1)!['response'] as ReturnType<typeof toResponse>;
    expect(done.output.map((o) => o.type)).toEqual(['reasoning', 'message']);
    // Asked for a summary (Codex asks by default), the text is the summary, in summary events.
    const s = new ResponsesStreamWriter(
      parse({ input: 'x', stream: true, reasoning: { summary: 'auto' } }),
      ids(),
      5,
    );
    const summarized = [
      ...s.push(chunk({ reasoning_content: 'Hm.' })),
      ...s.push(chunk({ content: 'Hi' })),
      ...s.end(),
    ];
    expect(summarized.map((e) => e.type).slice(3, 7)).toEqual([
      'response.reasoning_summary_part.added',
      'response.reasoning_summary_text.delta',
      'response.reasoning_summary_text.done',
      'response.reasoning_summary_part.done',
    ]);
    expect(summarized[4]).toMatchObject({ summary_index: 0, delta: 'Hm.' });
    expect(summarized[7]!['item']).toMatchObject({
      summary: [{ type: 'summary_text', text: 'Hm.' }],
      content: [],
    });
  });
});
