/**
 * Online calibration: a score's percentile among the route's own recent traffic, so `premiumShare: 0.3` sends
 * about 30% of *this route's* requests above the cheapest tier, whatever its traffic looks like. Until a route has
 * seen MIN_SAMPLES requests, the model's calibration quantiles (benchmark mix) stand in.
 *
 *   new RollingPercentile(size).rank(score): share of the window scoring below `score` (ties count half), then records it
 */

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

  /** Share of the window below `x` (ties count half), in [0, 1]; NaN when the window is empty. Pure read. */
  percentile(x: number): number {
    const n = this.count;
    if (n === 0) return Number.NaN;
    // Both ends by binary search: a run of equal scores (the same prompt over and over) is not walked one by one.
    const lo = this.lowerBound(x, n);
    const hi = this.upperBound(x, n);
    return (lo + (hi - lo) / 2) / n;
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
