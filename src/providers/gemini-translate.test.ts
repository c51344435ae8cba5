import { describe, expect, it } from 'vitest';
import type { ChatCompletionChunk, ChatCompletionRequest } from '../api/openai.js';
import {
  fromGeminiResponse,
  GeminiStreamTranslator,
  geminiFinishReason,
  geminiModelPath,
  geminiUntranslatable,
  geminiUsage,
  toGeminiRequest,
  toolResponse,
} from './gemini-translate.js';
import { ProviderError } from './types.js';

const req = (r: Partial<ChatCompletionRequest>): ChatCompletionRequest => ({
  model: 'gemini-2.5-flash',
  messages: [{ role: 'user', content: 'hi' }],
  ...r,
});

const ids = () => {
  let n = 0;
  return () => `call_${++n}`;
};

const weather = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
      additionalProperties: false,
    },
  },
};

function clientError(fn: () => unknown): ProviderError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ProviderError);
    expect((e as ProviderError).reason).toBe('client_error');
    return e as ProviderError;
  }
  throw new Error('expected a client_error');
}

describe('toGeminiRequest', () => {
  it('moves system and developer messages to systemInstruction and assistant turns to role model', () => {
    const out = toGeminiRequest(
      req({
        messages: [
          { role: 'system', content: 'Be terse.' },
          { role: 'developer', content: [{ type: 'text', text: 'Metric units.' }] },
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: 'Hello.' },
          { role: 'user', content: 'Weather?' },
        ],
      }),
    );
    expect(out.systemInstruction).toEqual({ parts: [{ text: 'Be terse.\n\nMetric units.' }] });
    expect(out.contents).toEqual([
      { role: 'user', parts: [{ text: 'Hi' }] },
      { role: 'model', parts: [{ text: 'Hello.' }] },
      { role: 'user', parts: [{ text: 'Weather?' }] },
    ]);
    expect(out.generationConfig).toBeUndefined();
  });

  it('merges consecutive turns of one role and drops empty messages', () => {
    const out = toGeminiRequest(
      req({
        messages: [
          { role: 'user', content: 'one' },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'two' },
              { type: 'text', text: '' },
            ],
          },
          { role: 'assistant', content: '' },
          { role: 'user', content: 'three' },
        ],
      }),
    );
    expect(out.contents).toEqual([
      { role: 'user', parts: [{ text: 'one' }, { text: 'two' }, { text: 'three' }] },
    ]);
  });

  it('maps sampling, limits, stop, n, penalties, seed and JSON modes to generationConfig', () => {
    const out = toGeminiRequest(
      req({
        temperature: 1.5,
        top_p: 0.9,
        max_tokens: 100,
        max_completion_tokens: 50,
        stop: ['END', ''],
        n: 2,
        presence_penalty: 0.5,
        frequency_penalty: -0.5,
        seed: 7,
        response_format: {
          type: 'json_schema',
          json_schema: { name: 'x', schema: { type: 'object', properties: { a: { type: 'integer' } } } },
        },
      }),
    );
    expect(out.generationConfig).toEqual({
      temperature: 1.5,
      topP: 0.9,
      maxOutputTokens: 50,
      stopSequences: ['END'],
      candidateCount: 2,
      presencePenalty: 0.5,
      frequencyPenalty: -0.5,
      seed: 7,
      responseMimeType: 'application/json',
      responseJsonSchema: { type: 'object', properties: { a: { type: 'integer' } } },
    });
    expect(
      toGeminiRequest(req({ stop: 'x', response_format: { type: 'json_object' } })).generationConfig,
    ).toEqual({ stopSequences: ['x'], responseMimeType: 'application/json' });
    expect(
      clientError(() => toGeminiRequest(req({ stop: ['a', 'b', 'c', 'd', 'e', 'f'] }))).message,
    ).toContain('stop');
    expect(clientError(() => toGeminiRequest(req({ n: 0 }))).message).toContain('n must be');
  });

  it('declares tools with their full JSON schema and maps every tool_choice', () => {
    const out = toGeminiRequest(req({ tools: [weather], tool_choice: 'required' }));
    expect(out.tools).toEqual([
      {
        functionDeclarations: [
          {
            name: 'get_weather',
            description: 'Weather for a city',
            parametersJsonSchema: weather.function.parameters,
          },
        ],
      },
    ]);
    expect(out.toolConfig).toEqual({ functionCallingConfig: { mode: 'ANY' } });
    const tc = (choice: unknown) =>
      toGeminiRequest(req({ tools: [weather], tool_choice: choice })).toolConfig;
    expect(tc('auto')).toBeUndefined();
    expect(tc('none')).toEqual({ functionCallingConfig: { mode: 'NONE' } });
    expect(tc({ type: 'function', function: { name: 'get_weather' } })).toEqual({
      functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_weather'] },
    });
    expect(clientError(() => tc({ type: 'function', function: { name: 'other' } })).message).toContain(
      'not in tools',
    );
    expect(clientError(() => toGeminiRequest(req({ tool_choice: 'required' }))).message).toContain(
      'requires tools',
    );
    expect(
      clientError(() => toGeminiRequest(req({ tools: [{ type: 'function', function: { name: '9 bad' } }] })))
        .message,
    ).toContain('tools.0.function.name');
    // A tool without parameters is declared without a schema.
    expect(toGeminiRequest(req({ tools: [{ type: 'function', function: { name: 'now' } }] })).tools).toEqual([
      { functionDeclarations: [{ name: 'now' }] },
    ]);
  });

  it('sends tool calls as functionCall parts and tool results as functionResponse parts named after their call', () => {
    const out = toGeminiRequest(
      req({
        tools: [weather],
        messages: [
          { role: 'user', content: 'Paris and Oslo?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                id: 'c1',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
                extra_content: { google: { thought_signature: 'sig-1' } },
              },
              { id: 'c2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
            ],
          },
          { role: 'tool', tool_call_id: 'c1', content: '{"tempC":18}' },
          { role: 'tool', tool_call_id: 'c2', content: 'cold' },
          { role: 'user', content: 'Which is warmer?' },
        ],
      }),
    );
    expect(out.contents).toEqual([
      { role: 'user', parts: [{ text: 'Paris and Oslo?' }] },
      {
        role: 'model',
        parts: [
          { functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: 'sig-1' },
          { functionCall: { name: 'get_weather', args: { city: 'Oslo' } } },
        ],
      },
      {
        role: 'user',
        parts: [
          { functionResponse: { name: 'get_weather', response: { tempC: 18 } } },
          { functionResponse: { name: 'get_weather', response: { output: 'cold' } } },
          { text: 'Which is warmer?' },
        ],
      },
    ]);
  });

  it('refuses tool turns no upstream would accept', () => {
    const call = (args: string) => ({
      id: 'c1',
      type: 'function',
      function: { name: 'get_weather', arguments: args },
    });
    const turn = (args: string) =>
      req({
        tools: [weather],
        messages: [
          { role: 'user', content: 'x' },
          { role: 'assistant', content: null, tool_calls: [call(args)] },
          { role: 'tool', tool_call_id: 'c1', content: 'r' },
        ],
      });
    expect(clientError(() => toGeminiRequest(turn('{"city":'))).message).toContain('not valid JSON');
    expect(clientError(() => toGeminiRequest(turn('[1]'))).message).toContain('JSON object');
    expect(
      clientError(() =>
        toGeminiRequest(
          req({
            messages: [
              { role: 'user', content: 'x' },
              { role: 'tool', tool_call_id: 'nope', content: 'r' },
            ],
          }),
        ),
      ).message,
    ).toContain('matches no tool call');
    // Turns that are all empty: what only Gemini refuses, so another target may serve it.
    const empty = (() => {
      try {
        toGeminiRequest(req({ messages: [{ role: 'user', content: '' }] }));
      } catch (e) {
        return e as ProviderError;
      }
    })();
    expect(empty).toBeInstanceOf(ProviderError);
    expect(empty).toMatchObject({ reason: 'unavailable' });
    expect(empty?.message).toContain('at least one user or assistant message');
  });

  it('sends data-URL images, audio and files as inlineData', () => {
    const out = toGeminiRequest(
      req({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is this?' },
              { type: 'image_url', image_url: { url: 'data:image/PNG;base64,iVBORw0KGgo=' } },
              { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } },
              { type: 'file', file: { file_data: 'data:application/pdf;base64,JVBERi0=' } },
            ],
          },
        ],
      }),
    );
    expect(out.contents[0]?.parts).toEqual([
      { text: 'What is this?' },
      { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
      { inlineData: { mimeType: 'audio/wav', data: 'UklGRg==' } },
      { inlineData: { mimeType: 'application/pdf', data: 'JVBERi0=' } },
    ]);
    expect(
      clientError(() =>
        toGeminiRequest(
          req({
            messages: [
              { role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:;base64,' } }] },
            ],
          }),
        ),
      ).message,
    ).toContain('messages.0.content.0');
  });
});

