/**
 * Whether a system held an open-loop rate: every request answered correctly and the median still near the upstream's
 * own latency. A proxy past its capacity queues, and in an open loop its latency then grows for as long as the run
 * lasts, so a higher rate would only measure the same queue for longer (and time requests out): it is not run.
 */
import type { RunResult } from './load.js';

/**
 * A median this many times the fixture's latency (500 ms at 20 ms) means requests were waiting in a queue, not being
 * proxied. High, because on a shared machine a burst of other work can put a held rate's median at a few hundred ms
 * for one run; a saturated proxy's median is seconds, and it times requests out.
 */
export const HELD_MEDIAN_FACTOR = 25;

/** Why `r` does not count as holding its rate, or undefined when it does. */
export function notHeld(r: RunResult, upstreamLatencyMs: number): string | undefined {
  if (r.errors > 0) return `${r.errors} of ${r.sent} requests failed at ${r.rate} rps`;
  if (!(r.latency.p50 <= upstreamLatencyMs * HELD_MEDIAN_FACTOR))
    return `p50 ${r.latency.p50.toFixed(0)} ms at ${r.rate} rps (over ${HELD_MEDIAN_FACTOR}x the upstream's ${upstreamLatencyMs} ms: queueing)`;
  return undefined;
}
