/**
 * Per-user requests-per-minute limiter: a token bucket per user (burst of `rpm`, refilled at rpm/60 per second).
 * Memory-bounded: a bucket that has refilled is the same as no bucket, so idle users are dropped; past
 * `maxUsers` the least recently seen user is evicted (which can only ever let a request through, never block one).
 *
 *   new RateLimiter({ rpm, maxUsers? })
 *     .take(user, now): { ok: true } | { ok: false; retryAfterSeconds }
 *     .size: number
 */

export type RateResult = { ok: true } | { ok: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  at: number;
}

export const DEFAULT_MAX_USERS = 50_000;
/** Entries swept per call: enough to keep up with arrivals, bounded so one call never scans the whole map. */
const SWEEP = 4;

export class RateLimiter {
  readonly rpm: number;
  private readonly maxUsers: number;
  private readonly perMs: number;
  private readonly buckets = new Map<string, Bucket>();

  constructor(opts: { rpm: number; maxUsers?: number }) {
    if (!(opts.rpm > 0)) throw new RangeError('rpm must be positive');
    this.rpm = opts.rpm;
    this.maxUsers = Math.max(1, opts.maxUsers ?? DEFAULT_MAX_USERS);
    this.perMs = opts.rpm / 60_000;
  }

  get size(): number {
    return this.buckets.size;
  }

  private level(b: Bucket, now: number): number {
    return Math.min(this.rpm, b.tokens + Math.max(0, now - b.at) * this.perMs);
  }

  take(user: string, now: number): RateResult {
    this.sweep(now);
    const b = this.buckets.get(user);
    const tokens = b ? this.level(b, now) : this.rpm;
    if (tokens < 1) {
      // Not refreshed in LRU order on refusal: a user hammering while blocked still ages out once it stops.
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / this.perMs / 1000)) };
    }
    // Delete + set keeps the map in least-recently-used order, so the oldest entries come first.
    this.buckets.delete(user);
    this.buckets.set(user, { tokens: tokens - 1, at: now });
    while (this.buckets.size > this.maxUsers) {
      const oldest = this.buckets.keys().next().value as string;
      this.buckets.delete(oldest);
    }
    return { ok: true };
  }

  private sweep(now: number): void {
    let n = 0;
    for (const [user, b] of this.buckets) {
      if (n++ >= SWEEP) break;
      if (this.level(b, now) >= this.rpm) this.buckets.delete(user);
      else break;
    }
  }
}
