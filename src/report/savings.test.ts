import { describe, expect, it } from 'vitest';
import type { ModelEntry } from '../api/modelroute.js';
import { costUsd, formatSavings, summarizeSavings } from './savings.js';

const model = (name: string, inputPerMTok: number, outputPerMTok: number): ModelEntry => ({
  name,
  targets: [{ provider: 'sim' }],
  pricing: { inputPerMTok, outputPerMTok },
  contextWindow: 128_000,
});
const cheap = model('mini', 0.15, 0.6);
const big = model('big', 3, 15);

describe('savings', () => {
  it('prices tokens per million', () => {
    expect(costUsd(big, 1_000_000, 0)).toBe(3);
    expect(costUsd(big, 1000, 2000)).toBeCloseTo(0.003 + 0.03, 12);
  });

  it('sums per tier and overall against the baseline (hand-computed)', () => {
    const r = summarizeSavings(
      [
        {
          tier: 'cheap',
          tierIndex: 0,
          model: cheap,
          baseline: big,
          promptTokens: 1000,
          completionTokens: 1000,
        },
        {
          tier: 'cheap',
          tierIndex: 0,
          model: cheap,
          baseline: big,
          promptTokens: 1000,
          completionTokens: 1000,
        },
        {
          tier: 'premium',
          tierIndex: 2,
          model: big,
          baseline: big,
          promptTokens: 1000,
          completionTokens: 1000,
        },
      ],
      ['cheap', 'standard', 'premium'],
    );
    expect(r.tiers.map((t) => [t.tier, t.requests])).toEqual([
      ['cheap', 2],
      ['standard', 0],
      ['premium', 1],
    ]);
    const cheapCost = 2 * (0.00015 + 0.0006);
    const bigCost = 0.003 + 0.015;
    expect(r.routedUsd).toBeCloseTo(cheapCost + bigCost, 12);
    expect(r.baselineUsd).toBeCloseTo(3 * bigCost, 12);
    expect(r.savings).toBeCloseTo(1 - (cheapCost + bigCost) / (3 * bigCost), 12);
    expect(r.tiers[0]!.share).toBeCloseTo(2 / 3, 12);
    expect(r.tiers[0]!.models).toEqual({ mini: 2 });
    expect(formatSavings(r)).toMatch(/savings: +[0-9.]+%/);
  });

  it('an empty sample saves nothing and divides by nothing', () => {
    const r = summarizeSavings([], ['cheap']);
    expect(r.savings).toBe(0);
    expect(r.tiers[0]!.share).toBe(0);
  });
});
