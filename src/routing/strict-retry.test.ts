import { describe, expect, it } from 'vitest';
import type { ChatCompletionRequest } from '../api/openai.js';
import { validateJson } from './cascade.js';
import { strictInstruction, strictRequest } from './strict-retry.js';

const schemaReq: ChatCompletionRequest = {
  model: 'auto',
  messages: [
    { role: 'system', content: 'You extract invoices.' },
    { role: 'developer', content: 'Be brief.' },
    { role: 'user', content: 'Invoice 42, total 10 EUR' },
  ],
  response_format: {
    type: 'json_schema',
    json_schema: {
      name: 'invoice',
      schema: { type: 'object', properties: { total: { type: 'number' } }, required: ['total'] },
    },
  },
};

describe('strictRequest', () => {
  it('puts the instruction after the leading system and developer messages, leaving the rest alone', () => {
    const detail = validateJson('{"amount": 1}', schemaReq.response_format)!;
    const r = strictRequest(schemaReq, detail);
    expect(r.messages.map((m) => m.role)).toEqual(['system', 'developer', 'system', 'user']);
    expect(r.messages[3]).toBe(schemaReq.messages[2]);
    expect(r.response_format).toBe(schemaReq.response_format);
    const text = r.messages[2]!.content as string;
    expect(text).toContain('JSON only');
    expect(text).toContain('"invoice"');
    expect(text).toContain('"required":["total"]');
    expect(text).toContain(detail);
    expect(schemaReq.messages).toHaveLength(3); // not mutated
  });

  it('asks for a JSON object under json_object, first in a conversation without system messages', () => {
    const r = strictRequest(
      {
        model: 'auto',
        messages: [{ role: 'user', content: 'list' }],
        response_format: { type: 'json_object' },
      },
      'content is not valid JSON',
    );
    expect(r.messages[0]).toMatchObject({ role: 'system' });
    expect(r.messages[0]!.content).toMatch(/one JSON object\.$/);
    expect(r.messages[1]).toMatchObject({ role: 'user', content: 'list' });
  });

  it('uses a configured instruction and names a schema too large to quote', () => {
    const big = {
      ...schemaReq,
      response_format: {
        type: 'json_schema' as const,
        json_schema: { name: 'huge', schema: { description: 'x'.repeat(5000) } },
      },
    };
    const text = strictInstruction(big, 'content is not valid JSON', 'ONLY JSON, PLEASE.');
    expect(text.startsWith('ONLY JSON, PLEASE. The problem was: content is not valid JSON.')).toBe(true);
    expect(text).toContain('"huge"');
    expect(text).not.toContain('xxxx');
  });
});
