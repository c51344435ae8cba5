/**
 * Circuit breakers per route + provider + upstream model, kept across config versions, with state-change events.
 *
 * Our own small breaker, not opossum: on every upstream call opossum built an outer promise, emitted four events
 * through an EventEmitter and kept each call's latency in its rolling buckets (tens of thousands of numbers held at a
 * few thousand requests per second, though nothing reads them), and ran two interval timers per breaker. This one
 * keeps two counters per time bucket and has one timer, only while open. It decides as opossum 10 did with the options
 * we gave it, except in the five cases listed last:
 * - every call made while not retired counts as a fire, refused ones included; a failure the filter does not excuse
 *   counts as a failure; within the rolling window (10 buckets), once fires reach `volumeThreshold`, a failure rate
 *   above `errorThresholdPercentage` opens the breaker;
 * - open refuses every call until `resetTimeoutMs` has passed, then half-open lets one probe through (others are
 *   refused while it runs); the probe's failure opens it again, its success closes it.
 * Where it differs from opossum: an excused failure (not the upstream's fault) leaves it half-open for the next call
 * to probe, where opossum closed; a probe that has run `resetTimeoutMs` without settling is replaced; half-open, only
 * the probe decides, not a call let through before it opened; a wall clock stepped back neither keeps future-stamped
 * slices in the window nor promises a Retry-After past the reset timer; a stream probe is decided by its first chunk
 * (`runHeld`), not when the stream ends.
 */
import { EventEmitter } from 'node:events';
import { LocalError, ProviderError } from './types.js';

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerSettings {
  errorThresholdPercentage: number;
  volumeThreshold: number;
  resetTimeoutMs: number;
  rollingWindowMs: number;
}

/**
 * Which breaker: the route that configured the provider, the provider's name in it and the upstream model id it is
 * called with. Provider names are a route's own (two routes may each name a provider `up` pointing at different
 * upstreams, with different breaker settings), so one breaker guards one upstream as one route configured it, as an
 * Envoy cluster's circuit breaker does. A sidecar serves one namespace, so the route's name names the route.
 */
export interface BreakerId {
  route: string;
  provider: string;
  /** Upstream model id. */
  model: string;
}

export interface BreakerStateChange extends BreakerId {
  state: BreakerState;
}

/**
 * Failures a breaker must not count: the caller's own mistakes, the caller going away, targets we declined, requests
 * that never left this process, and 429s. A rate-limited upstream is healthy, only busy; it says when to come back
 * (Retry-After), and opening the breaker on it would lock the target out for longer than it asked.
 */
const NOT_COUNTED: ReadonlySet<string> = new Set(['client_error', 'unavailable', 'rate_limited']);
function ignoredByBreaker(err: unknown): boolean {
  return err instanceof LocalError || (err instanceof ProviderError && NOT_COUNTED.has(err.reason));
}

type ClientGone = () => boolean;
const NEVER_GONE: ClientGone = () => false;
const NOTHING_TO_PROVE = () => {};

const BUCKETS = 10;

/**
 * Fires and failures over the last `BUCKETS` slices of the rolling window, without a timer: each slice is stamped
 * with the number of the time slice it counts, and a slice older than the window counts as empty.
 */
export class RollingCounts {
  private readonly sliceMs: number;
  private readonly stamp = new Float64Array(BUCKETS).fill(-1);
  private readonly fires = new Uint32Array(BUCKETS);
  private readonly failures = new Uint32Array(BUCKETS);

  constructor(windowMs: number) {
    this.sliceMs = Math.max(1, Math.floor(windowMs / BUCKETS));
  }

  private slot(now: number): number {
    const slice = Math.floor(now / this.sliceMs);
    const i = slice % BUCKETS;
    if (this.stamp[i] !== slice) {
      this.stamp[i] = slice;
      this.fires[i] = 0;
      this.failures[i] = 0;
    }
    return i;
  }

  fire(now: number): void {
    this.fires[this.slot(now)]!++;
  }

  failure(now: number): void {
    this.failures[this.slot(now)]!++;
  }

  /** Totals over the window ending now. */
  totals(now: number): { fires: number; failures: number } {
    const current = Math.floor(now / this.sliceMs);
    let fires = 0;
    let failures = 0;
    for (let i = 0; i < BUCKETS; i++) {
      // A slice stamped ahead of now (the wall clock stepped back) is not in the window either.
      if (this.stamp[i]! > current - BUCKETS && this.stamp[i]! <= current) {
        fires += this.fires[i]!;
        failures += this.failures[i]!;
      }
    }
    return { fires, failures };
  }
}

