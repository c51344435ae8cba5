/**
 * Pure: ModelRoute.status.routing from the sidecars' routing reports, and the Events a change of it deserves.
 *
 *   routingStatusOf(deltas, now, windowSeconds, baseline?): RoutingStatus | undefined
 *     sums the deltas that ended inside the window; share by tier, escalations per request, mean feedback;
 *     `drift` against the same sums over the window before (`baseline` deltas), when it had traffic
 *   routingEvents(previous, next, monitoring): RoutingEvent[]
 *     a Warning when the escalation rate goes above spec.monitoring.maxEscalationRate, or the tier distribution
 *     drifts more than maxTierShareDrift, on the crossing only (a rate that stays high is one Event, not one per
 *     reconcile); nothing below MIN_REQUESTS requests, where one bad answer is a 5% swing
 *   RoutingBook: the deltas per namespace/route, bounded by age and count
 *
 * A delta is what one sidecar counted for one route over [from, to): requests by the tier first chosen,
 * escalations, feedback count and score sum. No prompt, user or request id ever reaches it.
 */
import type { MonitoringSpec, RoutingStatus } from '../api/modelroute.js';

export interface RoutingDelta {
  sidecarId: string;
  route: string;
  /** Epoch ms. */
  from: number;
  to: number;
  requests: Record<string, number>;
  escalations: number;
  feedbackCount: number;
  feedbackSum: number;
}

export interface RoutingEvent {
  type: 'Warning' | 'Normal';
  reason: 'EscalationRateHigh' | 'RoutingDrift';
  message: string;
}

/** Below this many requests in the window a rate says too little to act on. */
export const MIN_REQUESTS = 20;

interface Sums {
  requests: number;
  byTier: Map<string, number>;
  escalations: number;
  feedbackCount: number;
  feedbackSum: number;
  sidecars: Set<string>;
  from: number;
  to: number;
}

function sum(deltas: Iterable<RoutingDelta>, from: number, to: number): Sums {
  const s: Sums = {
    requests: 0,
    byTier: new Map(),
    escalations: 0,
    feedbackCount: 0,
    feedbackSum: 0,
    sidecars: new Set(),
    from: Number.POSITIVE_INFINITY,
    to: Number.NEGATIVE_INFINITY,
  };
  for (const d of deltas) {
    if (d.to <= from || d.to > to) continue;
    for (const [tier, n] of Object.entries(d.requests)) {
      s.byTier.set(tier, (s.byTier.get(tier) ?? 0) + n);
      s.requests += n;
    }
    s.escalations += d.escalations;
    s.feedbackCount += d.feedbackCount;
    s.feedbackSum += d.feedbackSum;
    s.sidecars.add(d.sidecarId);
    s.from = Math.min(s.from, d.from);
    s.to = Math.max(s.to, d.to);
  }
  return s;
}

const round = (x: number) => Math.round(x * 10_000) / 10_000;

function shares(s: Sums): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [tier, n] of [...s.byTier].sort(([a], [b]) => a.localeCompare(b)))
    out[tier] = s.requests > 0 ? round(n / s.requests) : 0;
  return out;
}

/** Largest absolute change of a tier's share, over the tiers either distribution has. */
export function tierDrift(a: Record<string, number>, b: Record<string, number>): number {
  let max = 0;
  for (const t of new Set([...Object.keys(a), ...Object.keys(b)]))
    max = Math.max(max, Math.abs((a[t] ?? 0) - (b[t] ?? 0)));
  return round(max);
}

export function routingStatusOf(
  deltas: readonly RoutingDelta[],
  now: number,
  windowSeconds: number,
): RoutingStatus | undefined {
  const w = windowSeconds * 1000;
  const cur = sum(deltas, now - w, now);
  if (cur.sidecars.size === 0) return undefined;
  const base = sum(deltas, now - 2 * w, now - w);
  const shareByTier = shares(cur);
  const status: RoutingStatus = {
    windowSeconds,
    from: new Date(Math.max(cur.from, now - w)).toISOString(),
    to: new Date(cur.to).toISOString(),
    requests: cur.requests,
    sidecars: cur.sidecars.size,
    shareByTier,
    escalationRate: cur.requests > 0 ? round(cur.escalations / cur.requests) : 0,
  };
  if (base.requests >= MIN_REQUESTS) status.drift = tierDrift(shareByTier, shares(base));
  if (cur.feedbackCount > 0)
    status.feedback = { count: cur.feedbackCount, mean: round(cur.feedbackSum / cur.feedbackCount) };
  else status.feedback = { count: 0 };
  return status;
}

export function routingEvents(
  previous: RoutingStatus | undefined,
  next: RoutingStatus | undefined,
  monitoring: Pick<MonitoringSpec, 'maxEscalationRate' | 'maxTierShareDrift'>,
): RoutingEvent[] {
  if (!next || next.requests < MIN_REQUESTS) return [];
  const out: RoutingEvent[] = [];
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const wasHigh =
    previous !== undefined &&
    previous.requests >= MIN_REQUESTS &&
    previous.escalationRate > monitoring.maxEscalationRate;
  if (next.escalationRate > monitoring.maxEscalationRate && !wasHigh)
    out.push({
      type: 'Warning',
      reason: 'EscalationRateHigh',
      message:
        `escalation rate ${pct(next.escalationRate)} over the last ${next.windowSeconds}s (${next.requests} requests) ` +
        `is above spec.monitoring.maxEscalationRate ${pct(monitoring.maxEscalationRate)}: the routing threshold is too aggressive for this traffic`,
    });
  const drifted = (s: RoutingStatus | undefined) =>
    s?.drift !== undefined && s.drift > monitoring.maxTierShareDrift;
  if (drifted(next) && !drifted(previous))
    out.push({
      type: 'Warning',
      reason: 'RoutingDrift',
      message:
        `tier shares ${JSON.stringify(next.shareByTier)} moved by up to ${pct(next.drift!)} against the window before, ` +
        `more than spec.monitoring.maxTierShareDrift ${pct(monitoring.maxTierShareDrift)}`,
    });
  return out;
}

/** Deltas per namespace and route; older than `keepMs` or past `maxPerRoute` (oldest first) they are dropped. */
export class RoutingBook {
  private readonly byKey = new Map<string, RoutingDelta[]>();
  constructor(
    private readonly keepMs: number,
    private readonly maxPerRoute = 10_000,
  ) {}

  add(namespace: string, d: RoutingDelta, now: number): void {
    const key = `${namespace}/${d.route}`;
    const list = this.byKey.get(key) ?? [];
    list.push(d);
    const fresh = list.filter((x) => x.to > now - this.keepMs);
    this.byKey.set(key, fresh.length > this.maxPerRoute ? fresh.slice(-this.maxPerRoute) : fresh);
  }

  deltas(namespace: string, route: string): readonly RoutingDelta[] {
    return this.byKey.get(`${namespace}/${route}`) ?? [];
  }
}
