/**
 * The one backoff: capped exponential delays for every retry loop we run (upstream retries, the usage reporter,
 * the config stream, the operator's work queue).
 *
 * Jitter is "equal jitter" (half of the delay fixed, half random): a fleet of sidecars spreads out after a shared
 * failure, yet none retries immediately, which "full jitter" (anywhere from 0) would allow. Without a random number
 * the delay is the plain exponential one (the work queue: one worker per key, nothing to spread out).
 */

export interface Backoff {
  /** Delay before the first retry. */
  baseMs: number;
  /** No delay is longer than this. */
  maxMs: number;
}

/**
 * Delay before retry number `retry` (1-based; 0 or less means "no retry yet", 0 ms): baseMs * 2^(retry-1), capped
 * at maxMs. `random` in [0, 1] (injected, so callers stay pure and tests exact) turns on equal jitter.
 */
export function backoffDelay(retry: number, b: Backoff, random?: number): number {
  if (retry <= 0) return 0;
  const exp = Math.min(b.maxMs, b.baseMs * 2 ** Math.min(retry - 1, 30));
  if (random === undefined) return exp;
  const r = Math.min(1, Math.max(0, random));
  return Math.round(exp / 2 + (exp / 2) * r);
}
