/**
 * Pure: ModelRoute.status.routing from the sidecars' routing reports, and the Events a change of it deserves.
 *
 *   routingStatusOf(deltas, now, windowSeconds, baseline?): RoutingStatus | undefined
 *     sums the deltas that ended inside the window; share by tier, escalations per request, mean feedback;
 *     `drift` against the same sums over the window before (`baseline` deltas), when it had traffic
 *   routingEvents(previous, next, monitoring): RoutingEvent[]
 *     a Warning when the escalation rate goes above spec.monitoring.maxEscalationRate, or the tier distribution
 *     drifts more than maxTierShareDrift, on the crossing only (a rate that stays high is one Event, not one per
 *     reconcile); a Normal Event when it comes back within the bound; nothing below MIN_REQUESTS requests,
 *     where one bad answer is a 5% swing
 *   RoutingBook: the deltas per namespace/route, bounded by age and count; status() and totalsSince() over them
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
  reason: 'EscalationRateHigh' | 'EscalationRateNormal' | 'RoutingDrift' | 'RoutingDriftResolved';
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
  if (wasHigh && next.escalationRate <= monitoring.maxEscalationRate)
    out.push({
      type: 'Normal',
      reason: 'EscalationRateNormal',
      message: `escalation rate ${pct(next.escalationRate)} over the last ${next.windowSeconds}s (${next.requests} requests) is back within spec.monitoring.maxEscalationRate ${pct(monitoring.maxEscalationRate)}`,
    });
  const drifted = (s: RoutingStatus | undefined) =>
    s?.drift !== undefined && s.drift > monitoring.maxTierShareDrift;
  // Recovered only when a baseline says so: a drift that can no longer be computed is not a drift that ended.
  if (drifted(previous) && next.drift !== undefined && !drifted(next))
    out.push({
      type: 'Normal',
      reason: 'RoutingDriftResolved',
      message: `tier shares ${JSON.stringify(next.shareByTier)} are within spec.monitoring.maxTierShareDrift ${pct(monitoring.maxTierShareDrift)} of the window before again`,
    });
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

/** Deltas of one sidecar whose intervals end in the same minute are merged into one: memory per route is bounded by
 * sidecars x minutes of the two windows kept, not by how often sidecars report (every second). */
export const BUCKET_MS = 60_000;

/** What a route's sidecars routed over some interval (online calibration's input). */
export interface RoutingTotals {
  requests: number;
  escalations: number;
  byTier: Record<string, number>;
}

interface RouteBook {
  /** Merged deltas by `${sidecarId} ${minute}` (and the cut, once set); insertion order is time order. */
  merged: Map<string, RoutingDelta>;
  /** Deltas from this time on are not merged into earlier ones: totalsSince(cutAt) counts exactly them. */
  cutAt: number;
  /** Per sidecar, the end of the last delta taken: a sidecar's deltas follow each other, so one starting before it
   * is a resend of a usage batch whose answer was lost. */
  lastTo: Map<string, number>;
}

/**
 * Deltas per namespace and route, merged per sidecar and minute; older than `keepMs` (or than the two windows
 * status() covers) or past `maxPerRoute` merged entries (oldest first) they are dropped.
 */
export class RoutingBook {
  private readonly byKey = new Map<string, RouteBook>();
  private readonly computed = new Map<string, { at: number; windowSeconds: number; value?: RoutingStatus }>();
  private readonly totals = new Map<string, { at: number; since: number; value: RoutingTotals }>();
  /** When each route last got a delta: news the held status does not include yet. */
  private readonly lastAdd = new Map<string, number>();
  constructor(
    private readonly keepMs: number,
    private readonly maxPerRoute = 10_000,
    /** status() recomputes at most this often per route (see there). */
    readonly refreshMs = 10_000,
  ) {}

