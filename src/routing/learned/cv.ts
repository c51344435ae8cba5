/**
 * Group-wise cross-validation: folds that hold out whole groups (MMLU subjects, a team's `group`s) where the
 * router will meet unseen groups, or random prompts where it will meet new prompts of a source it knows. Choosing
 * settings on folds that leak groups ranks methods wrongly (an n-gram model memorises a subject's vocabulary).
 *
 *   assignFolds(keys, k, seed): fold index per row
 *   crossValidate(design, rows, labels, folds, spec, outcomes): out-of-fold scores + APGR
 *   selectHead(...): the grid point with the best out-of-fold APGR (ties go to the simpler head)
 */
import type { Design } from './design.js';
import { type PairOutcome, summarize } from './metrics.js';
import { predict } from './ridge.js';
import { unitHash } from './split.js';
import { fitHead, type HeadSpec } from './train.js';

export function assignFolds(keys: readonly string[], k: number, seed = 'tiermesh-cv'): Int32Array {
  const out = new Int32Array(keys.length);
  const distinct = [...new Set(keys)].sort();
  // Few groups (MMLU subjects): deal them round-robin in a hashed order so every fold gets some.
  if (distinct.length < keys.length / 2) {
    const order = distinct.sort((a, b) => unitHash(a, seed) - unitHash(b, seed));
    const fold = new Map(order.map((g, i) => [g, i % k]));
    keys.forEach((g, i) => {
      out[i] = fold.get(g)!;
    });
  } else
    keys.forEach((g, i) => {
      out[i] = Math.floor(unitHash(g, seed) * k);
    });
  return out;
}

export interface CvResult {
  spec: HeadSpec;
  /**
   * Mean APGR over folds. Not the APGR of pooled out-of-fold scores: each fold's model has its own offset, so
   * pooling ranks folds against each other and a constant head would not score the 0.5 it is.
   */
  apgr: number;
  /** APGR per fold (mean and spread). */
  foldApgr: number[];
  oof: Float64Array;
}

/** `rows[i]` is a design row; `labels[i]`, `folds[i]` and `outcomes[i]` belong to it. */
export function crossValidate(
  d: Design,
  rows: readonly number[],
  labels: readonly number[],
  folds: Int32Array,
  outcomes: readonly PairOutcome[],
  spec: HeadSpec,
): CvResult {
  const k = Math.max(...folds) + 1;
  const oof = new Float64Array(rows.length);
  const foldApgr: number[] = [];
  for (let f = 0; f < k; f++) {
    const tr: number[] = [];
    const y: number[] = [];
    const te: number[] = [];
    rows.forEach((r, i) => {
      if (folds[i] === f) te.push(i);
      else {
        tr.push(r);
        y.push(labels[i]!);
      }
    });
    if (te.length === 0 || tr.length === 0) continue;
    const m = fitHead(d, tr, y, spec);
    for (const i of te) oof[i] = predict(m, d, rows[i]!);
    if (te.length >= 20)
      foldApgr.push(
        summarize(
          te.map((i) => oof[i]!),
          te.map((i) => outcomes[i]!),
        ).apgr,
      );
  }
  const apgr =
    foldApgr.length > 0
      ? foldApgr.reduce((a, b) => a + b, 0) / foldApgr.length
      : summarize(oof, outcomes).apgr;
  return { spec, apgr, foldApgr, oof };
}

/** The settings tried for every head, simplest first. */
export function headGrid(name: string, pair?: string): HeadSpec[] {
  return [
    { name, pair, features: 'constant', lambdaDense: 1 },
    { name, pair, features: 'length', lambdaDense: 1 },
    ...[10, 100, 1000].map((l) => ({ name, pair, features: 'structure' as const, lambdaDense: l })),
    ...[3, 10, 30, 100].map((l) => ({
      name,
      pair,
      features: 'ngrams' as const,
      lambdaDense: 10,
      lambdaHashed: l,
    })),
  ];
}

/** A more complex head must beat the best simpler one by at least this much out of fold to be chosen. */
export const COMPLEXITY_MARGIN = 0.01;

/**
 * Walks the grid simplest first; a head replaces the current choice only if it beats it on the mean fold APGR by COMPLEXITY_MARGIN and on the mean fold-by-fold difference by more than one standard error: on a 300-prompt
 * source, a 0.02 edge is noise, and noise chosen here is below-random routing on new prompts.
 */
export function selectHead(results: readonly CvResult[]): CvResult {
  let best = results[0]!;
  for (const r of results.slice(1)) {
    if (r.apgr <= best.apgr + COMPLEXITY_MARGIN) continue;
    const n = Math.min(r.foldApgr.length, best.foldApgr.length);
    const diff = Array.from({ length: n }, (_, i) => r.foldApgr[i]! - best.foldApgr[i]!);
    const mean = diff.reduce((a, b) => a + b, 0) / Math.max(1, n);
    const sd = Math.sqrt(diff.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, n - 1));
    if (n < 2 || mean > sd / Math.sqrt(n)) best = r;
  }
  return best;
}