describe('geminiUntranslatable', () => {
  it('declines image URLs, legacy functions and unknown parts, and accepts the rest', () => {
    expect(geminiUntranslatable(req({}))).toBeUndefined();
    expect(
      geminiUntranslatable(
        req({
          messages: [
            { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] },
          ],
        }),
      ),
    ).toContain('image URLs');
    expect(geminiUntranslatable(req({ functions: [{ name: 'f' }] }))).toContain('legacy');
    expect(geminiUntranslatable(req({ n: 9 }))).toContain('n above 8');
    expect(geminiUntranslatable(req({ n: 8 }))).toBeUndefined();
    expect(
      geminiUntranslatable(
        req({ messages: [{ role: 'user', content: [{ type: 'refusal', refusal: 'x' }] }] }),
      ),
    ).toContain('"refusal"');
  });

  it('declines logprobs and images in tool messages rather than dropping them', () => {
    expect(geminiUntranslatable(req({ logprobs: true, top_logprobs: 3 }))).toBe(
      'logprobs (asked for by logprobs) is not translated to Gemini',
    );
    expect(geminiUntranslatable(req({ n: 4 }))).toBeUndefined();
    const shot = req({
      tools: [{ type: 'function', function: { name: 'shot' } }],
      messages: [
        { role: 'user', content: 'look' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'shot', arguments: '{}' } }],
        },
        {
          role: 'tool',
          tool_call_id: 'c1',
          content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }],
        },
      ],
    });
    expect(geminiUntranslatable(shot)).toContain(
      'images in tool messages (asked for by messages[2].content[0])',
    );
  });

  it('declines what only Gemini refuses: a tool name other vendors take, a conversation of system messages', () => {
    const tool = (name: string) => req({ tools: [{ type: 'function', function: { name } }] });
    expect(geminiUntranslatable(tool('2fa_lookup'))).toContain('start with a letter or _');
    expect(geminiUntranslatable(tool('-dash'))).toContain('start with a letter or _');
    expect(geminiUntranslatable(tool('get_weather'))).toBeUndefined();
    // A name no vendor takes is the caller's fault: left to the translation's 400.
    expect(geminiUntranslatable(tool('9 bad'))).toBeUndefined();
    expect(
      geminiUntranslatable(req({ messages: [{ role: 'system', content: 'Write a haiku.' }] })),
    ).toContain('at least one user or assistant message');
    expect(
      geminiUntranslatable(
        req({
          messages: [
            { role: 'developer', content: 'Be brief.' },
            { role: 'user', content: 'hi' },
          ],
        }),
      ),
    ).toBeUndefined();
  });
});

