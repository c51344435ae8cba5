/**
 * What admitted requests still in flight may spend: per budget and per (budget, user), the sum of their pre-call
 * estimates. Spend is booked only after the call, so without this every request that arrives while others are in
 * flight sees the same booked total and passes the gate (20 concurrent requests against a 1 USD budget all served).
 *
 *   fits(limit, booked, reserved, estimateUSD): boolean      admission: booked + reserved + estimate within limit
 *   new ReservedTotals()
 *     .usd(budget, user?): number                             reserved now (user: that user's share of the budget)
 *     .othersUSD(budget, held): number                        reserved by requests other than the one holding `held`
 *     .add(r) / .remove(r)                                    a reservation taken / settled (booked or released)
 *
 * Totals are kept as sums with a count of reservations behind them; a key whose count falls to 0 is dropped, so
 * floating-point residue never accumulates (a leaked cent would block a budget for good) and memory is bounded by the
 * requests in flight. Not reset when a budget window rolls over: the requests in flight still spend, into the new
 * window.
 */
import { nonNegative } from './cost.js';
import type { Reservation } from './types.js';

/** Slack for summed floating-point amounts (five 0.2 USD estimates must fit a 1 USD limit). */
const EPSILON_USD = 1e-9;

/** Whether a request estimated at `estimateUSD` may start: what is booked and reserved plus it stays within `limit`. */
export function fits(limit: number, booked: number, reserved: number, estimateUSD: number): boolean {
  return nonNegative(booked) + nonNegative(reserved) + nonNegative(estimateUSD) <= limit + EPSILON_USD;
}

interface Total {
  usd: number;
  count: number;
}

export class ReservedTotals {
  private readonly totals = new Map<string, Total>();

  usd(budget: string, user?: string): number {
    return this.totals.get(key(budget, user))?.usd ?? 0;
  }

  /**
   * What the other requests in flight reserved against `budget`: a request asking for more room (tier promotion)
   * holds reservations of its own, which its further spend replaces rather than adds to, so they are not room taken.
   * `held`: what that request still holds (a settled reservation is already out of the totals).
   */
  othersUSD(budget: string, held: readonly Reservation[]): number {
    let own = 0;
    for (const r of held) if (r.budget === budget) own += nonNegative(r.usd);
    return own === 0 ? this.usd(budget) : Math.max(0, this.usd(budget) - own);
  }

  /** In-flight reservations (namespace-level), for tests and diagnostics. */
  count(budget: string): number {
    return this.totals.get(key(budget))?.count ?? 0;
  }

  add(r: Reservation): void {
    this.change(key(r.budget), nonNegative(r.usd), 1);
    if (r.user !== undefined) this.change(key(r.budget, r.user), nonNegative(r.usd), 1);
  }

  remove(r: Reservation): void {
    this.change(key(r.budget), -nonNegative(r.usd), -1);
    if (r.user !== undefined) this.change(key(r.budget, r.user), -nonNegative(r.usd), -1);
  }

  private change(k: string, usd: number, count: number): void {
    const t = this.totals.get(k) ?? { usd: 0, count: 0 };
    t.usd += usd;
    t.count += count;
    if (t.count <= 0) this.totals.delete(k);
    else this.totals.set(k, { usd: Math.max(0, t.usd), count: t.count });
  }
}

/** Budget names are DNS labels, so NUL never occurs in one: the per-user key cannot collide with a budget's. */
function key(budget: string, user?: string): string {
  return user === undefined ? budget : `${budget}\u0000${user}`;
}
