/**
 * Online calibration: a score's percentile among the route's own recent traffic, so `premiumShare: 0.3` sends
 * about 30% of *this route's* requests above the cheapest tier, whatever its traffic looks like. Until a route has
 * seen MIN_SAMPLES requests, the model's calibration quantiles (benchmark mix) stand in.
 *
 *   new RollingPercentile(size).percentile(score, at?): share of the window below `score`, a tie placed at `at`
 *   .locate(score, run): the tie run's percentile interval [lo, hi]       .record(score): adds it to the window
 *   calibrationRun(model, score, run): the same interval on the model's calibration quantiles
 *   placeInRun(run, text): the prompt's percentile: lo, or inside [lo, hi] at tiePosition(text) when tied
 *
 * Ties keep the promise too. A model trained on constant labels, a constant head, or traffic whose prompts score
 * alike gives many requests one score; ranked as "ties count half" they would all sit at one percentile, and
 * `premiumShare: 0.3` (threshold 0.7) would send none of them up, 0.6 all. Instead a tied request takes a place
 * inside its run, spread uniformly by a hash of its prompt text: of the requests tied across the threshold, the
 * configured share lands above it. Identical prompts hash alike, so the same prompt asked again is routed alike
 * (and `tiermesh explain` predicts it); varied prompts tied by the model spread.
 */
import { MAX_NGRAM_CHARS } from './features.js';
import { unitHash } from './split.js';

/** A score's percentile interval: the share of scores strictly below it (lo) and at or below it (hi), in [0, 1]. */
export interface TieRun {
  lo: number;
  hi: number;
}

/** Runs narrower than this are no tie (interpolation between distinct calibration quantiles leaves float dust). */
export const TIE_EPSILON = 1e-9;

const TIE_SEED = 'tiermesh-tie-v1';

/** A tied prompt's place inside its run, in [0, 1): uniform over varied prompts, the same for the same text. */
export function tiePosition(text: string): number {
  // Bounded as the features are (head and tail, and the length): placing a tied 1 MB prompt must not cost the
  // decision milliseconds. Identical prompts still agree; prompts alike in head, tail and length share a place.
  const n = text.length;
  const key =
    n > MAX_NGRAM_CHARS
      ? `${n}:${text.slice(0, MAX_NGRAM_CHARS / 2)}${text.slice(n - MAX_NGRAM_CHARS / 2)}`
      : text;
  return unitHash(key, TIE_SEED);
}

/**
 * The percentile a request's score gets from its run: `lo` when untied; when tied, `lo + tiePosition(text) * (hi - lo)`.
 * The prompt is hashed only for a tie. Pure.
 */
export function placeInRun(run: TieRun, text: string): number {
  const width = run.hi - run.lo;
  return width > TIE_EPSILON ? run.lo + tiePosition(text) * width : run.lo;
}

/** The next double above `x` or one step beyond it: strictly greater, within two units in the last place. */
function justAbove(x: number): number {
  return x + Math.max(Math.abs(x) * Number.EPSILON, Number.MIN_VALUE);
}

/**
 * `score`'s run on a model's calibration scale, `c.shareAbove(t)` being the share scoring at or above `t`: lo = 1 -
 * shareAbove(score), hi = 1 - shareAbove(just above score), so a run of equal calibration quantiles (a point mass)
 * spans its share. An untied score gets lo = hi. Writes into `run` (no allocation) and returns it.
 */
export function calibrationRun(
  c: { shareAbove(threshold: number): number },
  score: number,
  run: TieRun,
): TieRun {
  const lo = 1 - c.shareAbove(score);
  const hi = 1 - c.shareAbove(justAbove(score));
  run.lo = lo;
  run.hi = hi - lo > TIE_EPSILON ? hi : lo;
  return run;
}

/** Requests a route must have scored before its own traffic defines the percentile scale (share error ~6% at 50). */
export const MIN_SAMPLES = 50;
/** Window of recent scores per route: large enough for a stable 1% resolution, small enough to follow drift. */
export const WINDOW = 2000;

export class RollingPercentile {
  private readonly ring: Float64Array;
  /** The window's scores, ascending (same multiset as `ring`). */
  private readonly sorted: Float64Array;
  private count = 0;
  private next = 0;

  constructor(readonly size: number = WINDOW) {
    this.ring = new Float64Array(size);
    this.sorted = new Float64Array(size);
  }

  get samples(): number {
    return this.count;
  }

  /**
   * Share of the window below `x`, a tie placed at `at` of its run (0: below every equal score, 1: above; the
   * default 0.5 counts ties half), in [0, 1]; NaN when the window is empty. Pure read.
   */
  percentile(x: number, at = 0.5): number {
    const n = this.count;
    if (n === 0) return Number.NaN;
    // Both ends by binary search: a run of equal scores (the same prompt over and over) is not walked one by one.
    const lo = this.lowerBound(x, n);
    const hi = this.upperBound(x, n);
    return (lo + (hi - lo) * at) / n;
  }

  /** `x`'s run in the window: lo = share below `x`, hi = share at or below (NaN both when empty). Pure read. */
  locate(x: number, run: TieRun): TieRun {
    const n = this.count;
    run.lo = n === 0 ? Number.NaN : this.lowerBound(x, n) / n;
    run.hi = n === 0 ? Number.NaN : this.upperBound(x, n) / n;
    return run;
  }

  /** Adds `x` to the window, evicting the oldest score when full. O(window) moves, no allocation. */
  record(x: number): void {
    const n = this.count;
    if (n === this.size) {
      const old = this.ring[this.next]!;
      if (old === x) {
        // The same score out and in: the sorted window does not change.
        this.next = (this.next + 1) % this.size;
        return;
      }
      const at = this.lowerBound(old, n);
      this.sorted.copyWithin(at, at + 1, n);
      this.count--;
    }
    const m = this.count;
    const at = this.lowerBound(x, m);
    this.sorted.copyWithin(at + 1, at, m);
    this.sorted[at] = x;
    this.count++;
    this.ring[this.next] = x;
    this.next = (this.next + 1) % this.size;
  }

  /** First index whose score is above `x`. */
  private upperBound(x: number, n: number): number {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.sorted[mid]! <= x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private lowerBound(x: number, n: number): number {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.sorted[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