  /** A delta that starts before the previous one of its sidecar ended (a resent usage batch) is not counted again. */
  add(namespace: string, d: RoutingDelta, now: number): void {
    const key = `${namespace}/${d.route}`;
    let book = this.byKey.get(key);
    if (!book) {
      book = { merged: new Map(), cutAt: Number.NEGATIVE_INFINITY, lastTo: new Map() };
      this.byKey.set(key, book);
    }
    if (d.from < (book.lastTo.get(d.sidecarId) ?? Number.NEGATIVE_INFINITY)) return;
    book.lastTo.set(d.sidecarId, d.to);
    this.lastAdd.set(key, now);
    const minute = Math.floor(d.to / BUCKET_MS);
    // A delta that began before the cut merges with the buckets from before it; one after it never does.
    const slot =
      Number.isFinite(book.cutAt) && d.from >= book.cutAt
        ? `${d.sidecarId} ${minute} ${book.cutAt}`
        : `${d.sidecarId} ${minute}`;
    const m = book.merged.get(slot);
    if (m) {
      for (const [tier, n] of Object.entries(d.requests)) m.requests[tier] = (m.requests[tier] ?? 0) + n;
      m.escalations += d.escalations;
      m.feedbackCount += d.feedbackCount;
      m.feedbackSum += d.feedbackSum;
      m.from = Math.min(m.from, d.from);
      m.to = Math.max(m.to, d.to);
    } else book.merged.set(slot, { ...d, requests: { ...d.requests } });
    prune(book, now - this.keepMs, this.maxPerRoute);
  }

  deltas(namespace: string, route: string): readonly RoutingDelta[] {
    return [...(this.byKey.get(`${namespace}/${route}`)?.merged.values() ?? [])];
  }

  /**
   * routingStatusOf over this route's deltas, recomputed at most every `refreshMs`. The figures move with the
   * clock (the window slides), so a fresh one at every reconcile would make each status write's own informer
   * echo write again; held for an interval, the echo finds the status it wrote. Bounds writes per route too.
   */
  status(namespace: string, route: string, windowSeconds: number, now: number): RoutingStatus | undefined {
    const key = `${namespace}/${route}`;
    const c = this.computed.get(key);
    if (c && c.windowSeconds === windowSeconds && now >= c.at && now - c.at < this.refreshMs) return c.value;
    // Nothing older than the baseline window is ever read again.
    const book = this.byKey.get(key);
    if (book) prune(book, now - 2 * windowSeconds * 1000, this.maxPerRoute);
    const value = routingStatusOf(this.deltas(namespace, route), now, windowSeconds);
    this.computed.set(key, { at: now, windowSeconds, ...(value ? { value } : {}) });
    return value;
  }

  /**
   * Sums of this route's deltas that started at or after `sinceMs` (and ended by `now`): the online calibration's
   * figures since its last move. From the first call with a `sinceMs` on, later deltas are no longer merged into
   * buckets that began before it. Held for `refreshMs` like status(), so the calibration status it feeds does not
   * change between two passes either.
   */
  totalsSince(namespace: string, route: string, sinceMs: number, now: number): RoutingTotals {
    const key = `${namespace}/${route}`;
    const c = this.totals.get(key);
    if (c && c.since === sinceMs && now >= c.at && now - c.at < this.refreshMs) return c.value;
    const book = this.byKey.get(key);
    if (book && sinceMs <= now && sinceMs > book.cutAt) book.cutAt = sinceMs;
    const s = sum(
      this.deltas(namespace, route).filter((d) => d.from >= sinceMs),
      Number.NEGATIVE_INFINITY,
      now,
    );
    const value: RoutingTotals = {
      requests: s.requests,
      escalations: s.escalations,
      byTier: Object.fromEntries(s.byTier),
    };
    this.totals.set(key, { at: now, since: sinceMs, value });
    return value;
  }

  /**
   * Milliseconds until status() of this route would show deltas it does not include yet; undefined when it has no
   * news, or was never computed (the next reconcile computes it). The operator schedules a reconcile by it, so the
   * last reports of a burst reach the status without waiting for more traffic.
   */
  dueIn(namespace: string, route: string, now: number): number | undefined {
    const key = `${namespace}/${route}`;
    const added = this.lastAdd.get(key);
    const c = this.computed.get(key);
    if (added === undefined || !c || added < c.at) return undefined;
    return Math.max(0, c.at + this.refreshMs - now);
  }

  /** A new leader starts from what the sidecars report to it (status.routing keeps the last figures until then). */
  clear(): void {
    this.byKey.clear();
    this.computed.clear();
    this.totals.clear();
    this.lastAdd.clear();
  }
}

function prune(book: RouteBook, before: number, max: number): void {
  for (const [slot, d] of book.merged) {
    if (d.to > before && book.merged.size <= max) break;
    book.merged.delete(slot);
  }
  // Sidecars gone quiet: their resend guard is older than anything kept.
  if (book.lastTo.size > 2 * max || book.lastTo.size > 1_000)
    for (const [id, to] of book.lastTo) if (to <= before) book.lastTo.delete(id);
}
