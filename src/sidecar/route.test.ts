import { describe, expect, it } from 'vitest';
import { DEFAULT_OUTPUT_ESTIMATE } from '../budget/cost.js';
import type { RouteDecision } from '../routing/types.js';
import { preCallEstimateUSD } from './route.js';

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
