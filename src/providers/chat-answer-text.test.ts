import { describe, expect, it } from 'vitest';
import { answerRateLimits, parsedChatAnswer, sourceText } from './chat-answer-text.js';

const text =
  '{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"}}]}';

describe('parsedChatAnswer', () => {
  it("keeps the upstream's text and its rate-limit headers, and no other header", () => {
    const v = parsedChatAnswer(text, {
      'x-ratelimit-remaining-requests': '499',
      'x-ratelimit-reset-tokens': ['6m0s', 'ignored'],
      'set-cookie': 'a=b',
      'x-request-id': 'req_1',
    }) as object;
    expect(sourceText(v)).toBe(text);
    expect(answerRateLimits(v)).toEqual({
      'x-ratelimit-remaining-requests': '499',
      'x-ratelimit-reset-tokens': '6m0s',
    });
    // Not part of the answer's JSON, and a copy (a cached answer) does not carry them.
    expect(JSON.stringify(v)).not.toContain('ratelimit');
    expect(answerRateLimits({ ...v })).toBeUndefined();
  });

  it('tags nothing when the upstream sent no rate limits', () => {
    expect(
      answerRateLimits(parsedChatAnswer(text, { 'content-type': 'application/json' }) as object),
    ).toBeUndefined();
    expect(answerRateLimits(parsedChatAnswer(text) as object)).toBeUndefined();
  });
});
