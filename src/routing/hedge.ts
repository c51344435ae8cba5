/**
 * Hedged (speculative) requests: start the rest of the plan beside its first target after a delay, take the first
 * answer, abort the other.
 *
 *   hedgeDelayMs(spec, task, observedP95Ms): number | undefined   undefined: no hedge for this request
 *   race(first, rest, delayMs, signal, opts): Promise<Raced<T>>    the first to succeed wins; the loser is aborted
 *
 * `race` knows nothing of providers: each side is a function of its own AbortSignal. The two sides never share a
 * target: `first` is the plan's first target alone and `rest` the plan from its second target on, so a first target
 * that fails after the hedge started leaves the rest to the hedge instead of failing over onto the targets the hedge
 * is already calling. What the loser spent is the caller's to book (`loser` settles once it has stopped: its value
 * if it finished, else its error); when both fail, `RaceFailed` carries both outcomes.
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

/** How one side ended. `aborted`: its signal was aborted (by the caller, or because the other side won). */
export type Settled<T> = { ok: true; value: T } | Failed;
export interface Failed {
  ok: false;
  error: unknown;
  aborted: boolean;
}

export interface Raced<T> {
  value: T;
  /** Which side answered: the first target's call, or the rest of the plan. */
  winner: 'primary' | 'hedge';
  /**
   * Whether a hedge ran: `rest` started after the delay while `first` was still running. False when `first` answered
   * before the delay, or failed before it and `rest` ran after it as plain failover.
   */
  hedged: boolean;
  /** The other side, settled once it stopped; undefined when only the winner ran. */
  loser: Promise<Settled<T>> | undefined;
  /**
   * Until called, the caller's abort still reaches the winner (a stream's winner runs on after the race). Call it
   * once the winner is over: at once for a finished answer, at the end of a stream.
   */
  release(): void;
}

/** No side answered: how each one ended (`hedge` undefined when `rest` never ran). */
export class RaceFailed extends Error {
  constructor(
    readonly primary: Failed,
    readonly hedge: Failed | undefined,
    /** Whether `rest` ran beside `first` (a hedge) rather than after it. */
    readonly hedged: boolean,
  ) {
    super('every side of the race failed');
    this.name = 'RaceFailed';
  }
}

export interface RaceOptions {
  /**
   * Whether `rest` may still answer after this failure of `first` (the failure is one failover moves on from, not the
   * request's own fault or the client's leaving). When it may, `rest` starts at once instead of after the delay.
   */
  failsOver?: (error: unknown) => boolean;
  /** `rest` started beside a running `first`: a hedge, counted when it starts whatever becomes of it. */
  onHedge?: () => void;
}

type Side<T> = (signal: AbortSignal) => Promise<T>;

/**
 * Runs `first`; after `delayMs` without an answer, also `rest`. The first to resolve wins and the other is aborted.
 * A side that fails does not end the race while the other may still answer. A `first` that fails before the delay
 * starts `rest` at once when `failsOver` says so (plain failover, no hedge), else ends the race. When no side
 * answers, the race rejects with a `RaceFailed`.
 */
export function race<T>(
  first: Side<T>,
  rest: Side<T>,
  delayMs: number,
  signal: AbortSignal,
  opts: RaceOptions = {},
): Promise<Raced<T>> {
  return new Promise((resolve, reject) => {
    const acs = [new AbortController(), new AbortController()] as const;
    const forward = () => {
      for (const ac of acs) ac.abort(signal.reason);
    };
    if (signal.aborted) forward();
    else signal.addEventListener('abort', forward, { once: true });
    let done = false;
    let restStarted = false;
    let hedged = false;
    const failures: Array<Failed | undefined> = [undefined, undefined];
    const settled: Array<Promise<Settled<T>>> = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = () => {
      if (timer) clearTimeout(timer);
      signal.removeEventListener('abort', forward);
    };
    const fail = () => {
      done = true;
      finish();
      reject(new RaceFailed(failures[0]!, failures[1], hedged));
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
          if (restStarted) acs[other].abort(new Error('hedge lost'));
          // From here on only the winner hears the caller's abort, until released.
          const keep = () => acs[i].abort(signal.reason);
          if (signal.aborted) keep();
          else signal.addEventListener('abort', keep, { once: true });
          resolve({
            value,
            winner: i === 0 ? 'primary' : 'hedge',
            hedged,
            loser: restStarted ? settled[other] : undefined,
            release: () => signal.removeEventListener('abort', keep),
          });
        },
        (error: unknown) => {
          if (done) return;
          failures[i] = { ok: false, error, aborted: acs[i].signal.aborted };
          if (i === 1) {
            if (failures[0]) fail();
            return;
          }
          if (restStarted) {
            // The hedge is calling the rest of the plan already: its answer (or failure) decides.
            if (failures[1]) fail();
            return;
          }
          // Before the delay: the rest of the plan is what failover would try next, if the failure allows it.
          if (!signal.aborted && opts.failsOver?.(error)) startRest(false);
          else fail();
        },
      );
    };
    const startRest = (beside: boolean) => {
      if (done || restStarted) return;
      if (timer) clearTimeout(timer);
      restStarted = true;
      hedged = beside;
      if (beside) opts.onHedge?.();
      run(1, rest);
    };
    run(0, first);
    timer = setTimeout(startRest, delayMs, true);
  });
}