describe('fromGeminiResponse', () => {
  it('translates text, function calls, finish reasons and usage (thinking billed as output)', () => {
    const out = fromGeminiResponse(
      {
        responseId: 'abc',
        modelVersion: 'gemini-2.5-flash-001',
        candidates: [
          {
            index: 0,
            content: {
              role: 'model',
              parts: [
                { text: 'thinking...', thought: true },
                { text: 'Checking ' },
                { text: 'now.' },
                { functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: 's1' },
              ],
            },
            finishReason: 'STOP',
          },
        ],
        usageMetadata: {
          promptTokenCount: 10,
          candidatesTokenCount: 5,
          thoughtsTokenCount: 7,
          totalTokenCount: 22,
        },
      },
      'gemini-2.5-flash',
      1,
      ids(),
    );
    expect(out).toEqual({
      id: 'chatcmpl-abc',
      object: 'chat.completion',
      created: 1,
      model: 'gemini-2.5-flash-001',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: 'Checking now.',
            tool_calls: [
              {
                id: 'call_1',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
                extra_content: { google: { thought_signature: 's1' } },
              },
            ],
            refusal: null,
            // A thought summary is the answer's reasoning, never its text.
            reasoning_content: 'thinking...',
          },
          finish_reason: 'tool_calls',
          logprobs: null,
        },
      ],
      usage: { prompt_tokens: 10, completion_tokens: 12, total_tokens: 22 },
    });
  });

  it('answers a blocked prompt with an empty filtered choice and keeps the spent prompt tokens', () => {
    const out = fromGeminiResponse(
      {
        promptFeedback: { blockReason: 'SAFETY' },
        usageMetadata: { promptTokenCount: 8, totalTokenCount: 8 },
      },
      'm',
    );
    expect(out.choices).toEqual([
      {
        index: 0,
        message: { role: 'assistant', content: '', refusal: null },
        finish_reason: 'content_filter',
        logprobs: null,
      },
    ]);
    expect(out.usage).toEqual({ prompt_tokens: 8, completion_tokens: 0, total_tokens: 8 });
  });

  it('returns one choice per candidate', () => {
    const out = fromGeminiResponse(
      {
        candidates: [
          { index: 0, content: { parts: [{ text: 'a' }] }, finishReason: 'STOP' },
          { index: 1, content: { parts: [{ text: 'b' }] }, finishReason: 'MAX_TOKENS' },
        ],
      },
      'm',
    );
    expect(out.choices.map((c) => [c.index, c.message.content, c.finish_reason])).toEqual([
      [0, 'a', 'stop'],
      [1, 'b', 'length'],
    ]);
  });
});

