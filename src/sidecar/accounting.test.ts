import { describe, expect, it } from 'vitest';
import type { ModelEntry } from '../api/modelroute.js';
import type { ChatCompletion } from '../api/openai.js';
import { completionText, estimateUsage, usableUsage, usageRecord } from './accounting.js';

const answer = (message: ChatCompletion['choices'][number]['message']): ChatCompletion => ({
  id: 'c',
  object: 'chat.completion',
  created: 1,
  model: 'm',
  choices: [{ index: 0, message, finish_reason: 'stop' }],
});

describe('completionText', () => {
  it('is what the answer generated: text, refusal and tool call arguments', () => {
    const calls = [
      { id: 'a', type: 'function', function: { name: 'write_file', arguments: '{"path":"notes.txt"}' } },
      { id: 'b', type: 'function', function: { name: 'now', arguments: '{}' } },
    ];
    expect(completionText(answer({ role: 'assistant', content: null, tool_calls: calls }))).toBe(
      '{"path":"notes.txt"}{}',
    );
    expect(completionText(answer({ role: 'assistant', content: null, refusal: 'No.' }))).toBe('No.');
    expect(completionText(answer({ role: 'assistant', content: 'Hi' }))).toBe('Hi');
    // Thinking is output tokens too.
    expect(completionText(answer({ role: 'assistant', content: 'Hi', reasoning_content: 'Hmm. ' }))).toBe(
      'HiHmm. ',
    );
  });

  it('makes a tool-call answer without usage cost output tokens', () => {
    const long = JSON.stringify({ path: 'notes.txt', text: 'lorem ipsum dolor sit amet '.repeat(20) });
    const c = answer({
      role: 'assistant',
      content: null,
      tool_calls: [{ id: 'a', type: 'function', function: { name: 'write_file', arguments: long } }],
    });
    expect(estimateUsage(10, completionText(c)).completion_tokens).toBeGreaterThan(50);
  });
});

const model: ModelEntry = {
  name: 'm',
  targets: [{ provider: 'p' }],
  pricing: { inputPerMTok: 1, outputPerMTok: 2 },
  contextWindow: 8000,
};
const estimate = () => ({ prompt_tokens: 7, completion_tokens: 5 });

describe('usableUsage', () => {
  it("keeps the upstream's counts when they are usable", () => {
    expect(usableUsage({ prompt_tokens: 10, completion_tokens: 3, total_tokens: 13 }, estimate)).toEqual({
      prompt_tokens: 10,
      completion_tokens: 3,
    });
  });

  it('takes a missing completion count from total_tokens, else from the estimate', () => {
    expect(usableUsage({ prompt_tokens: 12, total_tokens: 20 }, estimate)).toEqual({
      prompt_tokens: 12,
      completion_tokens: 8,
    });
    expect(usableUsage({ prompt_tokens: 12 }, estimate)).toEqual({ prompt_tokens: 12, completion_tokens: 5 });
  });

  it('estimates each count that is not a finite integer >= 0', () => {
    const garbled = { prompt_tokens: Number.NaN, completion_tokens: -4 } as never;
    expect(usableUsage(garbled, estimate)).toEqual({ prompt_tokens: 7, completion_tokens: 5 });
    expect(usableUsage({ prompt_tokens: '9', completion_tokens: 2.6 } as never, estimate)).toEqual({
      prompt_tokens: 7,
      completion_tokens: 3,
    });
    expect(usableUsage(undefined, estimate)).toEqual(estimate());
    expect(usableUsage(null, estimate)).toEqual(estimate());
  });

  it('a partial usage object books a finite cost', () => {
    const r = usageRecord('r', model, undefined, usableUsage({ prompt_tokens: 10 }, estimate), 0, 0);
    expect(r).toMatchObject({ inputTokens: 10, outputTokens: 5, costUSD: (10 + 5 * 2) / 1e6 });
  });
});

describe('prompt-cache usage', () => {
  const cached: ModelEntry = {
    ...model,
    pricing: { inputPerMTok: 3, outputPerMTok: 15, cachedInputPerMTok: 0.3, cacheWritePerMTok: 3.75 },
  };

  it('usableUsage keeps the cache counts of the upstream prompt count; usageRecord prices them', () => {
    const usage = usableUsage(
      {
        prompt_tokens: 1210,
        completion_tokens: 5,
        total_tokens: 1215,
        prompt_tokens_details: { cached_tokens: 1000, cache_creation_tokens: 200 },
      },
      estimate,
    );
    expect(usage).toEqual({ prompt_tokens: 1210, completion_tokens: 5, cache: { read: 1000, write: 200 } });
    const r = usageRecord('default', cached, undefined, usage, 0, 1);
    expect(r.inputTokens).toBe(1210);
    expect(r.costUSD).toBeCloseTo(0.001155, 12);
  });

  it('an estimated prompt count has no cache share', () => {
    const u = usableUsage({ completion_tokens: 5, prompt_tokens_details: { cached_tokens: 1000 } }, estimate);
    expect(u).toEqual({ prompt_tokens: 7, completion_tokens: 5 });
  });
});

describe('usableUsage of counts already made usable', () => {
  it('keeps their cache share (execute.ts books its TokenCounts through the account)', () => {
    const once = usableUsage(
      { prompt_tokens: 1210, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 1000 } },
      estimate,
    );
    expect(usableUsage(once, estimate)).toEqual(once);
  });
});
