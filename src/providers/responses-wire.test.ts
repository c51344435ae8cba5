import { describe, expect, it } from 'vitest';
import type { ChatCompletionChunk, ChatCompletionRequest } from '../api/openai.js';
import {
  fromResponse,
  ResponsesChunks,
  type ResponsesEventLike,
  toResponsesRequest,
} from './responses-wire.js';
import { ProviderError } from './types.js';

const plain = (s: string) => s;

describe('toResponsesRequest', () => {
  it('sends leading system/developer messages as instructions and the rest as typed input items', () => {
    const req: ChatCompletionRequest = {
      model: 'gpt-5-codex',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Use tools.' }] },
        { role: 'user', content: 'Weather in Paris?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '18C' },
        { role: 'system', content: 'Answer in French.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'And this?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AA==' } },
          ],
        },
      ],
    };
    const out = toResponsesRequest(req, false);
    expect(out['instructions']).toBe('Be brief.\n\nUse tools.');
    expect(out['store']).toBe(false);
    expect(out['stream']).toBe(false);
    expect(out['input']).toEqual([
      { type: 'message', role: 'user', content: 'Weather in Paris?' },
      { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
      { type: 'function_call_output', call_id: 'call_1', output: '18C' },
      { type: 'message', role: 'system', content: 'Answer in French.' },
      {
        type: 'message',
        role: 'user',
        content: [
          { type: 'input_text', text: 'And this?' },
          { type: 'input_image', image_url: 'data:image/png;base64,AA==', detail: 'auto' },
        ],
      },
    ]);
    expect(out).not.toHaveProperty('messages');
  });

  it('maps the settings to their Responses names and leaves out what has no equivalent', () => {
    const out = toResponsesRequest(
      {
        model: 'o3-pro',
        messages: [{ role: 'user', content: 'hi' }],
        max_completion_tokens: 500,
        temperature: 0.2,
        top_p: 0.9,
        reasoning_effort: 'high',
        stop: ['\n'],
        seed: 7,
        frequency_penalty: 1,
        stream_options: { include_usage: true },
        response_format: {
          type: 'json_schema',
          json_schema: { name: 'answer', schema: { type: 'object' }, strict: true },
        },
        tools: [
          {
            type: 'function',
            function: { name: 'f', description: 'does f', parameters: { type: 'object', properties: {} } },
          },
        ],
        tool_choice: { type: 'function', function: { name: 'f' } },
        parallel_tool_calls: false,
        user: 'u1',
      } as ChatCompletionRequest,
      true,
    );
    expect(out).toEqual({
      model: 'o3-pro',
      input: [{ type: 'message', role: 'user', content: 'hi' }],
      store: false,
      stream: true,
      max_output_tokens: 500,
      temperature: 0.2,
      top_p: 0.9,
      parallel_tool_calls: false,
      user: 'u1',
      reasoning: { effort: 'high' },
      text: { format: { type: 'json_schema', name: 'answer', schema: { type: 'object' }, strict: true } },
      // Chat tools are not strict unless they say so; the Responses API would make them strict when left out.
      tools: [
        {
          type: 'function',
          name: 'f',
          description: 'does f',
          parameters: { type: 'object', properties: {} },
          strict: false,
        },
      ],
      tool_choice: { type: 'function', name: 'f' },
    });
    expect(
      toResponsesRequest({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 9 }, false),
    ).toMatchObject({ max_output_tokens: 9 });
  });

  it('refuses what one Response cannot carry as the client’s fault, naming the field', () => {
    const n = () =>
      toResponsesRequest({ model: 'm', messages: [{ role: 'user', content: 'hi' }], n: 2 }, false);
    expect(n).toThrow(ProviderError);
    expect(n).toThrow(/^n:/);
    try {
      n();
    } catch (e) {
      expect((e as ProviderError).reason).toBe('client_error');
    }
    expect(() =>
      toResponsesRequest(
        {
          model: 'm',
          messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'x' } }] }],
        } as ChatCompletionRequest,
        false,
      ),
    ).toThrow(/messages\.0\.content\.0\.type/);
    expect(() =>
      toResponsesRequest(
        { model: 'm', messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'web_search' }] },
        false,
      ),
    ).toThrow(/tools\.0\.type/);
  });
});

