import { describe, expect, it } from 'vitest';
import type { ChatCompletionChunk } from '../api/openai.js';
import { DEFAULT_OUTPUT_ESTIMATE } from '../budget/cost.js';
import type { RouteDecision } from '../routing/types.js';
import { forClient, preCallEstimateUSD } from './chat.js';

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

describe('preCallEstimateUSD (what the budget gate reserves)', () => {
  // $1/M in, $10/M out, so the completion part dominates and is easy to read off.
  const model = {
    name: 'm',
    targets: [{ provider: 'p' }],
    pricing: { inputPerMTok: 1, outputPerMTok: 10 },
    contextWindow: 100_000,
  };
  const decision = (requestedMaxTokens: number, maxOutputTokens?: number) =>
    ({
      models: [{ ...model, ...(maxOutputTokens !== undefined ? { maxOutputTokens } : {}) }],
      estimatedPromptTokens: 1000,
      requestedMaxTokens,
    }) as unknown as RouteDecision;

  it('reserves the requested completion tokens, not just the default', () => {
    expect(preCallEstimateUSD(decision(4000))).toBeCloseTo((1000 * 1 + 4000 * 10) / 1e6, 12);
    expect(preCallEstimateUSD(decision(0))).toBeCloseTo((1000 * 1 + DEFAULT_OUTPUT_ESTIMATE * 10) / 1e6, 12);
  });

  it("caps the completion by the model's maxOutputTokens", () => {
    expect(preCallEstimateUSD(decision(4000, 1500))).toBeCloseTo((1000 + 1500 * 10) / 1e6, 12);
    expect(preCallEstimateUSD(decision(0, 100))).toBeCloseTo((1000 + 100 * 10) / 1e6, 12);
  });

  it('is 0 without a model', () => {
    expect(preCallEstimateUSD({ models: [] } as unknown as RouteDecision)).toBe(0);
  });
});
