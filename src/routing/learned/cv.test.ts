import { describe, expect, it } from 'vitest';
import {
  assignFolds,
  type CvResult,
  crossValidate,
  type RobustCandidate,
  repeatedCrossValidate,
  selectClosestWithinNoise,
  selectForUnseenGroups,
  selectHead,
} from './cv.js';
import { buildDesign } from './design.js';

const result = (features: 'constant' | 'length' | 'structure' | 'ngrams', folds: number[]): CvResult => ({
  spec: { name: 'h', features, lambdaDense: 1 },
  apgr: folds.reduce((a, b) => a + b, 0) / folds.length,
  foldApgr: folds,
  noGainFolds: 0,
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

describe('repeated cross-validation', () => {
  const texts = Array.from(
    { length: 240 },
    (_, i) => `${i % 3 ? 'short' : 'a much longer prompt '.repeat(4)} ${i}`,
  );
  const d = buildDesign(texts);
  const rows = texts.map((_, i) => i);
  // The strong model helps on the long prompts only, with a few exceptions so folds differ.
  const outcomes = rows.map((i) => ({
    weak: 0,
    strong: i % 3 === 0 ? (i % 7 ? 1 : 0) : i % 11 === 0 ? 1 : 0,
  }));
  const labels = outcomes.map((o) => o.strong - o.weak);
  const spec = { name: 'h', features: 'length' as const, lambdaDense: 1 };
  const p1 = assignFolds(
    texts.map((t) => `p:${t}`),
    5,
  );
  const p2 = assignFolds(
    texts.map((t) => `p:${t}`),
    5,
    'tiermesh-cv/1',
  );

  it('is crossValidate for one partition, and the mean over partitions for several', () => {
    const one = crossValidate(d, rows, labels, p1, outcomes, spec);
    const two = crossValidate(d, rows, labels, p2, outcomes, spec);
    expect(Array.from(p1)).not.toEqual(Array.from(p2));
    expect(repeatedCrossValidate(d, rows, labels, [p1], outcomes, spec)).toEqual(one);
    const both = repeatedCrossValidate(d, rows, labels, [p1, p2], outcomes, spec);
    expect(both.apgr).toBeCloseTo((one.apgr + two.apgr) / 2, 12);
    expect(both.pooledApgr).toBeCloseTo((one.pooledApgr + two.pooledApgr) / 2, 12);
    expect(both.partitions).toEqual([one.foldApgr, two.foldApgr]);
  });

  it('selectHead over partitions: the standard error of one partition, not of 20 correlated folds', () => {
    const over = (features: 'constant' | 'structure', parts: number[][]): CvResult => ({
      ...result(features, parts[0]!),
      apgr: parts.flat().reduce((a, b) => a + b, 0) / parts.flat().length,
      partitions: parts,
    });
    const flat = over(
      'constant',
      Array.from({ length: 4 }, () => [0.5, 0.5, 0.5, 0.5, 0.5]),
    );
    // Clear on the first partition, noisy on the three others: +0.0175 on average (past the margin), but within the
    // mean of the partitions' standard errors (0.03). The first partition alone (0.058 against 0.004), or the 20
    // folds counted as independent (standard error 0.016), would choose it.
    const shaky = over('structure', [
      [0.56, 0.55, 0.57, 0.56, 0.55],
      ...Array.from({ length: 3 }, () => [0.6, 0.4, 0.58, 0.42, 0.52]),
    ]);
    expect(shaky.apgr).toBeGreaterThan(0.51);
    expect(selectHead([flat, shaky]).spec.features).toBe('constant');
    const firstOnly = (r: CvResult): CvResult => ({ ...r, partitions: undefined });
    expect(selectHead([firstOnly(flat), firstOnly(shaky)]).spec.features).toBe('structure');
    const steady = over(
      'structure',
      Array.from({ length: 4 }, (_, p) => [0.56, 0.54, 0.55, 0.57, 0.55].map((x) => x + p * 0.001)),
    );
    expect(selectHead([flat, steady]).spec.features).toBe('structure');
    // Clearly better on the first partition, worse on the three others: a lucky partition, not chosen.
    const lucky = over('structure', [
      [0.56, 0.55, 0.57, 0.56, 0.55],
      ...Array.from({ length: 3 }, () => [0.49, 0.48, 0.5, 0.49, 0.49]),
    ]);
    expect(selectHead([flat, lucky]).spec.features).toBe('constant');
    expect(selectHead([firstOnly(flat), { ...firstOnly(lucky), apgr: 0.558 }]).spec.features).toBe(
      'structure',
    );
    // Results scored on different numbers of partitions cannot be compared fold by fold.
    expect(() => selectHead([flat, over('structure', [[0.6, 0.62, 0.58, 0.61, 0.6]])])).toThrow(/partitions/);
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

describe('crossValidate on a fold with no gain to recover', () => {
  const texts = Array.from(
    { length: 250 },
    (_, i) => `${i % 2 ? 'short' : 'a much longer prompt '.repeat(4)} ${i}`,
  );
  const d = buildDesign(texts);
  const rows = texts.map((_, i) => i);
  const folds = Int32Array.from(rows, (i) => i % 5);
  // The strong model helps on long prompts; in fold 4 (held-out rows i % 5 === 4) it loses on the short ones and
  // gains nothing on the long ones: strong worse there on average, so PGR (dividing by that span) is undefined.
  const outcomes = rows.map((i) =>
    i % 5 === 4 ? { weak: i % 2 ? 1 : 0.5, strong: 0.5 } : { weak: 0, strong: i % 2 ? 0 : 1 },
  );
  const labels = outcomes.map((o) => o.strong - o.weak);

  it('does not score that fold, counts it, and scores the others as before', () => {
    const spec = { name: 'h', features: 'length' as const, lambdaDense: 1 };
    const r = crossValidate(d, rows, labels, folds, outcomes, spec);
    expect(r.noGainFolds).toBe(1);
    expect(r.foldApgr).toHaveLength(4);
    // Long prompts first on folds where the gain is exactly the long prompts: 0.75 each (half gain, ranked first).
    for (const a of r.foldApgr) expect(a).toBeCloseTo(0.75, 9);
    expect(r.apgr).toBeCloseTo(0.75, 9);
    const constant = crossValidate(d, rows, labels, folds, outcomes, { ...spec, features: 'constant' });
    expect(constant.noGainFolds).toBe(1);
    expect(constant.foldApgr).toEqual([0.5, 0.5, 0.5, 0.5].map((x) => expect.closeTo(x, 9)));
  });
});
