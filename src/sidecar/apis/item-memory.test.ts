import { describe, expect, it } from 'vitest';
import { responsesRequest } from '../../api/responses.js';
import { ItemMemory } from './item-memory.js';
import { fromResponsesRequest, type OutputItem } from './responses.js';

describe('ItemMemory', () => {
  it('resolves references to items it answered with, as the same conversation turn', () => {
    const memory = new ItemMemory();
    memory.remember(
      [
        {
          type: 'message',
          id: 'msg_a',
          status: 'completed',
          role: 'assistant',
          content: [{ type: 'output_text', text: 'It is 18C.', annotations: [], logprobs: [] }],
        },
        {
          type: 'function_call',
          id: 'fc_b',
          call_id: 'call_1',
          name: 'weather',
          arguments: '{}',
          status: 'completed',
        },
      ],
      0,
    );
    const req = responsesRequest.parse({
      model: 'auto',
      input: [
        { role: 'user', content: 'Weather?' },
        { type: 'item_reference', id: 'msg_a' },
        { type: 'item_reference', id: 'fc_b' },
        { type: 'function_call_output', call_id: 'call_1', output: 'ok' },
      ],
    });
    expect(fromResponsesRequest(req, (id) => memory.resolve(id, 1)).messages).toEqual([
      { role: 'user', content: 'Weather?' },
      {
        role: 'assistant',
        content: 'It is 18C.',
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{}' } }],
      },
      { role: 'tool', tool_call_id: 'call_1', content: 'ok' },
    ]);
  });

  it('gives a function_call the client rebuilt without it the thought signature it was answered with', () => {
    const extra = { google: { thought_signature: 'sig-1' } };
    const memory = new ItemMemory();
    memory.remember(
      [
        {
          type: 'function_call',
          id: 'fc_b',
          call_id: 'call_1',
          name: 'weather',
          arguments: '{}',
          status: 'completed',
          extra_content: extra,
        },
      ],
      0,
    );
    const call = (name: string) =>
      responsesRequest.parse({
        model: 'auto',
        input: [
          { role: 'user', content: 'Weather?' },
          // As Codex and the Vercel AI SDK send it back: call_id, name and arguments only.
          { type: 'function_call', call_id: 'call_1', name, arguments: '{}' },
          { type: 'function_call_output', call_id: 'call_1', output: 'ok' },
        ],
      });
    const translate = (name: string) =>
      fromResponsesRequest(call(name), (id) => memory.resolve(id, 1), {
        extra: (id, n) => memory.callExtra(id, n, 1),
        thinking: () => undefined,
      }).messages[1]?.tool_calls?.[0] as { extra_content?: unknown };
    expect(translate('weather').extra_content).toEqual(extra);
    // Another tool under the same call_id is not the call we answered.
    expect(translate('other').extra_content).toBeUndefined();
    // A reference to the item carries it too; no reference can name the call_id itself.
    expect(memory.resolve('fc_b', 1)).toMatchObject({ extra_content: extra });
    expect(memory.resolve('call_1', 1)).toBeUndefined();
  });

  it('forgets after its TTL and within its byte bound', () => {
    const memory = new ItemMemory(600, 1000);
    const item = (id: string): OutputItem => ({
      type: 'message',
      id,
      status: 'completed',
      role: 'assistant',
      content: [{ type: 'output_text', text: 'x'.repeat(100), annotations: [], logprobs: [] }],
    });
    memory.remember([item('msg_1'), item('msg_2'), item('msg_3')], 0);
    expect(memory.bytes).toBeLessThanOrEqual(600);
    expect(memory.resolve('msg_1', 1)).toBeUndefined();
    expect(memory.resolve('msg_3', 1)).toBeDefined();
    expect(memory.resolve('msg_3', 1000)).toBeUndefined();
  });
});
