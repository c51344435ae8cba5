/**
 * What this sidecar counts for the operator's ModelRoute.status.routing: per route, requests by the tier first
 * chosen, escalations, and feedback, since the last drain. Counts only: no prompt, user or request id.
 *
 *   new RoutingTally(now)
 *     .request(route, initialTier, escalations)   .escalation(route)   .feedback(route, score)
 *     .drain(sidecarId, now): RoutingDelta[]      one delta per route with anything counted; starts a new interval
 */
import type { RoutingDelta } from '../operator/routing-status.js';

interface Counts {
  requests: Record<string, number>;
  escalations: number;
  feedbackCount: number;
  feedbackSum: number;
}

export class RoutingTally {
  private from: number;
  private byRoute = new Map<string, Counts>();

  constructor(now: number) {
    this.from = now;
  }

  private counts(route: string): Counts {
    let c = this.byRoute.get(route);
    if (!c) {
      c = { requests: {}, escalations: 0, feedbackCount: 0, feedbackSum: 0 };
      this.byRoute.set(route, c);
    }
    return c;
  }

  request(route: string, initialTier: string, escalations: number): void {
    const c = this.counts(route);
    c.requests[initialTier] = (c.requests[initialTier] ?? 0) + 1;
    c.escalations += escalations;
  }

  escalation(route: string): void {
    this.counts(route).escalations++;
  }

  feedback(route: string, score: number): void {
    const c = this.counts(route);
    c.feedbackCount++;
    c.feedbackSum += score;
  }

  drain(sidecarId: string, now: number): RoutingDelta[] {
    // A wall clock stepped back must not make an interval that ends before it starts (the operator drops those).
    const to = Math.max(now, this.from);
    const out = [...this.byRoute].map(([route, c]) => ({ sidecarId, route, from: this.from, to, ...c }));
    this.byRoute = new Map();
    this.from = to;
    return out;
  }
}
