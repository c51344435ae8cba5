/**
 * Group-wise cross-validation: folds that hold out whole groups (MMLU subjects, a team's `group`s) where the
 * router will meet unseen groups, or random prompts where it will meet new prompts of a source it knows. Choosing
 * settings on folds that leak groups ranks methods wrongly (an n-gram model memorises a subject's vocabulary).
 *
 *   assignFolds(keys, k, seed): fold index per row
 *   crossValidate(design, rows, labels, folds, spec, outcomes): out-of-fold scores + APGR
 *   repeatedCrossValidate(design, rows, labels, partitions, ...): the same over several fold partitions, averaged
 *   selectHead(...): the grid point with the best out-of-fold APGR (ties go to the simpler head)
 */
import type { Design } from './design.js';
import { type PairOutcome, summarize, unmeasurableReason } from './metrics.js';
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
  /** APGR per scored fold (mean and spread). */
  foldApgr: number[];
  /**
   * Folds with enough held-out rows left unscored because the strong model is not better on them: PGR is undefined
   * there (no gain to recover), so they must not steer the choice. It depends on the folds and outcomes only, so it
   * is the same for every spec, and `foldApgr` pairs fold by fold across specs.
   */
  noGainFolds: number;
  /**
   * APGR of the pooled out-of-fold scores, each fold's scores minus that fold model's mean on its training rows
   * (which removes the offset that makes pooling unfair): how the head ranks a stream of several unseen groups.
   * NaN when the pooled rows have no gain to recover (never on ../shared/data; `apgr` likewise when no fold is scored).
   */
  pooledApgr: number;
  oof: Float64Array;
  /**
   * Repeated cross-validation (repeatedCrossValidate): the fold APGRs of each partition. `apgr` and `pooledApgr` are
   * then means over partitions, `foldApgr`, `noGainFolds` and `oof` those of the first.
   */
  partitions?: number[][] | undefined;
}

/**
 * Training examples one prompt contributes (label augmentation: several cheap models' gains on the same prompt);
 * scoring is always on the prompt's own pair.
 */
export type Augment = (i: number) => readonly number[];

/** Fewer held-out rows than this make a fold's APGR too noisy to count. */
export const MIN_FOLD_ROWS = 20;

/**
 * `rows[i]` is a design row; `labels[i]`, `folds[i]` and `outcomes[i]` belong to it. With `augment`, a prompt in
 * the training folds is trained on the labels `augment(i)` instead of `labels[i]` (for specs with `augmented`).
 * A row with a negative fold is training-only (rows borrowed from another source: in every fold's training set,
 * never scored, not in the pooled APGR). A fold whose held-out outcomes have no gain to recover is not scored.
 */
export function crossValidate(
  d: Design,
  rows: readonly number[],
  labels: readonly number[],
  folds: Int32Array,
  outcomes: readonly PairOutcome[],
  spec: HeadSpec,
  augment?: Augment,
): CvResult {
  const k = Math.max(...folds) + 1;
  const oof = new Float64Array(rows.length);
  const aligned = new Float64Array(rows.length);
  const foldApgr: number[] = [];
  let noGainFolds = 0;
  for (let f = 0; f < k; f++) {
    const tr: number[] = [];
    const y: number[] = [];
    const te: number[] = [];
    rows.forEach((r, i) => {
      if (folds[i] === f) te.push(i);
      else if (spec.augmented && augment)
        for (const l of augment(i)) {
          tr.push(r);
          y.push(l);
        }
      else {
        tr.push(r);
        y.push(labels[i]!);
      }
    });
    if (te.length === 0 || tr.length === 0) continue;
    const m = fitHead(d, tr, y, spec);
    let mu = 0;
    for (const r of tr) mu += predict(m, d, r);
    mu /= tr.length;
    for (const i of te) {
      oof[i] = predict(m, d, rows[i]!);
      aligned[i] = oof[i]! - mu;
    }
    if (te.length < MIN_FOLD_ROWS) continue;
    const held = te.map((i) => outcomes[i]!);
    if (unmeasurableReason(held) !== null) noGainFolds++;
    else
      foldApgr.push(
        summarize(
          te.map((i) => oof[i]!),
          held,
        ).apgr,
      );
  }
  const scored = rows.flatMap((_, i) => (folds[i]! >= 0 ? [i] : []));
  const pooled = (xs: Float64Array) =>
    summarize(
      scored.map((i) => xs[i]!),
      scored.map((i) => outcomes[i]!),
    ).apgr;
  const apgr = foldApgr.length > 0 ? foldApgr.reduce((a, b) => a + b, 0) / foldApgr.length : pooled(oof);
  return { spec, apgr, foldApgr, noGainFolds, oof, pooledApgr: pooled(aligned) };
}