/** One breaker. `run` rejects at once with a `breaker_open` ProviderError while open. */
export class Breaker {
  private current: BreakerState = 'closed';
  /** Half-open with its one probe not yet let through. */
  private probeFree = false;
  /** When the running probe was let through: one that never settles (a stream nobody ends) is replaced. */
  private probeAt = 0;
  private retiredFlag = false;
  /** When it last opened (Date.now()), to say how long until it half-opens. */
  private openedAt = 0;
  private resetTimer: NodeJS.Timeout | undefined;
  private readonly counts: RollingCounts;

  readonly route: string;
  readonly provider: string;
  readonly model: string;

  constructor(
    id: BreakerId,
    readonly settings: BreakerSettings,
    private readonly onState: (s: BreakerState) => void,
  ) {
    this.route = id.route;
    this.provider = id.provider;
    this.model = id.model;
    this.counts = new RollingCounts(settings.rollingWindowMs);
  }

  get id(): BreakerId {
    return { route: this.route, provider: this.provider, model: this.model };
  }

  /** A retired breaker lets every call through, so it reads closed. */
  get state(): BreakerState {
    return this.retiredFlag ? 'closed' : this.current;
  }

  /**
   * Runs `fn` under the breaker. Half-open lets one probe through (others are rejected while it runs) and closes on
   * its success, or as soon as `fn` calls the `proven` it is given. `clientGone` says whether a failure is the caller's disconnect rather than the upstream's; it is
   * asked when the failure is handled, right after it happened.
   */
  run<T>(fn: (proven: () => void) => Promise<T>, clientGone: ClientGone = NEVER_GONE): Promise<T> {
    // Requests planned under an older config version may still hold a replaced or pruned breaker: let them through.
    if (this.retiredFlag) return fn(NOTHING_TO_PROVE);
    const now = Date.now();
    this.counts.fire(now);
    const probe = this.current !== 'closed';
    if (probe) {
      // Half-open: the one probe, or a new one when the last has run longer than a reset timeout without settling.
      const stuck = this.current === 'half_open' && now - this.probeAt >= this.settings.resetTimeoutMs;
      if (!this.probeFree && !stuck) return Promise.reject(this.refusal());
      this.probeFree = false;
      this.probeAt = now;
    }
    // `proven()` decides a probe before the call ends (a stream's first chunk); what the call does after that counts
    // as any call's would while closed.
    let deciding = probe;
    const proven = () => {
      if (!deciding) return;
      deciding = false;
      this.succeeded(true);
    };
    let p: Promise<T>;
    try {
      p = fn(proven);
    } catch (err) {
      this.failed(err, clientGone, deciding);
      return Promise.reject(err);
    }
    return p.then(
      (v) => {
        this.succeeded(deciding);
        return v;
      },
      (err: unknown) => {
        this.failed(err, clientGone, deciding);
        throw err;
      },
    );
  }

  private refusal(): ProviderError {
    return new ProviderError(
      'breaker_open',
      `breaker open for provider "${this.provider}" model "${this.model}"`,
      {
        retryAfter: this.secondsUntilHalfOpen(),
      },
    );
  }

  /** Half-open, only the probe decides: a call let through before the breaker opened says little about now. */
  private succeeded(probe: boolean): void {
    if (this.retiredFlag) return;
    if (probe && this.current === 'half_open') this.close();
  }

  private failed(err: unknown, clientGone: ClientGone, probe: boolean): void {
    if (this.retiredFlag) return;
    // An excused failure (the client's fault or departure, a 429) is no news about the upstream: a probe that ends so
    // leaves the breaker half-open for the next call to probe (opossum closed it, letting a dead upstream's traffic
    // through for a whole window).
    if (clientGone() || ignoredByBreaker(err)) {
      if (probe && this.current === 'half_open') this.probeFree = true;
      return;
    }
    const now = Date.now();
    this.counts.failure(now);
    if (this.current === 'half_open') {
      if (probe) this.open(now);
      return;
    }
    const { fires, failures } = this.counts.totals(now);
    if (
      fires >= this.settings.volumeThreshold &&
      (failures / fires) * 100 > this.settings.errorThresholdPercentage
    )
      this.open(now);
  }

  private open(now: number): void {
    if (this.current === 'open') return;
    this.current = 'open';
    this.probeFree = false;
    this.openedAt = now;
    clearTimeout(this.resetTimer);
    this.resetTimer = setTimeout(() => this.halfOpen(), this.settings.resetTimeoutMs);
    // An open breaker alone must not keep the process alive.
    this.resetTimer.unref();
    this.onState('open');
  }

  private halfOpen(): void {
    this.resetTimer = undefined;
    if (this.retiredFlag) return;
    this.current = 'half_open';
    this.probeFree = true;
    this.onState('half_open');
  }

  private close(): void {
    this.current = 'closed';
    this.probeFree = false;
    clearTimeout(this.resetTimer);
    this.resetTimer = undefined;
    this.onState('closed');
  }

