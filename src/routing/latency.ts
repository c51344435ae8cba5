/**
 * Latency-aware selection, pure parts: decayed per-target observations and the SLO filter over a failover order.
 *
 *   new LatencyBoard({ halfLifeMs, maxKeys }).observe(key, { ttftMs?, totalMs, outputTokens? }, now)
 *     .view(key, now): LatencyView | undefined       p95 TTFT, p95 total, tokens/s, decayed sample weight
 *   sloOrder(targets, slo, view, minSamples): SloOrder   targets that meet the SLO first, the rest skipped with why
 *   sloFor(spec, task): Slo | undefined                   the route's spec.slo, with a task type's limits if it has any
 *   latencyKey(provider, upstreamModel): string
 *
 * Observations decay exponentially (half-life), so a provider that was slow an hour ago and is fast now is judged by
 * now. Quantiles come from a decayed histogram over fixed log-spaced buckets: constant memory and time per target,
 * answers within one bucket (~15%) of the exact quantile, which is plenty for "is p95 over 800 ms".
 */

import type { ModelRouteSpec } from '../api/modelroute.js';

/** Bucket upper bounds in ms: 5 ms to ~10 min, each 15% above the previous. */
const BOUNDS: number[] = (() => {
  const out: number[] = [];
  for (let b = 5; b < 600_000; b *= 1.15) out.push(b);
  out.push(Number.POSITIVE_INFINITY);
  return out;
})();

function bucketOf(ms: number): number {
  // Binary search: the first bound >= ms.
  let lo = 0;
  let hi = BOUNDS.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (BOUNDS[mid]! >= ms) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** A histogram whose weights decay with time: weight of an observation made `dt` ago is 2^(-dt / halfLife). */
class DecayedHistogram {
  private readonly weights = new Float64Array(BOUNDS.length);
  private total = 0;
  private at = 0;

  constructor(private readonly halfLifeMs: number) {}

  private decayTo(now: number): void {
    if (now <= this.at) return;
    const f = 2 ** (-(now - this.at) / this.halfLifeMs);
    if (f < 1) {
      for (let i = 0; i < this.weights.length; i++) this.weights[i]! *= f;
      this.total *= f;
    }
    this.at = now;
  }

  add(ms: number, now: number): void {
    this.decayTo(now);
    this.weights[bucketOf(Math.max(0, ms))]! += 1;
    this.total += 1;
  }

  weight(now: number): number {
    this.decayTo(now);
    return this.total;
  }

  /** Upper bound of the bucket holding quantile q; undefined when empty. */
  quantile(q: number, now: number): number | undefined {
    this.decayTo(now);
    if (this.total <= 0) return undefined;
    const want = q * this.total;
    let acc = 0;
    for (let i = 0; i < this.weights.length; i++) {
      acc += this.weights[i]!;
      if (acc >= want) return BOUNDS[i] === Number.POSITIVE_INFINITY ? BOUNDS[i - 1] : BOUNDS[i];
    }
    return BOUNDS[BOUNDS.length - 2];
  }
}

/** Exponentially time-decayed mean, same half-life as the histograms. */
class DecayedMean {
  private sum = 0;
  private weight = 0;
  private at = 0;
  constructor(private readonly halfLifeMs: number) {}
  add(x: number, now: number): void {
    this.decay(now);
    this.sum += x;
    this.weight += 1;
  }
  value(now: number): number | undefined {
    this.decay(now);
    return this.weight > 0 ? this.sum / this.weight : undefined;
  }
  private decay(now: number): void {
    if (now <= this.at) return;
    const f = 2 ** (-(now - this.at) / this.halfLifeMs);
    this.sum *= f;
    this.weight *= f;
    this.at = now;
  }
}

export interface Observation {
  /** Time to the first byte (streams) or to the response headers; absent when not measured. */
  ttftMs?: number;
  /** Time to the whole answer. */
  totalMs: number;
  /** Completion tokens, for tokens/s. */
  outputTokens?: number;
}

export interface LatencyView {
  ttftP95Ms: number | undefined;
  totalP95Ms: number;
  tokensPerSecond: number | undefined;
  /** Decayed number of observations behind the figures. */
  samples: number;
}

interface Entry {
  ttft: DecayedHistogram;
  total: DecayedHistogram;
  tps: DecayedMean;
}

export interface LatencyBoardOptions {
  halfLifeMs?: number;
  /** Bound on tracked targets; the least recently observed goes first. */
  maxKeys?: number;
}

/** Observations per target key (provider + upstream model). */
export class LatencyBoard {
  private readonly entries = new Map<string, Entry>();
  readonly halfLifeMs: number;
  private readonly maxKeys: number;

  constructor(opts: LatencyBoardOptions = {}) {
    this.halfLifeMs = opts.halfLifeMs ?? 60_000;
    this.maxKeys = opts.maxKeys ?? 1024;
  }

  observe(key: string, o: Observation, now: number): void {
    let e = this.entries.get(key);
    if (e) this.entries.delete(key);
    else {
      e = {
        ttft: new DecayedHistogram(this.halfLifeMs),
        total: new DecayedHistogram(this.halfLifeMs),
        tps: new DecayedMean(this.halfLifeMs),
      };
      if (this.entries.size >= this.maxKeys) this.entries.delete(this.entries.keys().next().value as string);
    }
    // Re-inserted: Map order is then least-recently-observed first, which is what eviction wants.
    this.entries.set(key, e);
    if (o.ttftMs !== undefined) e.ttft.add(o.ttftMs, now);
    e.total.add(o.totalMs, now);
    if (o.outputTokens !== undefined && o.outputTokens > 0 && o.totalMs > 0) {
      // Generation speed: the time after the first byte, when known, is what the tokens took.
      const genMs = o.ttftMs !== undefined && o.totalMs > o.ttftMs ? o.totalMs - o.ttftMs : o.totalMs;
      e.tps.add((o.outputTokens * 1000) / genMs, now);
    }
  }

  view(key: string, now: number): LatencyView | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    const totalP95Ms = e.total.quantile(0.95, now);
    if (totalP95Ms === undefined) return undefined;
    return {
      ttftP95Ms: e.ttft.quantile(0.95, now),
      totalP95Ms,
      tokensPerSecond: e.tps.value(now),
      samples: e.total.weight(now),
    };
  }

  get size(): number {
    return this.entries.size;
  }
}

