import { describe, expect, it } from 'vitest';
import {
  assignFolds,
  type CvResult,
  type RobustCandidate,
  selectClosestWithinNoise,
  selectForUnseenGroups,
  selectHead,
} from './cv.js';

const result = (features: 'constant' | 'length' | 'structure' | 'ngrams', folds: number[]): CvResult => ({
  spec: { name: 'h', features, lambdaDense: 1 },
  apgr: folds.reduce((a, b) => a + b, 0) / folds.length,
  foldApgr: folds,
  oof: new Float64Array(0),
  pooledApgr: folds.reduce((a, b) => a + b, 0) / folds.length,
});

describe('assignFolds', () => {
  it('keeps every group in one fold and uses every fold when there are few groups', () => {
    const keys = Array.from({ length: 400 }, (_, i) => `subject-${i % 12}`);
    const f = assignFolds(keys, 5);
    const byGroup = new Map<string, Set<number>>();
    keys.forEach((k, i) => {
      byGroup.set(k, (byGroup.get(k) ?? new Set()).add(f[i]!));
    });
    for (const s of byGroup.values()) expect(s.size).toBe(1);
    expect(new Set(f).size).toBe(5);
  });

  it('spreads distinct keys (prompts) evenly and deterministically', () => {
    const keys = Array.from({ length: 1000 }, (_, i) => `prompt ${i}`);
    const f = assignFolds(keys, 5);
    expect(Array.from(assignFolds(keys, 5))).toEqual(Array.from(f));
    for (let k = 0; k < 5; k++) expect(f.filter((x) => x === k).length).toBeGreaterThan(150);
  });
});

describe('selectHead', () => {
  it('keeps the simpler head unless the complex one wins clearly on every measure', () => {
    const constant = result('constant', [0.5, 0.5, 0.5, 0.5, 0.5]);
    // Better on average but only by noise (one lucky fold): not chosen.
    const noisy = result('structure', [0.7, 0.45, 0.46, 0.47, 0.48]);
    expect(selectHead([constant, noisy]).spec.features).toBe('constant');
    // Consistently better: chosen.
    const steady = result('ngrams', [0.6, 0.62, 0.58, 0.61, 0.6]);
    expect(selectHead([constant, noisy, steady]).spec.features).toBe('ngrams');
    // Within the margin: the simpler one stays.
    expect(selectHead([constant, result('length', [0.505, 0.505, 0.505, 0.505, 0.505])]).spec.features).toBe(
      'constant',
    );
  });
});

describe('selectForUnseenGroups', () => {
  const r = (features: 'length' | 'structure' | 'ngrams', apgr: number, pooledApgr: number): CvResult => ({
    ...result(features, [apgr]),
    apgr,
    pooledApgr,
  });
  it('picks the best mean of fold and pooled APGR among heads that lose to length on neither', () => {
    const length = r('length', 0.48, 0.55);
    const foldOnly = r('structure', 0.56, 0.5); // better per fold, worse than length pooled
    const both = r('structure', 0.55, 0.57);
    const best = r('ngrams', 0.57, 0.58);
    expect(selectForUnseenGroups([foldOnly, both], length, length)).toBe(both);
    expect(selectForUnseenGroups([foldOnly, both, best], length, length)).toBe(best);
    // None beats length on both measures: the given fallback.
    expect(selectForUnseenGroups([foldOnly], length, length)).toBe(length);
  });
});

describe('selectClosestWithinNoise', () => {
  const c = (folds: number[], pooled: number, leftOut: number[], closeness: number): RobustCandidate => ({
    cv: { ...result('structure', folds), pooledApgr: pooled },
    leftOut,
    closeness,
  });
  const best = c([0.56, 0.55, 0.59, 0.6, 0.65], 0.592, [0.584, 0.472], 0.65);
  it('prefers the candidate closest to the signal among those within noise of the best', () => {
    const nearLength = c([0.55, 0.55, 0.58, 0.61, 0.63], 0.588, [0.575, 0.463], 0.75);
    expect(selectClosestWithinNoise([best, nearLength], best)).toBe(nearLength);
  });
  it('keeps the best when the closer one is clearly worse on the folds, pooled or a left-out source', () => {
    // 0.028 lower on the mean fold, consistently (beyond the margin and one standard error).
    const worseFolds = c([0.53, 0.54, 0.54, 0.61, 0.59], 0.59, [0.58, 0.47], 0.86);
    // Within noise on the folds, but 0.015 lower pooled.
    const worsePooled = c([0.55, 0.55, 0.58, 0.61, 0.63], 0.577, [0.58, 0.47], 0.8);
    // Within noise on the folds and pooled, but 0.02 lower on one left-out source.
    const worseLeftOut = c([0.55, 0.55, 0.58, 0.61, 0.63], 0.59, [0.564, 0.47], 0.8);
    expect(selectClosestWithinNoise([best, worseFolds, worsePooled, worseLeftOut], best)).toBe(best);
  });
  it('counts a larger mean deficit as noise when the folds disagree (within one standard error)', () => {
    // Mean 0.02 lower, but one fold far up and others down: not a consistent loss.
    const noisy = c([0.5, 0.5, 0.55, 0.7, 0.6], 0.585, [0.58, 0.47], 0.9);
    expect(selectClosestWithinNoise([noisy], best)).toBe(noisy);
  });
});