  /**
   * Like `run`, for streams: resolves with `start`'s value (the first chunk) but keeps the breaker call open until
   * `settle` is called when the stream ends, with the error if it broke. So a stream that breaks mid-way counts as
   * one failure (not a success plus a failure). A half-open probe is decided by its first chunk: an upstream that
   * started answering is back, and holding every other call refused until the probe's stream ends would lock the
   * target out for as long as one answer takes (minutes for a long one). If the probe's stream then breaks, that
   * counts as a failure of the closed breaker.
   */
  async runHeld<T>(
    start: () => Promise<T>,
    clientGone: ClientGone = NEVER_GONE,
  ): Promise<{ value: T; settle: (err?: unknown) => void }> {
    let settle: (err?: unknown) => void = () => {};
    const ended = new Promise<void>((resolve, reject) => {
      let settled = false;
      settle = (err) => {
        if (settled) return;
        settled = true;
        if (err === undefined) resolve();
        else reject(err);
      };
    });
    let started: (v: T) => void = () => {};
    let failed: (e: unknown) => void = () => {};
    const startedP = new Promise<T>((resolve, reject) => {
      started = resolve;
      failed = reject;
    });
    this.run(async (proven) => {
      started(await start());
      proven();
      await ended;
    }, clientGone).catch((e) => failed(e)); // after the start resolved, a late rejection only feeds the breaker
    return { value: await startedP, settle };
  }

  /**
   * Seconds until an open breaker lets a probe through. While half-open with the probe running, other calls are
   * refused too; the probe is decided within one request (a stream's, by its first chunk), so "soon" (the smallest
   * wait) is the honest answer.
   */
  secondsUntilHalfOpen(now = Date.now()): number {
    if (this.state !== 'open') return 0;
    // Clamped: a wall clock stepped back must not promise a wait longer than the reset timer's.
    const left = Math.min(this.settings.resetTimeoutMs, this.openedAt + this.settings.resetTimeoutMs - now);
    return Math.max(0, left / 1000);
  }

  /** No longer on the board: timers stopped, and `run` passes calls through unguarded from now on. */
  get retired(): boolean {
    return this.retiredFlag;
  }

  retire(): void {
    this.retiredFlag = true;
    clearTimeout(this.resetTimer);
    this.resetTimer = undefined;
  }

  shutdown(): void {
    this.retire();
  }
}

const keyOf = (id: BreakerId) => `${id.route}\u0000${id.provider}\u0000${id.model}`;

/**
 * All breakers of a process, keyed by route + provider name + upstream model. A new config version with the same
 * settings keeps a route's breaker (and its open state); changed settings replace that route's breaker only.
 */
export class BreakerBoard extends EventEmitter<{
  state: [BreakerStateChange];
  /** A new breaker, closed: exported from its first use on, not only once it first changes state. */
  added: [BreakerId];
  removed: [BreakerId];
}> {
  private readonly breakers = new Map<string, Breaker>();

  get(id: BreakerId, settings: BreakerSettings): Breaker {
    const key = keyOf(id);
    const existing = this.breakers.get(key);
    if (existing && sameSettings(existing.settings, settings)) return existing;
    const wasOpen = existing !== undefined && existing.state !== 'closed';
    existing?.retire();
    const b = new Breaker(id, { ...settings }, (state) => this.emit('state', { ...b.id, state }));
    this.breakers.set(key, b);
    this.emit('added', b.id);
    // A replaced breaker starts closed; say so, or an exported "open" gauge would stick.
    if (wasOpen) this.emit('state', { ...b.id, state: 'closed' });
    return b;
  }

  /**
   * Drops every breaker not in `keep` (routes, providers or models gone from the config), emitting `removed` for
   * each, so the board and its metrics do not grow with every provider a config ever named. Returns what was dropped.
   */
  retain(keep: Iterable<BreakerId>): BreakerId[] {
    const wanted = new Set<string>();
    for (const k of keep) wanted.add(keyOf(k));
    const removed: BreakerId[] = [];
    for (const [key, b] of this.breakers) {
      if (wanted.has(key)) continue;
      this.breakers.delete(key);
      b.retire();
      const id = b.id;
      removed.push(id);
      this.emit('removed', id);
    }
    return removed;
  }

  /** Current state of every breaker, for a metrics collector. */
  states(): BreakerStateChange[] {
    return [...this.breakers.values()].map((b) => ({ ...b.id, state: b.state }));
  }

  shutdown(): void {
    for (const b of this.breakers.values()) b.retire();
    this.breakers.clear();
  }
}

function sameSettings(a: BreakerSettings, b: BreakerSettings): boolean {
  return (
    a.errorThresholdPercentage === b.errorThresholdPercentage &&
    a.volumeThreshold === b.volumeThreshold &&
    a.resetTimeoutMs === b.resetTimeoutMs &&
    a.rollingWindowMs === b.rollingWindowMs
  );
}
