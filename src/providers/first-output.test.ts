import { describe, expect, it } from 'vitest';
import type { ChatCompletionChunk } from '../api/openai.js';
import { answerRateLimits } from './chat-answer-text.js';
import { carriesOutput, FirstOutput } from './first-output.js';

const chunk = (delta: object, finish: string | null = null, extra: object = {}): ChatCompletionChunk =>
  ({
    id: 'c',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
    usage: null,
    ...extra,
  }) as ChatCompletionChunk;

describe('carriesOutput', () => {
  it('is false for the role-only opening chunks vendors send', () => {
    expect(carriesOutput(chunk({ role: 'assistant', content: '', refusal: null }))).toBe(false);
    expect(carriesOutput(chunk({ role: 'assistant' }))).toBe(false);
    expect(carriesOutput(chunk({ tool_calls: [] }))).toBe(false);
    expect(carriesOutput(chunk({}))).toBe(false);
  });

  it('is true for text, tool calls, a refusal, reasoning, a finish_reason or usage', () => {
    expect(carriesOutput(chunk({ role: 'assistant', content: 'Hi' }))).toBe(true);
    expect(carriesOutput(chunk({ tool_calls: [{ index: 0, id: 'call_1' }] }))).toBe(true);
    expect(carriesOutput(chunk({ refusal: 'I cannot' }))).toBe(true);
    expect(carriesOutput(chunk({ reasoning_content: 'Let me think' }))).toBe(true);
    // A redacted thinking block has no text at all, and is output.
    expect(carriesOutput(chunk({ thinking_blocks: [{ type: 'redacted_thinking', data: 'EuYB' }] }))).toBe(
      true,
    );
    expect(carriesOutput(chunk({}, 'stop'))).toBe(true);
    const usage = { prompt_tokens: 1, completion_tokens: 0, total_tokens: 1 };
    expect(carriesOutput({ ...chunk({}), choices: [], usage })).toBe(true);
  });
});

describe('FirstOutput', () => {
  it('holds role chunks back, starts once on the first output, then passes chunks through', () => {
    let starts = 0;
    const gate = new FirstOutput(() => starts++);
    const role = chunk({ role: 'assistant', content: '' });
    const text = chunk({ content: 'Hi' });
    const more = chunk({ content: ' there' });
    expect(gate.take(role)).toEqual([]);
    expect(gate.started).toBe(false);
    expect(starts).toBe(0);
    expect(gate.take(text)).toEqual([role, text]);
    expect(starts).toBe(1);
    expect(gate.take(more)).toEqual([more]);
    expect(starts).toBe(1);
    expect(gate.rest()).toEqual([]);
  });

  it('gives held chunks back at an end without output', () => {
    const gate = new FirstOutput(() => {});
    const role = chunk({ role: 'assistant' });
    gate.take(role);
    expect(gate.rest()).toEqual([role]);
    expect(gate.rest()).toEqual([]);
  });

  it("tags the first chunk it hands on with the response's rate limits, and only that one", () => {
    const headers = { 'x-ratelimit-remaining-requests': '7', 'content-type': 'text/event-stream' };
    const gate = new FirstOutput(() => {}, headers);
    const role = chunk({ role: 'assistant' });
    const text = chunk({ content: 'hi' });
    expect(gate.take(role)).toEqual([]);
    const out = gate.take(text);
    expect(answerRateLimits(out[0]!)).toEqual({ 'x-ratelimit-remaining-requests': '7' });
    expect(answerRateLimits(text)).toBeUndefined();
    // A stream that ends without output hands its held first chunk on, tagged.
    const quiet = new FirstOutput(() => {}, headers);
    quiet.take(chunk({ role: 'assistant' }));
    expect(answerRateLimits(quiet.rest()[0]!)).toEqual({ 'x-ratelimit-remaining-requests': '7' });
    // Without headers nothing is tagged.
    const plain = new FirstOutput(() => {});
    expect(answerRateLimits(plain.take(chunk({ content: 'x' }))[0]!)).toBeUndefined();
  });
});
