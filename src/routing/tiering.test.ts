import { describe, expect, it } from 'vitest';
import { escalate, LOW_CONFIDENCE, scoreToTier, thresholdToScore, tierCenter } from './tiering.js';

describe('scoreToTier', () => {
  it('spreads tiers evenly over [0, 1], cheapest first', () => {
    expect(scoreToTier(0, 3)).toBe(0);
    expect(scoreToTier(0.2, 3)).toBe(0);
    expect(scoreToTier(0.5, 3)).toBe(1);
    expect(scoreToTier(0.9, 3)).toBe(2);
    expect(scoreToTier(1, 3)).toBe(2);
    expect(scoreToTier(0.7, 1)).toBe(0);
  });

  it('puts a score exactly on a boundary in the upper tier, despite float error', () => {
    expect(scoreToTier(1 / 3, 3)).toBe(1);
    expect(scoreToTier(2 / 3, 3)).toBe(2);
    expect(scoreToTier(0.1 + 0.2, 10)).toBe(3);
    expect(scoreToTier(0.7, 10)).toBe(7);
    expect(scoreToTier(0.5, 2)).toBe(1);
    expect(scoreToTier(0.49999, 2)).toBe(0);
  });

  it('clamps out-of-range and NaN scores', () => {
    expect(scoreToTier(-1, 3)).toBe(0);
    expect(scoreToTier(5, 3)).toBe(2);
    expect(scoreToTier(Number.NaN, 3)).toBe(0);
  });

  it('tierCenter lands inside its own tier', () => {
    for (let i = 0; i < 4; i++) expect(scoreToTier(tierCenter(i, 4), 4)).toBe(i);
  });
});

describe('escalate', () => {
  it('moves a score within the band below a boundary up one tier', () => {
    expect(escalate(0.45, 1, 2, 0.1)).toEqual({ tierIndex: 1, escalated: true, reason: 'near-boundary' });
    // Exactly band away from the boundary counts as within it.
    expect(escalate(0.4, 1, 2, 0.1).tierIndex).toBe(1);
    expect(escalate(0.39, 1, 2, 0.1)).toEqual({ tierIndex: 0, escalated: false, reason: undefined });
  });

  it('does not escalate a score sitting exactly on a boundary twice', () => {
    // 0.5 is already the upper tier of two; there is no tier above.
    expect(escalate(0.5, 1, 2, 0.1)).toEqual({ tierIndex: 1, escalated: false, reason: undefined });
    // Of three tiers, 1/3 is tier 1; the next boundary is far away.
    expect(escalate(1 / 3, 1, 3, 0.1)).toEqual({ tierIndex: 1, escalated: false, reason: undefined });
  });

  it('escalates low confidence one tier, never past the top', () => {
    expect(escalate(0.1, LOW_CONFIDENCE - 0.01, 3, 0.1)).toEqual({
      tierIndex: 1,
      escalated: true,
      reason: 'low-confidence',
    });
    expect(escalate(0.1, LOW_CONFIDENCE, 3, 0.1).escalated).toBe(false);
    expect(escalate(0.9, 0, 3, 0.1)).toEqual({ tierIndex: 2, escalated: false, reason: undefined });
    // Near boundary and low confidence together still move only one tier.
    expect(escalate(0.3, 0, 3, 0.1).tierIndex).toBe(1);
  });

  it('a zero band never escalates on score', () => {
    expect(escalate(0.4999, 1, 2, 0).tierIndex).toBe(0);
  });
});

describe('thresholdToScore', () => {
  it('is the identity without a threshold', () => {
    expect(thresholdToScore(0.42, undefined, 3)).toBe(0.42);
  });

  it('maps the threshold onto the first boundary whatever the tier count', () => {
    for (const tiers of [2, 3, 4]) {
      expect(scoreToTier(thresholdToScore(0.3, 0.3, tiers), tiers)).toBe(1);
      expect(scoreToTier(thresholdToScore(0.29, 0.3, tiers), tiers)).toBe(0);
      expect(scoreToTier(thresholdToScore(1, 0.3, tiers), tiers)).toBe(tiers - 1);
      expect(scoreToTier(thresholdToScore(0, 0.3, tiers), tiers)).toBe(0);
    }
  });

  it('with a band, nothing below the threshold escalates and everything at or above it leaves the cheapest tier', () => {
    for (const tiers of [2, 3, 5])
      for (const band of [0, 0.05, 0.1]) {
        for (const p of [0, 0.1, 0.5, 0.6999])
          expect(escalate(thresholdToScore(p, 0.7, tiers, band), 1, tiers, band).tierIndex).toBe(0);
        for (const p of [0.7, 0.8, 1])
          expect(escalate(thresholdToScore(p, 0.7, tiers, band), 1, tiers, band).tierIndex).toBeGreaterThan(
            0,
          );
      }
  });

  it('handles thresholds 0 and 1', () => {
    expect(scoreToTier(thresholdToScore(0, 0, 2), 2)).toBe(1);
    expect(scoreToTier(thresholdToScore(0.99, 1, 2), 2)).toBe(0);
    expect(scoreToTier(thresholdToScore(1, 1, 2), 2)).toBe(1);
  });
});
