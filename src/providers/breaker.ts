/** Circuit breakers per provider + upstream model (opossum), kept across config versions, with state-change events. */
import { EventEmitter } from 'node:events';
import CircuitBreaker from 'opossum';
import { ProviderError } from './types.js';

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
 * Wraps an error that is not the upstream's fault (the client went away), so the breaker does not count it.
 * Unwrapped again before anyone else sees it.
 */
class NotUpstreamFault extends Error {
  constructor(readonly inner: unknown) {
    super('not the upstream fault');
  }
}

/** Failures a breaker must not count: the caller's own mistakes and the caller going away. */
function ignoredByBreaker(err: unknown): boolean {
  return err instanceof NotUpstreamFault || (err instanceof ProviderError && err.reason === 'client_error');
}

type Action = () => Promise<unknown>;

/** One breaker. `run` rejects at once with a `breaker_open` ProviderError while open. */
export class Breaker {
  private readonly cb: CircuitBreaker<[Action], unknown>;

  constructor(
    readonly provider: string,
    readonly model: string,
    readonly settings: BreakerSettings,
    onState: (s: BreakerState) => void,
  ) {
    this.cb = new CircuitBreaker<[Action], unknown>((fn: Action) => fn(), {
      // Deadlines are ours (per attempt, first byte); opossum's own timeout would race them with a worse reason.
      timeout: false,
      errorThresholdPercentage: settings.errorThresholdPercentage,
      volumeThreshold: settings.volumeThreshold,
      resetTimeout: settings.resetTimeoutMs,
      rollingCountTimeout: settings.rollingWindowMs,
      rollingCountBuckets: 10,
      rollingPercentilesEnabled: false,
      errorFilter: ignoredByBreaker,
    });
    this.cb.on('open', () => onState('open'));
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
  async run<T>(fn: () => Promise<T>, clientGone: () => boolean = () => false): Promise<T> {
    try {
      return (await this.cb.fire(async () => {
        try {
          return await fn();
        } catch (err) {
          throw clientGone() ? new NotUpstreamFault(err) : err;
        }
      })) as T;
    } catch (err) {
      if (err instanceof NotUpstreamFault) throw err.inner;
      if ((err as { code?: string }).code === 'EOPENBREAKER')
        throw new ProviderError(
          'breaker_open',
          `breaker open for provider "${this.provider}" model "${this.model}"`,
        );
      throw err;
    }
  }

  /** Counts a failure that happened after `run` resolved (a stream that broke mid-way). */
  recordLateFailure(): void {
    // opossum has no public "record failure" call; firing a failing action is the supported way to count one.
    this.cb.fire(() => Promise.reject(new Error('stream broke after the first chunk'))).catch(() => {});
  }

  shutdown(): void {
    this.cb.shutdown();
  }
}

/**
 * All breakers of a process, keyed by provider name + upstream model. A new config version with the same settings
 * keeps the breaker (and its open state); changed settings replace it.
 */
export class BreakerBoard extends EventEmitter<{ state: [BreakerStateChange] }> {
  private readonly breakers = new Map<string, Breaker>();

  get(provider: string, model: string, settings: BreakerSettings): Breaker {
    const key = `${provider}\u0000${model}`;
    const existing = this.breakers.get(key);
    if (existing && sameSettings(existing.settings, settings)) return existing;
    existing?.shutdown();
    const b = new Breaker(provider, model, { ...settings }, (state) =>
      this.emit('state', { provider, model, state }),
    );
    this.breakers.set(key, b);
    if (existing && existing.state !== 'closed') this.emit('state', { provider, model, state: 'closed' });
    return b;
  }

  /** Current state of every breaker, for a metrics collector. */
  states(): BreakerStateChange[] {
    return [...this.breakers.values()].map((b) => ({ provider: b.provider, model: b.model, state: b.state }));
  }

  shutdown(): void {
    for (const b of this.breakers.values()) b.shutdown();
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
