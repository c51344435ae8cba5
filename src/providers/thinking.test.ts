import { describe, expect, it } from 'vitest';
import type { ChatCompletionRequest } from '../api/openai.js';
import { budgetForEffort, effortForBudget, forOpenAIWire } from './thinking.js';

const req = (r: Partial<ChatCompletionRequest>): ChatCompletionRequest => ({
  model: 'o4-mini',
  messages: [{ role: 'user', content: 'hi' }],
  ...r,
});

describe('effort and budget (LiteLLM mapping)', () => {
  it('maps budgets to efforts and efforts to budgets', () => {
    expect([1024, 1025, 2048, 2049, 32000].map(effortForBudget)).toEqual([
      'low',
      'medium',
      'medium',
      'high',
      'high',
    ]);
    expect(['minimal', 'low', 'medium', 'high', 'none', 'max', 3].map(budgetForEffort)).toEqual([
      1024,
      1024,
      2048,
      4096,
      undefined,
      undefined,
      undefined,
    ]);
  });
});

describe('forOpenAIWire', () => {
  const history = req({
    thinking: { type: 'enabled', budget_tokens: 3000 },
    messages: [
      { role: 'user', content: 'a' },
      {
        role: 'assistant',
        content: 'b',
        thinking_blocks: [{ type: 'thinking', thinking: 't', signature: 's' }],
      },
      { role: 'user', content: 'c' },
    ],
  });

  it('sends a reasoning model the budget as reasoning_effort, without thinking or history blocks', () => {
    const out = forOpenAIWire(history, () => true);
    expect(out).not.toHaveProperty('thinking');
    expect(out['reasoning_effort']).toBe('high');
    expect(out.messages[1]).toEqual({ role: 'assistant', content: 'b' });
    // The input is left as it was.
    expect(history.messages[1]).toHaveProperty('thinking_blocks');
  });

  it("keeps the client's own reasoning_effort, and gives other models neither", () => {
    expect(forOpenAIWire({ ...history, reasoning_effort: 'low' }, () => true)['reasoning_effort']).toBe(
      'low',
    );
    expect(forOpenAIWire(history, () => false)).not.toHaveProperty('reasoning_effort');
    expect(forOpenAIWire(req({ thinking: { type: 'adaptive' } }), () => true)).not.toHaveProperty(
      'reasoning_effort',
    );
    const plain = req({ reasoning_effort: 'medium' });
    expect(forOpenAIWire(plain, () => true)).toBe(plain);
  });
});
