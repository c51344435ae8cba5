/**
 * Spending allowances: the leader hands each sidecar a slice of a budget's remaining money and remembers what
 * is still outstanding, so the sum of slices never exceeds what is left. Pure bookkeeping; time is passed in.
 */

export interface GrantPolicy {
  /** Largest slice handed out at once. */
  capUSD: number;
  /** Below this a slice is not worth a round trip; the tail of a budget is handed out in slices this big. */
  minUSD: number;
  /** How long a sidecar may spend a slice; the leader keeps counting it `graceMs` longer (reports lag). */
  ttlMs: number;
  graceMs: number;
}

export const defaultGrantPolicy: GrantPolicy = { capUSD: 1, minUSD: 0.001, ttlMs: 30_000, graceMs: 5_000 };

/** min(unreserved / sidecars, cap), with the tail handed out in `minUSD` pieces instead of ever-smaller ones. */
export function grantSize(unreservedUSD: number, sidecars: number, policy: GrantPolicy): number {
  if (unreservedUSD <= 0) return 0;
  const share = Math.min(unreservedUSD / Math.max(1, sidecars), policy.capUSD);
  if (share >= policy.minUSD) return share;
  return Math.min(unreservedUSD, policy.minUSD);
}

interface Outstanding {
  usd: number;
  expiresAt: number;
}

export interface Grant {
  grantUSD: number;
  ttlMs: number;
  /** Limit minus recorded spend, before this grant; what the sidecar may show. */
  remainingUSD: number;
}

export class GrantBook {
  /** budget key -> sidecarId -> money granted and not yet reported as spent. */
  private readonly book = new Map<string, Map<string, Outstanding>>();

  constructor(private readonly policy: GrantPolicy = defaultGrantPolicy) {}

  outstanding(budget: string, now: number, except?: string): number {
    let sum = 0;
    const m = this.book.get(budget);
    if (!m) return 0;
    for (const [id, o] of m) {
      if (o.expiresAt <= now) m.delete(id);
      else if (id !== except) sum += o.usd;
    }
    return sum;
  }

  grant(
    budget: string,
    sidecarId: string,
    limitUSD: number,
    spentUSD: number,
    sidecars: number,
    now: number,
  ): Grant {
    const remainingUSD = limitUSD - spentUSD;
    const unreserved = remainingUSD - this.outstanding(budget, now);
    const grantUSD = grantSize(unreserved, sidecars, this.policy);
    let m = this.book.get(budget);
    if (!m) {
      m = new Map();
      this.book.set(budget, m);
    }
    const old = m.get(sidecarId);
    if (grantUSD > 0 || old) {
      m.set(sidecarId, {
        usd: (old && old.expiresAt > now ? old.usd : 0) + grantUSD,
        expiresAt: now + this.policy.ttlMs + this.policy.graceMs,
      });
    }
    return { grantUSD, ttlMs: this.policy.ttlMs, remainingUSD };
  }

  /** Reported spend moves money from "outstanding" to "spent", which the ledger now counts. */
  spent(budget: string, sidecarId: string, usd: number): void {
    const o = this.book.get(budget)?.get(sidecarId);
    if (o) o.usd = Math.max(0, o.usd - usd);
  }

  /** A new window or a changed limit invalidates every slice. */
  reset(budget: string): void {
    this.book.delete(budget);
  }

  clear(): void {
    this.book.clear();
  }
}
