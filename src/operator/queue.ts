/** A keyed, de-duplicating work queue: one worker per key at a time, bursts collapse, failures back off per key. */

import { backoffDelay } from '../backoff.js';

/** Delay before retry number `failures` (1-based): base * 2^(n-1), capped, no jitter (one worker per key). */
export function backoffMs(failures: number, baseMs = 100, capMs = 30_000): number {
  return backoffDelay(failures, { baseMs, maxMs: capMs });
}

export interface WorkQueueOptions {
  /** Wait this long after the first event of a burst, so one CRD edit storm becomes one reconcile. */
  debounceMs?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  onError?: (key: string, error: unknown, failures: number) => void;
}

export class WorkQueue {
  private readonly timers = new Map<string, { due: number; timer: NodeJS.Timeout }>();
  private readonly active = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly idleWaiters: Array<() => void> = [];
  private stopped = false;
  private readonly debounceMs: number;

  constructor(
    private readonly handler: (key: string) => Promise<void>,
    private readonly opts: WorkQueueOptions = {},
  ) {
    this.debounceMs = opts.debounceMs ?? 150;
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
    const timer = setTimeout(() => void this.run(key), delayMs);
    this.timers.set(key, { due, timer });
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
    this.timers.clear();
    this.dirty.clear();
    this.notifyIdle();
  }

  private isIdle(): boolean {
    return this.timers.size === 0 && this.active.size === 0 && this.dirty.size === 0;
  }

  private notifyIdle(): void {
    if (!this.isIdle()) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private async run(key: string): Promise<void> {
    this.timers.delete(key);
    this.active.add(key);
    let failed = false;
    try {
      await this.handler(key);
      this.failures.delete(key);
    } catch (e) {
      failed = true;
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      this.opts.onError?.(key, e, n);
    }
    this.active.delete(key);
    if (failed) {
      this.dirty.delete(key);
      const n = this.failures.get(key) ?? 1;
      this.add(key, backoffMs(n, this.opts.baseBackoffMs ?? 100, this.opts.maxBackoffMs ?? 30_000));
    } else if (this.dirty.delete(key)) {
      this.add(key);
    }
    this.notifyIdle();
  }
}