/** The settings tried for every head, simplest first. */
export function headGrid(name: string, pair?: string): HeadSpec[] {
  return [
    { name, pair, features: 'constant', lambdaDense: 1 },
    { name, pair, features: 'length', lambdaDense: 1 },
    ...[10, 100, 1000].map((l) => ({ name, pair, features: 'structure' as const, lambdaDense: l })),
    ...[1000, 3000].map((l) => ({
      name,
      pair,
      features: 'structure' as const,
      lambdaDense: l,
      lengthPrior: 0.5,
    })),
    ...[30, 300, 3000].map((l) => ({ name, pair, features: 'embedding' as const, lambdaDense: l })),
    ...[30, 300, 3000].map((l) => ({
      name,
      pair,
      features: 'embedding' as const,
      lambdaDense: l,
      lengthPrior: 0.25,
    })),
    ...[1000, 3000, 10000].flatMap((l) =>
      [0.25, 0.5].map((lp) => ({
        name,
        pair,
        features: 'structure+embedding' as const,
        lambdaDense: l,
        lengthPrior: lp,
      })),
    ),
    ...[3, 10, 30, 100].map((l) => ({
      name,
      pair,
      features: 'ngrams' as const,
      lambdaDense: 10,
      lambdaHashed: l,
    })),
    // Round 5: n-grams without structure, lighter L2, and optionally without the words seen in one prompt only.
    ...[0.3, 1, 3].flatMap((l) =>
      [1, 2].map((minCount) => ({
        name,
        pair,
        features: 'ngrams-only' as const,
        lambdaDense: 1,
        lambdaHashed: l,
        minCount,
      })),
    ),
  ];
}

/**
 * For a source whose held-out traffic is many unseen groups at once (MMLU subjects): among the heads that lose to
 * prompt length on neither the mean fold APGR nor the pooled one, the best mean of the two (else `fallback`). Length
 * is what transfers to unseen subjects; a head that cannot beat it on a pooled stream of unseen subjects is not
 * worth its extra weights there.
 */
export function selectForUnseenGroups(
  results: readonly CvResult[],
  length: { apgr: number; pooledApgr: number },
  fallback: CvResult,
): CvResult {
  const ok = results.filter((r) => r.apgr >= length.apgr && r.pooledApgr >= length.pooledApgr);
  if (ok.length === 0) return fallback;
  const key = (r: CvResult) => (r.apgr + r.pooledApgr) / 2;
  return ok.reduce((a, b) => (key(b) > key(a) + 1e-9 ? b : a));
}

/** A candidate for selectClosestWithinNoise: its folds, its APGR on sources it never saw, how close it is to a signal. */
export interface RobustCandidate {
  cv: CvResult;
  /** APGR on each left-out source it would score (MMLU head: ARC and Winogrande left out), same order for all. */
  leftOut: readonly number[];
  /** How close its scores are to the signal known to transfer (e.g. correlation with log-length); higher = closer. */
  closeness: number;
}

