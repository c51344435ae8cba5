import { describe, expect, it } from 'vitest';
import type { ChatCompletionRequest } from '../api/openai.js';
import { estimateRequestTokens, estimateTextTokens, messageText, requestedMaxTokens } from './tokens.js';

describe('estimateTextTokens', () => {
  it('is zero for empty text and about chars/4 for English prose', () => {
    expect(estimateTextTokens('')).toBe(0);
    const prose =
      'The quick brown fox jumps over the lazy dog while the farmer watches from the porch and drinks his coffee. ';
    const text = prose.repeat(20);
    const est = estimateTextTokens(text);
    // tiktoken counts ~22 tokens for one sentence: the estimate stays within 35% of that.
    expect(est / 20).toBeGreaterThan(22 * 0.65);
    expect(est / 20).toBeLessThan(22 * 1.35);
  });

  it('counts code denser than prose of the same length', () => {
    const code = 'for (let i = 0; i < n; i++) { if (a[i] !== b[i]) { return -1; } }\n'.repeat(10);
    const prose = 'We walked along the river and talked about nothing in particular today.\n'.repeat(10);
    const perChar = (t: string) => estimateTextTokens(t) / t.length;
    expect(perChar(code)).toBeGreaterThan(perChar(prose) * 1.3);
  });

  it('counts CJK at about one token per character, far above chars/4', () => {
    const zh = '机器学习是人工智能的一个分支它使计算机能够从数据中学习'; // 27 characters
    expect(estimateTextTokens(zh)).toBe(zh.length);
    expect(estimateTextTokens('日本語のテキスト')).toBe(8);
    expect(estimateTextTokens('한국어 문장입니다')).toBe(8);
  });

  it('splits long words and identifiers', () => {
    expect(estimateTextTokens('house')).toBe(1);
    expect(estimateTextTokens('internationalization')).toBe(4);
  });

  it('charges long indentation runs but not single spaces', () => {
    expect(estimateTextTokens('a b')).toBe(2);
    expect(estimateTextTokens('a        b')).toBe(3);
  });
});

describe('messageText / estimateRequestTokens', () => {
  it('reads every text part of array content and skips images', () => {
    const text = messageText({
      role: 'user',
      content: [
        { type: 'text', text: 'first part' },
        { type: 'image_url', image_url: { url: 'data:...' } },
        { type: 'text', text: 'second part' },
      ],
    });
    expect(text).toBe('first part\nsecond part');
    expect(messageText({ role: 'assistant', content: null })).toBe('');
  });

  it('adds per-message overhead, tool definitions and JSON schemas', () => {
    const base: ChatCompletionRequest = { model: 'auto', messages: [{ role: 'user', content: 'hello' }] };
    const one = estimateRequestTokens(base);
    expect(one).toBe(3 + 4 + 1);
    const two = estimateRequestTokens({
      ...base,
      messages: [...base.messages, { role: 'assistant', content: 'hello' }],
    });
    expect(two).toBe(one + 4 + 1);
    const withTools = estimateRequestTokens({
      ...base,
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
    } as ChatCompletionRequest);
    expect(withTools).toBeGreaterThan(one + 10);
    const withSchema = estimateRequestTokens({
      ...base,
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'x', schema: { type: 'object', properties: { a: { type: 'string' } } } },
      },
    });
    expect(withSchema).toBeGreaterThan(one + 5);
  });

  it('reads max_completion_tokens before max_tokens', () => {
    const base: ChatCompletionRequest = { model: 'auto', messages: [{ role: 'user', content: 'x' }] };
    expect(requestedMaxTokens(base)).toBe(0);
    expect(requestedMaxTokens({ ...base, max_tokens: 100 })).toBe(100);
    expect(requestedMaxTokens({ ...base, max_tokens: 100, max_completion_tokens: 50 })).toBe(50);
  });
});