describe('small mappings', () => {
  it('maps finish reasons', () => {
    expect(geminiFinishReason('STOP', false)).toBe('stop');
    expect(geminiFinishReason('STOP', true)).toBe('tool_calls');
    expect(geminiFinishReason('MAX_TOKENS', false)).toBe('length');
    for (const r of ['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII'])
      expect(geminiFinishReason(r, false)).toBe('content_filter');
    expect(geminiFinishReason('MALFORMED_FUNCTION_CALL', false)).toBe('stop');
    expect(geminiFinishReason(undefined, false)).toBeNull();
  });

  it('counts tool-use prompt tokens as input and tolerates missing fields', () => {
    expect(geminiUsage({ promptTokenCount: 3, toolUsePromptTokenCount: 2, candidatesTokenCount: 1 })).toEqual(
      {
        prompt_tokens: 5,
        completion_tokens: 1,
        total_tokens: 6,
      },
    );
    expect(geminiUsage(undefined)).toEqual({ prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 });
  });

  it('builds model paths and tool responses', () => {
    expect(geminiModelPath('gemini-2.5-flash')).toBe('models/gemini-2.5-flash');
    expect(geminiModelPath('models/gemini-2.5-pro')).toBe('models/gemini-2.5-pro');
    expect(geminiModelPath('tunedModels/my-model')).toBe('tunedModels/my-model');
    expect(geminiModelPath('a b?')).toBe('models/a%20b%3F');
    expect(toolResponse('{"a":1}')).toEqual({ a: 1 });
    expect(toolResponse('[1,2]')).toEqual({ output: [1, 2] });
    expect(toolResponse('plain')).toEqual({ output: 'plain' });
  });
});