describe('fromResponse', () => {
  it('reads text, function calls and usage with its cached and reasoning parts', () => {
    const c = fromResponse({
      id: 'resp_1',
      created_at: 123,
      model: 'gpt-5-codex',
      status: 'completed',
      output: [
        { type: 'reasoning', id: 'rs_1', summary: [{ type: 'summary_text', text: 'thought' }] },
        {
          type: 'message',
          role: 'assistant',
          content: [
            { type: 'output_text', text: 'Checking ', annotations: [] },
            { type: 'output_text', text: 'now.', annotations: [] },
          ],
        },
        { type: 'function_call', call_id: 'call_9', name: 'get_weather', arguments: '{"city":"Oslo"}' },
      ],
      usage: {
        input_tokens: 100,
        input_tokens_details: { cached_tokens: 40 },
        output_tokens: 30,
        output_tokens_details: { reasoning_tokens: 12 },
        total_tokens: 130,
      },
    });
    expect(c).toMatchObject({ id: 'resp_1', object: 'chat.completion', created: 123, model: 'gpt-5-codex' });
    expect(c.choices[0]).toEqual({
      index: 0,
      message: {
        role: 'assistant',
        content: 'Checking now.',
        reasoning_content: 'thought',
        tool_calls: [
          { id: 'call_9', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
        ],
      },
      finish_reason: 'tool_calls',
    });
    expect(c.usage).toEqual({
      prompt_tokens: 100,
      completion_tokens: 30,
      total_tokens: 130,
      prompt_tokens_details: { cached_tokens: 40 },
      completion_tokens_details: { reasoning_tokens: 12 },
    });
  });

  it('says length for an answer cut at max_output_tokens, content_filter for a filtered one', () => {
    const cut = (reason: string) =>
      fromResponse({ status: 'incomplete', incomplete_details: { reason }, output: [] }).choices[0]!
        .finish_reason;
    expect(cut('max_output_tokens')).toBe('length');
    expect(cut('content_filter')).toBe('content_filter');
    expect(fromResponse({ status: 'completed', output: [] }).choices[0]!.finish_reason).toBe('stop');
  });
});

describe('ResponsesChunks', () => {
  const run = (events: object[]) => {
    const t = new ResponsesChunks('up', plain);
    const out: ChatCompletionChunk[] = [];
    for (const e of events) out.push(...t.next(e as ResponsesEventLike));
    return { t, out };
  };

  it('turns text and function-call events into chat chunks, ending with finish and usage', () => {
    const { t, out } = run([
      {
        type: 'response.created',
        response: { id: 'resp_2', created_at: 5, model: 'gpt-5-codex', output: [] },
      },
      { type: 'response.output_item.added', output_index: 0, item: { type: 'message', content: [] } },
      { type: 'response.output_text.delta', output_index: 0, delta: 'Hi' },
      { type: 'response.output_text.delta', output_index: 0, delta: ' there' },
      {
        type: 'response.output_item.added',
        output_index: 1,
        item: { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '' },
      },
      { type: 'response.function_call_arguments.delta', output_index: 1, delta: '{"city":' },
      { type: 'response.function_call_arguments.delta', output_index: 1, delta: '"Rome"}' },
      { type: 'response.function_call_arguments.done', output_index: 1, arguments: '{"city":"Rome"}' },
      {
        type: 'response.output_item.added',
        output_index: 2,
        item: { type: 'function_call', call_id: 'call_2', name: 'get_time', arguments: '' },
      },
      // Arguments sent whole, without deltas.
      { type: 'response.function_call_arguments.done', output_index: 2, arguments: '{}' },
      {
        type: 'response.completed',
        response: {
          status: 'completed',
          output: [],
          usage: { input_tokens: 10, output_tokens: 4, total_tokens: 14 },
        },
      },
    ]);
    expect(t.done).toBe(true);
    expect(out.every((c) => c.id === 'resp_2' && c.model === 'gpt-5-codex' && c.created === 5)).toBe(true);
    expect(out.map((c) => c.choices[0]?.delta ?? null)).toEqual([
      { role: 'assistant', content: 'Hi' },
      { content: ' there' },
      {
        tool_calls: [
          { index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } },
        ],
      },
      { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '"Rome"}' } }] },
      {
        tool_calls: [
          { index: 1, id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '' } },
        ],
      },
      { tool_calls: [{ index: 1, function: { arguments: '{}' } }] },
      {},
      null,
    ]);
    expect(out.at(-2)!.choices[0]!.finish_reason).toBe('tool_calls');
    expect(out.at(-1)!.usage).toMatchObject({ prompt_tokens: 10, completion_tokens: 4, total_tokens: 14 });
  });

  it('ends an incomplete response with finish_reason length', () => {
    const { t, out } = run([
      { type: 'response.output_text.delta', delta: 'cut' },
      {
        type: 'response.incomplete',
        response: { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, output: [] },
      },
    ]);
    expect(t.done).toBe(true);
    expect(out.at(-1)!.choices[0]!.finish_reason).toBe('length');
  });

  it('throws error events and failed responses with their class: rate limit, overload, server error', () => {
    const thrown = (ev: object) => {
      try {
        run([ev]);
      } catch (e) {
        return e as ProviderError;
      }
      throw new Error('no throw');
    };
    const limited = thrown({ type: 'error', code: 'rate_limit_exceeded', message: 'Rate limit reached' });
    expect(limited.reason).toBe('rate_limited');
    expect(limited.message).toContain('Rate limit reached');
    const over = thrown({
      type: 'error',
      code: 'server_error',
      message: 'The engine is currently overloaded, please try again later.',
    });
    expect([over.reason, over.overloaded]).toEqual(['server_error', true]);
    const failed = thrown({
      type: 'response.failed',
      response: { status: 'failed', output: [], error: { code: 'server_error', message: 'boom' } },
    });
    expect([failed.reason, failed.overloaded]).toEqual(['server_error', false]);
    expect(failed.message).toContain('boom');
  });
});
