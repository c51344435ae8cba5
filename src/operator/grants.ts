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

/**
 * min(unreserved / sidecars, cap), but never below what the sidecar says one request needs (`wantUSD`, capped) or
 * `minUSD`: the tail of a budget is handed out in pieces that can each pay for a request, instead of ever-smaller
 * slices spread over every sidecar, none of which could (money stranded until the slices expire).
 */
export function grantSize(unreservedUSD: number, sidecars: number, policy: GrantPolicy, wantUSD = 0): number {
  if (unreservedUSD <= 0) return 0;
  const share = Math.min(unreservedUSD / Math.max(1, sidecars), policy.capUSD);
  const floor = Math.max(policy.minUSD, Math.min(wantUSD, policy.capUSD));
  if (share >= floor) return share;
  return Math.min(unreservedUSD, floor);
}

/** Rounded up to a nano-dollar, so the durable copy never claims less than is outstanding. */
function roundUpNano(usd: number): number {
  return Math.ceil(usd * 1e9) / 1e9;
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
      // A debt (an overdrawn slice) frees nothing for the others: that money is already spent.
      else if (id !== except) sum += Math.max(0, o.usd);
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
    wantUSD = 0,
  ): Grant {
    const p = this.preview(budget, sidecarId, limitUSD, spentUSD, sidecars, now, wantUSD);
    p.commit();
    return p.grant;
  }

  /**
   * The grant `grant` would make, the live slices with it (to persist first), and `commit` to book it once they
   * are durable. Nothing changes until `commit`.
   */
  preview(
    budget: string,
    sidecarId: string,
    limitUSD: number,
    spentUSD: number,
    sidecars: number,
    now: number,
    wantUSD = 0,
  ): { grant: Grant; entries: Record<string, { usd: number; expiresAt: number }>; commit: () => void } {
    const remainingUSD = limitUSD - spentUSD;
    const unreserved = remainingUSD - this.outstanding(budget, now);
    const grantUSD = grantSize(unreserved, sidecars, this.policy, wantUSD);
    const held = this.book.get(budget)?.get(sidecarId);
    const old = held && held.expiresAt > now ? held : undefined;
    // A zero grant extends nothing: the sidecar keeps what it holds until that slice's own expiry, so the durable
    // copy (written only for real grants) stays exact.
    const next: Outstanding | undefined =
      grantUSD > 0
        ? { usd: (old?.usd ?? 0) + grantUSD, expiresAt: now + this.policy.ttlMs + this.policy.graceMs }
        : undefined;
    const ttlMs = next || !old ? this.policy.ttlMs : Math.max(0, old.expiresAt - this.policy.graceMs - now);
    const entries = this.entries(budget, now);
    if (next && next.usd !== 0)
      entries[sidecarId] = { usd: roundUpNano(next.usd), expiresAt: next.expiresAt };
    return {
      grant: { grantUSD, ttlMs, remainingUSD },
      entries,
      commit: () => {
        if (!next) return;
        let m = this.book.get(budget);
        if (!m) {
          m = new Map();
          this.book.set(budget, m);
        }
        m.set(sidecarId, next);
      },
    };
  }

  /** The live slices as they will be once `usd` reported by `sidecarId` is counted as spent. */
  entriesAfterSpend(
    budget: string,
    sidecarId: string,
    usd: number,
    now: number,
  ): Record<string, { usd: number; expiresAt: number }> {
    const entries = this.entries(budget, now);
    const e = entries[sidecarId];
    if (e) {
      const left = roundUpNano(e.usd - usd);
      if (left !== 0) entries[sidecarId] = { ...e, usd: left };
      else delete entries[sidecarId];
    }
    return entries;
  }

  /**
   * Reported spend moves money from "outstanding" to "spent", which the ledger now counts. It may go below zero:
   * a sidecar whose requests cost more than their estimates owes that, and pays it back from its next slice, so
   * the book must not forgive it (that would count money as held that the sidecar can no longer spend).
   */
  spent(budget: string, sidecarId: string, usd: number): void {
    const o = this.book.get(budget)?.get(sidecarId);
    if (o) o.usd -= usd;
  }

  /** The live slices of a budget, as the durable copy in `status.grants` holds them. */
  entries(budget: string, now: number): Record<string, { usd: number; expiresAt: number }> {
    this.outstanding(budget, now);
    const out: Record<string, { usd: number; expiresAt: number }> = {};
    for (const [id, o] of this.book.get(budget) ?? [])
      if (o.usd !== 0) out[id] = { usd: roundUpNano(o.usd), expiresAt: o.expiresAt };
    return out;
  }

  /**
   * Takes over slices another leader handed out (from `status.grants`), keeping the larger claim where both know a
   * sidecar: a new leader must never think less is outstanding than really is.
   */
  load(
    budget: string,
    entries: Record<string, { usd: number; expiresAt: number }> | undefined,
    now: number,
  ): void {
    let m = this.book.get(budget);
    if (!m) {
      m = new Map();
      this.book.set(budget, m);
    }
    for (const [id, e] of Object.entries(entries ?? {})) {
      if (e.expiresAt <= now) continue;
      const mine = m.get(id);
      if (!mine || mine.usd < e.usd)
        m.set(id, { usd: e.usd, expiresAt: Math.max(e.expiresAt, mine?.expiresAt ?? 0) });
    }
  }

  /** A copy of one budget's slices, to `restore` when a write that booked more of them fails. */
  snapshot(budget: string): Map<string, Outstanding> | undefined {
    const m = this.book.get(budget);
    return m ? new Map([...m].map(([k, v]) => [k, { ...v }])) : undefined;
  }

  restore(budget: string, saved: Map<string, Outstanding> | undefined): void {
    if (saved) this.book.set(budget, saved);
    else this.book.delete(budget);
  }

  /** A new window or a changed limit invalidates every slice. */
  reset(budget: string): void {
    this.book.delete(budget);
  }

  clear(): void {
    this.book.clear();
  }
}