describe('GeminiStreamTranslator', () => {
  const run = (chunks: unknown[]) => {
    const t = new GeminiStreamTranslator('gem', 'gemini-2.5-flash', 1, ids());
    const out: ChatCompletionChunk[] = [];
    for (const c of chunks) out.push(...t.onChunk(c));
    return { t, out };
  };
  const usage = { promptTokenCount: 4, candidatesTokenCount: 3, totalTokenCount: 7 };

  it('streams text, then the finish, then usage from the last usageMetadata', () => {
    const { t, out } = run([
      {
        responseId: 'r1',
        candidates: [{ content: { role: 'model', parts: [{ text: 'Hel' }] }, index: 0 }],
        usageMetadata: { promptTokenCount: 4 },
      },
      { candidates: [{ content: { role: 'model', parts: [{ text: 'lo' }] }, index: 0 }] },
      {
        candidates: [{ content: { role: 'model', parts: [{ text: '' }] }, finishReason: 'STOP', index: 0 }],
        usageMetadata: usage,
      },
    ]);
    const end = t.end();
    expect(out.map((c) => c.choices[0]?.delta)).toEqual([
      { role: 'assistant', content: '' },
      { content: 'Hel' },
      { content: 'lo' },
      {},
    ]);
    expect(out.at(-1)?.choices[0]?.finish_reason).toBe('stop');
    expect(out.every((c) => c.id === 'chatcmpl-r1')).toBe(true);
    expect(end).toEqual([
      {
        id: 'chatcmpl-r1',
        object: 'chat.completion.chunk',
        created: 1,
        model: 'gemini-2.5-flash',
        choices: [],
        usage: { prompt_tokens: 4, completion_tokens: 3, total_tokens: 7 },
      },
    ]);
  });

  it('streams each function call whole with an index, and finishes with tool_calls', () => {
    const { t, out } = run([
      {
        candidates: [
          {
            index: 0,
            content: {
              parts: [
                { functionCall: { name: 'get_weather', args: { city: 'Paris' } } },
                { functionCall: { name: 'get_weather', args: { city: 'Oslo' } } },
              ],
            },
            finishReason: 'STOP',
          },
        ],
        usageMetadata: usage,
      },
    ]);
    expect(out[1]?.choices[0]?.delta.tool_calls).toEqual([
      {
        index: 0,
        id: 'call_1',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
      },
      {
        index: 1,
        id: 'call_2',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
      },
    ]);
    expect(out.at(-1)?.choices[0]?.finish_reason).toBe('tool_calls');
    expect(t.end()[0]?.usage?.total_tokens).toBe(7);
  });

  it('takes a usage-only chunk as the latest totals without emitting anything', () => {
    const { t, out } = run([
      { candidates: [{ index: 0, content: { parts: [{ text: 'x' }] }, finishReason: 'STOP' }] },
      { usageMetadata: usage },
    ]);
    expect(out).toHaveLength(3);
    expect(t.end()[0]?.usage).toEqual({ prompt_tokens: 4, completion_tokens: 3, total_tokens: 7 });
  });

  it('reports a stream cut before its finishReason, garbage, and error chunks', () => {
    const { t } = run([{ candidates: [{ content: { parts: [{ text: 'partial' }] }, index: 0 }] }]);
    expect(() => t.end()).toThrow(expect.objectContaining({ reason: 'stream_broken' }));
    expect(() => run([]).t.end()).toThrow(expect.objectContaining({ reason: 'stream_broken' }));
    expect(() => run([{ nothing: true }])).toThrow(expect.objectContaining({ reason: 'bad_response' }));
    expect(() => run([{ error: { code: 429, message: 'quota', status: 'RESOURCE_EXHAUSTED' } }])).toThrow(
      expect.objectContaining({ reason: 'rate_limited', overloaded: false }),
    );
    expect(() => run([{ error: { code: 503, message: 'overloaded', status: 'UNAVAILABLE' } }])).toThrow(
      expect.objectContaining({ reason: 'server_error', overloaded: true }),
    );
    expect(() => run([{ error: { code: 500, message: 'oops', status: 'INTERNAL' } }])).toThrow(
      expect.objectContaining({ reason: 'server_error', overloaded: false }),
    );
  });

  it('finishes a blocked prompt with content_filter and still reports usage', () => {
    const { t, out } = run([
      { promptFeedback: { blockReason: 'SAFETY' }, usageMetadata: { promptTokenCount: 9 } },
    ]);
    expect(out.at(-1)?.choices[0]?.finish_reason).toBe('content_filter');
    expect(t.end()[0]?.usage).toEqual({ prompt_tokens: 9, completion_tokens: 0, total_tokens: 9 });
  });

  it('keeps candidates apart when n > 1', () => {
    const { t, out } = run([
      {
        candidates: [
          { index: 0, content: { parts: [{ text: 'a' }] }, finishReason: 'STOP' },
          { index: 1, content: { parts: [{ text: 'b' }] } },
        ],
      },
      { candidates: [{ index: 1, content: { parts: [{ text: 'c' }] }, finishReason: 'STOP' }] },
    ]);
    const textOf = (i: number) =>
      out
        .filter((c) => c.choices[0]?.index === i)
        .map((c) => c.choices[0]?.delta.content ?? '')
        .join('');
    expect([textOf(0), textOf(1)]).toEqual(['a', 'bc']);
    expect(t.end()).toHaveLength(1);
  });
});

