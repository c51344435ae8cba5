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