/**
 * A one-standard-error rule toward a signal that transfers: among the candidates within noise of `best` (by the
 * selection guard: its mean fold APGR at most COMPLEXITY_MARGIN below best's or the fold-by-fold deficit within one
 * standard error, its pooled APGR at most COMPLEXITY_MARGIN below; and on every left-out source at most
 * COMPLEXITY_MARGIN below best's), the one closest to the signal. `best` itself is always a candidate. Folds cannot
 * tell these heads apart; what is known beyond them (length is what transfers to unseen subjects) can.
 */
export function selectClosestWithinNoise(
  candidates: readonly RobustCandidate[],
  best: RobustCandidate,
): RobustCandidate {
  const withinNoise = (c: RobustCandidate) => {
    if (c === best) return true;
    if (best.cv.pooledApgr - c.cv.pooledApgr > COMPLEXITY_MARGIN) return false;
    if (c.leftOut.some((x, i) => best.leftOut[i]! - x > COMPLEXITY_MARGIN)) return false;
    if (best.cv.apgr - c.cv.apgr <= COMPLEXITY_MARGIN) return true;
    const d = foldDifference(best.cv, c.cv);
    return d !== null && d.mean <= d.se;
  };
  return [best, ...candidates.filter((c) => c !== best)]
    .filter(withinNoise)
    .reduce((a, b) => (b.closeness > a.closeness + 1e-12 ? b : a));
}

/**
 * `crossValidate` once per fold partition (`partitions[p][i]`: row i's fold in partition p), averaged. On a source of a
 * few hundred prompts one partition is a draw: RouterBench MBPP's 208 pool prompts score an n-gram head 0.53 on the
 * shipped partition and 0.60-0.74 on six others, so a choice made on one partition follows that partition's luck.
 */
export function repeatedCrossValidate(
  d: Design,
  rows: readonly number[],
  labels: readonly number[],
  partitions: readonly Int32Array[],
  outcomes: readonly PairOutcome[],
  spec: HeadSpec,
  augment?: Augment,
): CvResult {
  const runs = partitions.map((folds) => crossValidate(d, rows, labels, folds, outcomes, spec, augment));
  if (runs.length === 1) return runs[0]!;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    ...runs[0]!,
    apgr: mean(runs.map((r) => r.apgr)),
    pooledApgr: mean(runs.map((r) => r.pooledApgr)),
    partitions: runs.map((r) => r.foldApgr),
  };
}

/**
 * The fold-by-fold difference a - b: its mean and one standard error (null with fewer than 2 common folds). Over
 * repeated partitions, the mean of each partition's mean difference and of each partition's standard error: the
 * one-partition rule, with less luck in it (pooling 4 x 5 correlated folds as 20 would shrink the error bar by half
 * for no new data).
 */
function foldDifference(a: CvResult, b: CvResult): { mean: number; se: number } | null {
  if (a.partitions || b.partitions) {
    if (a.partitions?.length !== b.partitions?.length)
      throw new Error('foldDifference: results scored on different numbers of fold partitions');
    // A partition with fewer than two usable folds says nothing; the others still do.
    const per = a.partitions!.flatMap((fa, p) => {
      const d = foldDifference(
        { ...a, foldApgr: fa, partitions: undefined },
        { ...b, foldApgr: b.partitions![p]!, partitions: undefined },
      );
      return d ? [d] : [];
    });
    if (per.length === 0) return null;
    return {
      mean: per.reduce((x, y) => x + y.mean, 0) / per.length,
      se: per.reduce((x, y) => x + y.se, 0) / per.length,
    };
  }
  const n = Math.min(a.foldApgr.length, b.foldApgr.length);
  if (n < 2) return null;
  const diff = Array.from({ length: n }, (_, i) => a.foldApgr[i]! - b.foldApgr[i]!);
  const mean = diff.reduce((x, y) => x + y, 0) / n;
  const sd = Math.sqrt(diff.reduce((x, y) => x + (y - mean) ** 2, 0) / (n - 1));
  return { mean, se: sd / Math.sqrt(n) };
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
    const d = foldDifference(r, best);
    if (d === null || d.mean > d.se) best = r;
  }
  return best;
}