describe('thinking (Gemini)', () => {
  it("maps Anthropic's thinking and OpenAI's reasoning_effort to thinkingConfig, with thought summaries", () => {
    const cfg = (r: Partial<ChatCompletionRequest>) =>
      toGeminiRequest(req(r)).generationConfig?.thinkingConfig;
    expect(cfg({ thinking: { type: 'enabled', budget_tokens: 3000 } })).toEqual({
      thinkingBudget: 3000,
      includeThoughts: true,
    });
    expect(cfg({ thinking: { type: 'adaptive' } })).toEqual({ thinkingBudget: -1, includeThoughts: true });
    expect(cfg({ reasoning_effort: 'medium' })).toEqual({ thinkingBudget: 2048, includeThoughts: true });
    expect(cfg({ thinking: { type: 'disabled' }, reasoning_effort: 'high' })).toBeUndefined();
    expect(cfg({})).toBeUndefined();
    // A model that cannot think is not asked to.
    expect(
      toGeminiRequest(req({ model: 'gemini-2.0-flash', thinking: { type: 'enabled', budget_tokens: 2000 } }))
        .generationConfig,
    ).toBeUndefined();
  });

  it('streams thought summaries as reasoning_content ahead of the text', () => {
    const t = new GeminiStreamTranslator('gem', 'gemini-2.5-flash', 1, ids());
    const deltas = [
      ...t.onChunk({ candidates: [{ content: { parts: [{ text: 'Hmm.', thought: true }] }, index: 0 }] }),
      ...t.onChunk({
        candidates: [{ content: { parts: [{ text: 'Hi' }] }, index: 0, finishReason: 'STOP' }],
      }),
    ].map((c) => c.choices[0]!.delta);
    expect(deltas.slice(1, 3)).toEqual([{ reasoning_content: 'Hmm.' }, { content: 'Hi' }]);
  });
});
