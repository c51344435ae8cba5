import { describe, expect, it } from 'vitest';
import type { ChatCompletionRequest } from '../api/openai.js';
import { cutAtStop, mentionedTool, sampleForSchema, simulate, toolToCall } from './simulated-answer.js';

const settings = { latencyMs: 0, tokensPerSecond: 1000 };
const req = (r: Partial<ChatCompletionRequest>): ChatCompletionRequest => ({
  model: 'sim-model',
  messages: [{ role: 'user', content: 'hi' }],
  ...r,
});
const tool = (name: string, parameters?: unknown) => ({ type: 'function', function: { name, parameters } });

describe('sampleForSchema', () => {
  it('satisfies what a Pydantic / zod generated schema asks: $refs, Optional (anyOf null), formats, bounds', () => {
    const schema = {
      type: 'object',
      $defs: {
        Address: {
          type: 'object',
          properties: { street: { type: 'string', minLength: 12 }, zip: { type: 'string', maxLength: 3 } },
          required: ['street', 'zip'],
          additionalProperties: false,
        },
      },
      properties: {
        name: { type: 'string' },
        age: { type: 'integer', exclusiveMinimum: 17 },
        score: { type: 'number', minimum: 0.5, multipleOf: 0.25 },
        temp: { type: 'number', maximum: -3 },
        nickname: { anyOf: [{ type: 'null' }, { type: 'string' }] },
        tags: { type: 'array', items: { type: 'string' }, minItems: 2 },
        when: { type: 'string', format: 'date-time' },
        email: { type: ['string', 'null'], format: 'email' },
        address: { $ref: '#/$defs/Address' },
        kind: { const: 'person' },
        mood: { enum: ['happy', 'sad'] },
        merged: {
          allOf: [{ properties: { a: { type: 'boolean' } } }, { properties: { b: { type: 'null' } } }],
        },
        pair: { type: 'array', prefixItems: [{ type: 'integer' }, { type: 'string' }] },
      },
      required: ['name', 'age'],
    };
    expect(sampleForSchema(schema)).toEqual({
      name: 'simulated',
      age: 18,
      score: 0.5,
      temp: -3,
      nickname: 'simulated',
      tags: ['simulated', 'simulated'],
      when: '2025-01-01T00:00:00Z',
      email: 'simulated@example.com',
      address: { street: 'simulatedxxx', zip: 'sim' },
      kind: 'person',
      mood: 'happy',
      merged: { a: false, b: null },
      pair: [0, 'simulated'],
    });
  });

  it('fills query-like string properties from the question', () => {
    expect(
      sampleForSchema(
        { type: 'object', properties: { query: { type: 'string' }, n: { type: 'integer' } } },
        0,
        undefined,
        'kube docs',
      ),
    ).toEqual({ query: 'kube docs', n: 0 });
  });
});

describe('toolToCall', () => {
  const tools = [tool('get_current_weather'), tool('searchDocuments'), tool('send_email')];

  it('auto: calls the tool the question names, none when it names none, and answers after tool results', () => {
    const ask = (content: string, extra: Partial<ChatCompletionRequest> = {}) =>
      toolToCall(req({ messages: [{ role: 'user', content }], tools, ...extra }))?.name;
    expect(ask("What's the weather in Paris?")).toBe('get_current_weather');
    expect(ask('Search the documents for routing')).toBe('searchDocuments');
    expect(ask('Tell me a joke')).toBeUndefined();
    expect(ask("What's the weather?", { tool_choice: 'none' })).toBeUndefined();
    expect(
      toolToCall(
        req({
          tools,
          messages: [
            { role: 'user', content: 'weather?' },
            { role: 'assistant', content: null, tool_calls: [] },
            { role: 'tool', tool_call_id: 'c', content: '18C' },
          ],
        }),
      ),
    ).toBeUndefined();
  });

  it('required calls the best match or the first tool; a named choice calls that tool', () => {
    expect(toolToCall(req({ tools, tool_choice: 'required' }))?.name).toBe('get_current_weather');
    expect(
      toolToCall(
        req({ tools, tool_choice: 'required', messages: [{ role: 'user', content: 'send an email' }] }),
      )?.name,
    ).toBe('send_email');
    expect(
      toolToCall(req({ tools, tool_choice: { type: 'function', function: { name: 'send_email' } } }))?.name,
    ).toBe('send_email');
    expect(mentionedTool([], 'anything')).toBeUndefined();
  });
});

describe('simulate', () => {
  it('answers after tool results by quoting them, labelled as simulated', () => {
    const a = simulate(
      req({
        tools: [tool('get_weather')],
        messages: [
          { role: 'user', content: 'weather in Oslo?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{}' } }],
          },
          { role: 'tool', tool_call_id: 'c1', content: '4C and snow' },
        ],
      }),
      settings,
    );
    expect(a.choices[0]).toMatchObject({
      finish: 'stop',
      content: '[simulated sim-model] The tool returned: 4C and snow',
    });
  });

  it('never cuts JSON at a stop sequence or max_tokens, and keeps one JSON answer per choice', () => {
    const schema = { type: 'object', properties: { summary: { type: 'string', minLength: 40 } } };
    const a = simulate(
      req({
        n: 2,
        stop: ['x'],
        max_tokens: 2,
        response_format: { type: 'json_schema', json_schema: { name: 's', schema } },
      }),
      settings,
    );
    expect(a.choices).toHaveLength(2);
    for (const c of a.choices) {
      expect(c.finish).toBe('stop');
      expect((JSON.parse(c.content ?? '') as { summary: string }).summary).toHaveLength(40);
    }
  });

  it('cuts text at the earliest stop sequence', () => {
    expect(cutAtStop('one. two; three', ['three', ';'])).toEqual({ text: 'one. two', stopped: true });
    expect(cutAtStop('abc', 'z')).toEqual({ text: 'abc', stopped: false });
    expect(cutAtStop('abc', undefined)).toEqual({ text: 'abc', stopped: false });
  });
});
