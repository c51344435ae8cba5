import { describe, expect, it } from 'vitest';
import { completionBody, streamEvents } from './fixture-upstream.js';
import { checkAnswer, dueCount } from './load.js';

describe('dueCount', () => {
  it('makes the first request due at once and one more every 1/rate seconds', () => {
    expect(dueCount(-1, 50, 500)).toBe(0);
    expect(dueCount(0, 50, 500)).toBe(1);
    expect(dueCount(19.9, 50, 500)).toBe(1);
    expect(dueCount(20, 50, 500)).toBe(2);
    expect(dueCount(1000, 200, 2000)).toBe(201);
  });

  it('never exceeds the total, however late the timer fires', () => {
    expect(dueCount(60_000, 200, 2000)).toBe(2000);
  });
});

describe('checkAnswer', () => {
  const json = completionBody('m', 8, 1, 'id1');
  const sse = streamEvents('m', 8, 1, 'id2', true).join('');

  it('accepts the OpenAI chat.completion and its SSE stream', () => {
    expect(checkAnswer(200, 'application/json', json, false)).toBeUndefined();
    expect(checkAnswer(200, 'text/event-stream; charset=utf-8', sse, true)).toBeUndefined();
  });

  it('rejects error statuses, error bodies and truncated streams', () => {
    expect(checkAnswer(502, 'application/json', json, false)).toBe('HTTP 502');
    expect(checkAnswer(200, 'application/json', '{"status":"failure"}', false)).toBe('not a chat.completion');
    expect(checkAnswer(200, 'text/html', '<html>', false)).toBe('body is not JSON');
    expect(checkAnswer(200, 'text/event-stream', sse.replace('data: [DONE]', ''), true)).toBe(
      'stream not terminated by [DONE]',
    );
    expect(checkAnswer(200, 'application/json', sse, true)).toBe('content-type application/json');
  });

  it('rejects a chat.completion whose answer is empty', () => {
    const empty = JSON.stringify({ object: 'chat.completion', choices: [{ message: { content: '' } }] });
    expect(checkAnswer(200, 'application/json', empty, false)).toBe('empty answer');
  });
});
