/**
 * Hedged (speculative) requests: start a second target after a delay, take the first answer, abort the other.
 *
 *   hedgeDelayMs(spec, task, observedP95Ms): number | undefined   undefined: no hedge for this request
 *   race(primary, hedge, delayMs, signal): Promise<Raced<T>>       the first to succeed wins; the loser is aborted
 *
 * `race` knows nothing of providers: each side is a function of its own AbortSignal. What the loser spent is the
 * caller's to book (`loser` settles once it has stopped: its value if it finished, else its error).
 */
import type { ModelRouteSpec } from '../api/modelroute.js';

export const HEDGED_HEADER = 'x-tiermesh-hedged';

/**
 * The delay before the hedge starts: the observed p95 of the first target when `delay` is `p95` and there are
 * observations, else the fixed `delayMs`. Undefined when the route (or this task type) does not hedge.
 */
export function hedgeDelayMs(
  spec: ModelRouteSpec,
  task: string | undefined,
  observedP95Ms: number | undefined,
): number | undefined {
  const h = spec.hedge;
  if (!h?.enabled) return undefined;
  if (h.taskTypes && (task === undefined || !h.taskTypes.includes(task))) return undefined;
  if (h.delay === 'p95' && observedP95Ms !== undefined) return Math.max(h.minDelayMs, observedP95Ms);
  return h.delayMs;
}

export interface Raced<T> {
  value: T;
  /** Which side answered: the first target's call, or the hedge. */
  winner: 'primary' | 'hedge';
  /** Whether the hedge was started at all (the primary may answer before the delay). */
  hedged: boolean;
  /** The other side, settled once it stopped; undefined when the hedge never started. */
  loser: Promise<{ ok: true; value: T } | { ok: false; error: unknown; aborted: boolean }> | undefined;
  /**
   * Until called, the caller's abort still reaches the winner (a stream's winner runs on after the race). Call it
   * once the winner is over: at once for a finished answer, at the end of a stream.
   */
  release(): void;
}

type Side<T> = (signal: AbortSignal) => Promise<T>;

/**
 * Runs `primary`; after `delayMs` without an answer, also `hedge`. The first to resolve wins and the other is aborted.
 * A side that fails does not end the race while the other may still answer; when both fail, the primary's error is
 * thrown (it is the request's own path). A primary that fails before the delay ends the race: its failover already
 * tried every target the hedge would, and tier promotion is the next step, not a repeat of the same tier.
 */
export function race<T>(
  primary: Side<T>,
  hedge: Side<T>,
  delayMs: number,
  signal: AbortSignal,
): Promise<Raced<T>> {
  return new Promise((resolve, reject) => {
    const acs = [new AbortController(), new AbortController()] as const;
    const forward = () => {
      for (const ac of acs) ac.abort(signal.reason);
    };
    if (signal.aborted) forward();
    else signal.addEventListener('abort', forward, { once: true });
    let done = false;
    let hedgeStarted = false;
    const failures: Array<unknown | undefined> = [undefined, undefined];
    const failed = [false, false];
    const settled: Array<Promise<{ ok: true; value: T } | { ok: false; error: unknown; aborted: boolean }>> =
      [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = () => {
      if (timer) clearTimeout(timer);
      signal.removeEventListener('abort', forward);
    };
    const run = (i: 0 | 1, side: Side<T>) => {
      const p = side(acs[i].signal);
      settled[i] = p.then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error, aborted: acs[i].signal.aborted }),
      );
      p.then(
        (value) => {
          if (done) return;
          done = true;
          finish();
          const other = i === 0 ? 1 : 0;
          if (hedgeStarted) acs[other].abort(new Error('hedge lost'));
          // From here on only the winner hears the caller's abort, until released.
          const keep = () => acs[i].abort(signal.reason);
          if (signal.aborted) keep();
          else signal.addEventListener('abort', keep, { once: true });
          resolve({
            value,
            winner: i === 0 ? 'primary' : 'hedge',
            hedged: hedgeStarted,
            loser: hedgeStarted ? settled[other] : undefined,
            release: () => signal.removeEventListener('abort', keep),
          });
        },
        (error: unknown) => {
          if (done) return;
          failed[i] = true;
          failures[i] = error;
          // Both sides are over (or the hedge never started): the primary's error is the request's.
          if (failed[0] && (!hedgeStarted || failed[1])) {
            done = true;
            finish();
            reject(failures[0]);
          }
        },
      );
    };
    const startHedge = () => {
      if (done || hedgeStarted) return;
      hedgeStarted = true;
      run(1, hedge);
    };
    run(0, primary);
    timer = setTimeout(startHedge, delayMs);
  });
}
