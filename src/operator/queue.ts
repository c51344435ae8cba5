/** A keyed, de-duplicating work queue: one worker per key at a time, bursts collapse, failures back off per key. */

/** Delay before retry number `failures` (1-based): base * 2^(n-1), capped. */
export function backoffMs(failures: number, baseMs = 100, capMs = 30_000): number {
  if (failures <= 0) return 0;
  return Math.min(capMs, baseMs * 2 ** Math.min(failures - 1, 30));
}

export interface WorkQueueOptions {
  /**
   * At most one run per key this often for plain `add(key)`: the first event after a quiet spell runs at once
   * (no latency floor under a single CRD change), later events of a burst collapse into one run at the window's end.
   */
  debounceMs?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  onError?: (key: string, error: unknown, failures: number) => void;
}

export class WorkQueue {
  private readonly timers = new Map<string, { due: number; timer: NodeJS.Timeout }>();
  private readonly active = new Set<string>();
  /** Keys added while running, with the shortest delay asked for (undefined: the debounce window). */
  private readonly dirty = new Map<string, number | undefined>();
  private readonly failures = new Map<string, number>();
  /** When each key last started running, for the leading-edge debounce. */
  private readonly lastStart = new Map<string, number>();
  private readonly idleWaiters: Array<() => void> = [];
  private stopped = false;
  private readonly debounceMs: number;

  constructor(
    private readonly handler: (key: string) => Promise<void>,
    private readonly opts: WorkQueueOptions = {},
  ) {
    this.debounceMs = opts.debounceMs ?? 150;
  }

  /**
   * Schedules `key` after `delayMs`, or, without it, as soon as the debounce window since its last run allows.
   * An earlier due time wins over a later one already scheduled.
   */
  add(key: string, delayMs?: number): void {
    if (this.stopped) return;
    if (this.active.has(key)) {
      // The shortest explicit delay asked for while running wins; none asked means the debounce window.
      const asked = this.dirty.get(key);
      this.dirty.set(
        key,
        asked === undefined || delayMs === undefined ? (asked ?? delayMs) : Math.min(asked, delayMs),
      );
      return;
    }
    const now = Date.now();
    delayMs ??= Math.max(0, (this.lastStart.get(key) ?? -Infinity) + this.debounceMs - now);
    const due = now + delayMs;
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
    this.lastStart.set(key, Date.now());
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
    } else if (this.dirty.has(key)) {
      const delay = this.dirty.get(key);
      this.dirty.delete(key);
      this.add(key, delay);
    }
    this.notifyIdle();
  }
}
