/** Circuit breakers per provider + upstream model (opossum), kept across config versions, with state-change events. */
import { EventEmitter } from 'node:events';
import CircuitBreaker from 'opossum';
import { LocalError, ProviderError } from './types.js';

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerSettings {
  errorThresholdPercentage: number;
  volumeThreshold: number;
  resetTimeoutMs: number;
  rollingWindowMs: number;
}

export interface BreakerStateChange {
  provider: string;
  /** Upstream model id. */
  model: string;
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

type Action = () => Promise<unknown>;
type ClientGone = () => boolean;
const NEVER_GONE: ClientGone = () => false;

/**
 * opossum hands its errorFilter the arguments `fire` got: the action and whether the client went away, so a failure
 * caused by the caller's disconnect is not the upstream's fault and is not counted. Asked when the failure is handled,
 * right after it happened.
 */
function notCounted(err: unknown, _fn: Action, clientGone: ClientGone): boolean {
  return clientGone() || ignoredByBreaker(err);
}

/** One breaker. `run` rejects at once with a `breaker_open` ProviderError while open. */
export class Breaker {
  private readonly cb: CircuitBreaker<[Action, ClientGone], unknown>;
  private retiredFlag = false;
  /** When it last opened (Date.now()), to say how long until it half-opens. */
  private openedAt = 0;

  constructor(
    readonly provider: string,
    readonly model: string,
    readonly settings: BreakerSettings,
    onState: (s: BreakerState) => void,
  ) {
    this.cb = new CircuitBreaker<[Action, ClientGone], unknown>((fn: Action) => fn(), {
      // Deadlines are ours (per attempt, first byte); opossum's own timeout would race them with a worse reason.
      timeout: false,
      errorThresholdPercentage: settings.errorThresholdPercentage,
      volumeThreshold: settings.volumeThreshold,
      resetTimeout: settings.resetTimeoutMs,
      rollingCountTimeout: settings.rollingWindowMs,
      rollingCountBuckets: 10,
      rollingPercentilesEnabled: false,
      // opossum's types name one parameter; it passes `fire`'s arguments after the error (lib/circuit.js).
      errorFilter: notCounted as (err: unknown) => boolean,
    });
    this.cb.on('open', () => {
      this.openedAt = Date.now();
      onState('open');
    });
    this.cb.on('halfOpen', () => onState('half_open'));
    this.cb.on('close', () => onState('closed'));
  }

  get state(): BreakerState {
    return this.cb.opened ? 'open' : this.cb.halfOpen ? 'half_open' : 'closed';
  }

  /**
   * Runs `fn` under the breaker. Half-open lets one probe through (others are rejected while it runs) and closes on
   * its success. `clientGone` says whether a failure is the caller's disconnect rather than the upstream's.
   */
  run<T>(fn: () => Promise<T>, clientGone: ClientGone = NEVER_GONE): Promise<T> {
    // Requests planned under an older config version may still hold a replaced or pruned breaker: let them through.
    if (this.retiredFlag) return fn();
    // No async wrapper of our own: the client's disconnect is judged by the errorFilter (notCounted), and this is
    // one promise on top of opossum's, on every upstream call.
    return (this.cb.fire(fn, clientGone) as Promise<T>).catch(this.rejected);
  }

  /** An open breaker's refusal as a `breaker_open` ProviderError; any other error as it is. */
  private readonly rejected = (err: unknown): never => {
    if ((err as { code?: string }).code === 'EOPENBREAKER')
      throw new ProviderError(
        'breaker_open',
        `breaker open for provider "${this.provider}" model "${this.model}"`,
        { retryAfter: this.secondsUntilHalfOpen() },
      );
    throw err;
  };

  /**
   * Like `run`, for streams: resolves with `start`'s value (the first chunk) but keeps the breaker call open until
   * `settle` is called when the stream ends, with the error if it broke. So a stream that breaks mid-way counts as
   * one failure (not a success plus a failure), and a half-open probe covers the whole stream.
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
    this.run(async () => {
      started(await start());
      await ended;
    }, clientGone).catch((e) => failed(e)); // after the start resolved, a late rejection only feeds the breaker
    return { value: await startedP, settle };
  }

  /**
   * Seconds until an open breaker lets a probe through. While half-open with the probe running, other calls are
   * refused too; the probe settles within one request, so "soon" (the smallest wait) is the honest answer.
   */
  secondsUntilHalfOpen(now = Date.now()): number {
    if (!this.cb.opened) return 0;
    return Math.max(0, (this.openedAt + this.settings.resetTimeoutMs - now) / 1000);
  }

  /** No longer on the board: timers stopped, and `run` passes calls through unguarded from now on. */
  get retired(): boolean {
    return this.retiredFlag;
  }

  retire(): void {
    this.retiredFlag = true;
    this.cb.shutdown();
  }

  shutdown(): void {
    this.retire();
  }
}

/** Which breaker: a provider name and the upstream model id it is called with. */
export interface BreakerId {
  provider: string;
  model: string;
}

const keyOf = (provider: string, model: string) => `${provider}\u0000${model}`;

/**
 * All breakers of a process, keyed by provider name + upstream model. A new config version with the same settings
 * keeps the breaker (and its open state); changed settings replace it.
 */
export class BreakerBoard extends EventEmitter<{ state: [BreakerStateChange]; removed: [BreakerId] }> {
  private readonly breakers = new Map<string, Breaker>();

  get(provider: string, model: string, settings: BreakerSettings): Breaker {
    const key = keyOf(provider, model);
    const existing = this.breakers.get(key);
    if (existing && sameSettings(existing.settings, settings)) return existing;
    const wasOpen = existing !== undefined && existing.state !== 'closed';
    existing?.retire();
    const b = new Breaker(provider, model, { ...settings }, (state) =>
      this.emit('state', { provider, model, state }),
    );
    this.breakers.set(key, b);
    // A replaced breaker starts closed; say so, or an exported "open" gauge would stick.
    if (wasOpen) this.emit('state', { provider, model, state: 'closed' });
    return b;
  }

  /**
   * Drops every breaker not in `keep` (providers or models gone from the config), emitting `removed` for each, so
   * the board and its metrics do not grow with every provider a config ever named. Returns what was dropped.
   */
  retain(keep: Iterable<BreakerId>): BreakerId[] {
    const wanted = new Set<string>();
    for (const k of keep) wanted.add(keyOf(k.provider, k.model));
    const removed: BreakerId[] = [];
    for (const [key, b] of this.breakers) {
      if (wanted.has(key)) continue;
      this.breakers.delete(key);
      b.retire();
      const id = { provider: b.provider, model: b.model };
      removed.push(id);
      this.emit('removed', id);
    }
    return removed;
  }

  /** Current state of every breaker, for a metrics collector. */
  states(): BreakerStateChange[] {
    return [...this.breakers.values()].map((b) => ({ provider: b.provider, model: b.model, state: b.state }));
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