export const sloPolicies = ['cheapest', 'first', 'fail'] as const;
export type SloPolicy = (typeof sloPolicies)[number];

export interface Slo {
  maxTTFTMs?: number | undefined;
  maxLatencyMs?: number | undefined;
  policy: SloPolicy;
}

export interface SloTarget {
  /** Key into the LatencyBoard (provider + upstream model). */
  key: string;
  /** USD per 1M output tokens of the target's model, for the `cheapest` policy. */
  outputPerMTok: number;
}

export interface SloSkip<T> {
  target: T;
  why: 'ttft' | 'latency';
  p95Ms: number;
  limitMs: number;
}

export type SloOrder<T> =
  /** `order`: targets that meet the SLO (or have too few observations to judge), in their original order. */
  | { kind: 'ok'; order: T[]; skipped: SloSkip<T>[] }
  /** None meets it: `order` is what the policy says to try anyway (cheapest first, or the original order). */
  | { kind: 'none-meets'; order: T[]; skipped: SloSkip<T>[]; policy: SloPolicy };

/**
 * Moves targets whose recent p95 breaks the SLO out of the failover order. A target with fewer than `minSamples`
 * (decayed) observations is kept: unknown is not slow, and skipping it would mean never learning otherwise.
 */
export function sloOrder<T extends SloTarget>(
  targets: readonly T[],
  slo: Slo,
  view: (key: string) => LatencyView | undefined,
  minSamples: number,
): SloOrder<T> {
  const ok: T[] = [];
  const skipped: SloSkip<T>[] = [];
  for (const t of targets) {
    const v = view(t.key);
    if (!v || v.samples < minSamples) {
      ok.push(t);
      continue;
    }
    if (slo.maxTTFTMs !== undefined && v.ttftP95Ms !== undefined && v.ttftP95Ms > slo.maxTTFTMs) {
      skipped.push({ target: t, why: 'ttft', p95Ms: v.ttftP95Ms, limitMs: slo.maxTTFTMs });
      continue;
    }
    if (slo.maxLatencyMs !== undefined && v.totalP95Ms > slo.maxLatencyMs) {
      skipped.push({ target: t, why: 'latency', p95Ms: v.totalP95Ms, limitMs: slo.maxLatencyMs });
      continue;
    }
    ok.push(t);
  }
  if (ok.length > 0) return { kind: 'ok', order: ok, skipped };
  const order =
    slo.policy === 'cheapest'
      ? [...targets].sort((a, b) => a.outputPerMTok - b.outputPerMTok)
      : slo.policy === 'first'
        ? [...targets]
        : [];
  return { kind: 'none-meets', order, skipped, policy: slo.policy };
}

export function latencyKey(provider: string, upstreamModel: string): string {
  return `${provider}/${upstreamModel}`;
}

export function sloFor(spec: ModelRouteSpec, task: string | undefined): Slo | undefined {
  const s = spec.slo;
  if (!s) return undefined;
  const t =
    task !== undefined && s.taskTypes && Object.hasOwn(s.taskTypes, task) ? s.taskTypes[task] : undefined;
  const limits = t ?? s;
  if (limits.maxTTFTMs === undefined && limits.maxLatencyMs === undefined) return undefined;
  return { maxTTFTMs: limits.maxTTFTMs, maxLatencyMs: limits.maxLatencyMs, policy: s.policy };
}
