/**
 * A keyed, de-duplicating work queue: one worker per key at a time, bursts collapse, failures back off per key.
 * A handler may ask for its key again later (ReconcileOutcome.requeueAfterMs) or fail terminally (TerminalError:
 * reported, not retried). Created paused, it only collects keys until `start()`: the operator starts it once the
 * informer caches are filled, so no reconcile sees a half-listed namespace.
 */

import { backoffDelay } from '../backoff.js';
import { type ReconcileOutcome, TerminalError } from './reconcile-result.js';

/** Delay before retry number `failures` (1-based): base * 2^(n-1), capped, no jitter (one worker per key). */
export function backoffMs(failures: number, baseMs = 100, capMs = 30_000): number {
  return backoffDelay(failures, { baseMs, maxMs: capMs });
}

/** setTimeout fires at once for anything longer (and warns); a longer requeue is re-asked for on that run. */
export const MAX_DELAY_MS = 2 ** 31 - 1;

export interface WorkQueueOptions {
  /** Wait this long after the first event of a burst, so one CRD edit storm becomes one reconcile. */
  debounceMs?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** Collect keys without running them until `start()`. */
  paused?: boolean;
  /** `terminal`: the handler threw a TerminalError; the key waits for its next add instead of a retry. */
  onError?: (key: string, error: unknown, failures: number, terminal: boolean) => void;
}

export class WorkQueue {
  private readonly timers = new Map<string, { due: number; timer: NodeJS.Timeout | undefined }>();
  /** Requeues a handler asked for; not work yet, so neither depth nor idle counts them. */
  private readonly later = new Map<string, NodeJS.Timeout>();
  private readonly active = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly idleWaiters: Array<() => void> = [];
  private stopped = false;
  private paused: boolean;
  private readonly debounceMs: number;

  constructor(
    private readonly handler: (key: string) => Promise<ReconcileOutcome | undefined> | Promise<void>,
    private readonly opts: WorkQueueOptions = {},
  ) {
    this.debounceMs = opts.debounceMs ?? 150;
    this.paused = opts.paused ?? false;
  }

  /** Schedules `key`; an earlier due time wins over a later one already scheduled. */
  add(key: string, delayMs = this.debounceMs): void {
    if (this.stopped) return;
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    const due = Date.now() + delayMs;
    const existing = this.timers.get(key);
    if (existing) {
      if (existing.due <= due) return;
      clearTimeout(existing.timer);
    }
    this.timers.set(key, { due, timer: this.paused ? undefined : this.arm(key, delayMs) });
  }

  /** Runs what was collected while paused, each key at its due time (or now, if that has passed). */
  start(): void {
    if (!this.paused || this.stopped) return;
    this.paused = false;
    const now = Date.now();
    for (const [key, t] of this.timers) t.timer = this.arm(key, Math.max(0, t.due - now));
  }

  /** Keys waiting or needing a re-run. */
  depth(): number {
    return this.timers.size + this.dirty.size;
  }

  /** Resolves once nothing is scheduled or running (tests and shutdown). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    for (const timer of this.later.values()) clearTimeout(timer);
    this.timers.clear();
    this.later.clear();
    this.dirty.clear();
    this.notifyIdle();
  }

  private arm(key: string, delayMs: number): NodeJS.Timeout {
    return setTimeout(() => void this.run(key), Math.min(delayMs, MAX_DELAY_MS));
  }

  private isIdle(): boolean {
    return this.timers.size === 0 && this.active.size === 0 && this.dirty.size === 0;
  }

  private notifyIdle(): void {
    if (!this.isIdle()) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** What the last successful run asked for replaces any earlier request for this key. */
  private requeueLater(key: string, afterMs: number | undefined): void {
    clearTimeout(this.later.get(key));
    this.later.delete(key);
    if (afterMs === undefined || this.stopped) return;
    const timer = setTimeout(
      () => {
        this.later.delete(key);
        this.add(key, 0);
      },
      Math.min(Math.max(0, afterMs), MAX_DELAY_MS),
    );
    timer.unref();
    this.later.set(key, timer);
  }

  private async run(key: string): Promise<void> {
    this.timers.delete(key);
    this.active.add(key);
    let retry = false;
    try {
      const outcome = (await this.handler(key)) as ReconcileOutcome | undefined;
      this.failures.delete(key);
      this.requeueLater(key, outcome ? outcome.requeueAfterMs : undefined);
    } catch (e) {
      const terminal = e instanceof TerminalError;
      const n = (this.failures.get(key) ?? 0) + 1;
      if (terminal) this.failures.delete(key);
      else this.failures.set(key, n);
      retry = !terminal;
      this.opts.onError?.(key, e, n, terminal);
    }
    this.active.delete(key);
    if (retry) {
      this.dirty.delete(key);
      const n = this.failures.get(key) ?? 1;
      this.add(key, backoffMs(n, this.opts.baseBackoffMs ?? 100, this.opts.maxBackoffMs ?? 30_000));
    } else if (this.dirty.delete(key)) {
      this.add(key);
    }
    this.notifyIdle();
  }
}
