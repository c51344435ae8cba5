import { describe, expect, it } from 'vitest';
import type { ChatCompletionChunk } from '../api/openai.js';
import { forClient } from './inbound.js';

const chunk = (over: Partial<ChatCompletionChunk>): ChatCompletionChunk => ({
  id: 'c',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'm',
  choices: [{ index: 0, delta: { content: 'x' }, finish_reason: null }],
  ...over,
});

describe('forClient (usage the client did not ask for stays hidden)', () => {
  it('drops the usage-only chunk unless the client asked for usage', () => {
    const usageOnly = chunk({
      choices: [],
      usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
    });
    expect(forClient(usageOnly, false)).toBeUndefined();
    expect(forClient(usageOnly, true)).toBe(usageOnly);
  });

  it('strips the usage: null field OpenAI adds to every chunk when usage was requested', () => {
    const c = chunk({ usage: null });
    expect(forClient(c, false)).not.toHaveProperty('usage');
    expect(forClient(c, false)!.choices[0]!.delta.content).toBe('x');
    expect(forClient(c, true)).toHaveProperty('usage', null);
  });

  it('passes plain chunks through untouched', () => {
    const c = chunk({});
    expect(forClient(c, false)).toBe(c);
  });
});
