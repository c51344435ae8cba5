/**
 * The sidecar's side of cluster-wide budgets: spends locally only within the slice the operator granted, and asks
 * for the next slice before this one runs out. Implements the BudgetGate's synchronous `Allowance` hook; the
 * network call is injected and always happens off the request path.
 *
 * The operator is not on the routing path: when it cannot be asked (down, unreachable, no leader), the sidecar
 * keeps serving on what it knows — the slice it holds, then a bounded local allowance (`localOverspendUSD`, never
 * more than the budget's last known remaining minus this sidecar's own spend since) — and refuses or downgrades
 * only once that runs out too. A real answer (even "nothing left") ends local mode at once.
 */
import type { AllowanceReply } from '../operator/protocol.js';
import { nonNegative } from './cost.js';
import type { Allowance } from './gate.js';

/** What a sidecar spent on local knowledge during one operator outage, told to the operator when it is back. */
export interface LocalSpend {
  sinceMs: number;
  spentUSD: number;
}

export interface AllowanceListener {
  /** `true` while `budget` is served on local knowledge (the operator could not be asked), `false` once it answers. */
  local?(budget: string, on: boolean): void;
  /** USD spent beyond the operator's slices while it was unreachable (reported when it answers again). */
  localSpent?(budget: string, usd: number): void;
}

export interface AllowanceClientOptions {
  /**
   * Asks the operator for a slice of `budget` (POST /v1/allowance); `local` reports an outage just ended, `wantUSD`
   * what one request here costs (slices smaller than that could pay for nothing).
   */
  request: (budget: string, local?: LocalSpend, wantUSD?: number) => Promise<AllowanceReply>;
  now?: () => number;
  /** Ask for more once the balance falls below this share of the last slice. */
  lowWater?: number;
  /** Stop spending this long before the operator stops counting a slice as ours. */
  expiryMarginMs?: number;
  /** After an empty grant or an error, wait this long before asking again. */
  retryMs?: number;
  /**
   * Most this sidecar may spend per budget beyond its slices while the operator is unreachable (0: refuse at once).
   * Cluster-wide worst case per outage: sidecars x this.
   */
  localOverspendUSD?: number;
  onError?: (budget: string, e: unknown) => void;
  listener?: AllowanceListener;
}

interface Slice {
  balance: number;
  expiresAt: number;
  lastGrant: number;
  inflight: boolean;
  retryAt: number;
  /** Limit minus recorded spend, as the operator last said. */
  remainingUSD: number | undefined;
  /** What this sidecar spent since that answer (the operator's figure does not know it yet). */
  spentSinceReply: number;
  /** Since when the operator could not be asked (undefined while it answers). */
  unreachableSince: number | undefined;
  /** Local allowance added to the balance during this outage (spent or not). */
  minted: number;
  /** Expiry of the operator's slice, kept while local money (which does not expire) is in the balance. */
  sliceExpiresAt: number;
  /** The last non-zero estimate reserved: what one request costs here. */
  requestUSD: number;
  /** What the operator's slice still held when it ran out of time (0 once a request went on credit for it). */
  lapsedUSD: number;
}

export const DEFAULT_LOCAL_OVERSPEND_USD = 1;

export class AllowanceClient implements Allowance {
  private readonly slices = new Map<string, Slice>();
  private readonly now: () => number;
  private readonly listeners: AllowanceListener[] = [];

  constructor(private readonly opts: AllowanceClientOptions) {
    this.now = opts.now ?? Date.now;
    if (opts.listener) this.listeners.push(opts.listener);
  }

  /** Also tell `listener` about local mode (the sidecar's metrics, added once they exist). */
  listen(listener: AllowanceListener): void {
    this.listeners.push(listener);
  }

  private emitLocal(budget: string, on: boolean): void {
    for (const l of this.listeners) l.local?.(budget, on);
  }

  private slice(budget: string): Slice {
    let s = this.slices.get(budget);
    if (!s) {
      s = {
        balance: 0,
        expiresAt: 0,
        lastGrant: 0,
        inflight: false,
        retryAt: 0,
        remainingUSD: undefined,
        spentSinceReply: 0,
        unreachableSince: undefined,
        minted: 0,
        sliceExpiresAt: 0,
        requestUSD: 0,
        lapsedUSD: 0,
      };
      this.slices.set(budget, s);
    }
    // An expired slice is money the operator has handed back to everyone else.
    if (s.expiresAt <= this.now() && s.balance > 0) {
      s.lapsedUSD = s.balance;
      s.balance = 0;
    }
    return s;
  }

  tryReserve(budget: string, estimateUSD: number): boolean {
    const usd = nonNegative(estimateUSD);
    const s = this.slice(budget);
    if (usd > 0) s.requestUSD = usd;
    const covers = () => (usd > 0 ? s.balance >= usd : s.balance > 0);
    let ok = covers();
    if (!ok && s.unreachableSince !== undefined && s.minted === 0) {
      this.mint(s);
      ok = covers();
    }
    if (!ok && this.onCredit(s, usd)) ok = true;
    if (ok) s.balance -= usd;
    // A refusal asks even above the low-water mark: slices near the end of a budget can be smaller than one request.
    this.maybeRefill(budget, s, !ok);
    return ok;
  }

  /**
   * A slice renews only when a request comes in its last seconds; under sparse traffic it runs out of time with its
   * money unspent, and the next request would be refused (or downgraded) while the budget has money left, since the
   * gate cannot wait for the refill that refusal starts. So that request goes on credit, once per lapse: only when
   * the last answer granted money, and for no more than the slice still held nor than the budget had left as the
   * operator last said (minus this sidecar's spend since). The debt is paid back from the next slice, like an
   * overdraft; at most one request's cost per sidecar and lapse can go past a budget that others used up meanwhile.
   */
  private onCredit(s: Slice, usd: number): boolean {
    if (s.lapsedUSD <= 0 || s.unreachableSince !== undefined || s.lastGrant <= 0) return false;
    if (this.now() < s.retryAt || s.remainingUSD === undefined) return false;
    const room = Math.min(s.lapsedUSD, s.remainingUSD - s.spentSinceReply);
    if (usd > 0 ? room < usd : room <= 0) return false;
    s.lapsedUSD = 0;
    return true;
  }

  /** Local mode: one local allowance per outage, bounded by what the budget had left as far as we know. */
  private mint(s: Slice): void {
    const cap = this.opts.localOverspendUSD ?? DEFAULT_LOCAL_OVERSPEND_USD;
    const known = s.remainingUSD === undefined ? cap : Math.max(0, s.remainingUSD - s.spentSinceReply);
    const amount = Math.min(cap, known);
    if (amount <= 0) return;
    s.balance = Math.max(0, s.expiresAt > this.now() ? s.balance : 0) + amount;
    s.minted = amount;
    s.sliceExpiresAt = s.expiresAt;
    // Local money does not expire while the operator is away: nobody else can be handed it meanwhile.
    s.expiresAt = Number.POSITIVE_INFINITY;
  }

  record(budget: string, spent: { usd: number; reservedUSD: number }): void {
    const s = this.slice(budget);
    const reserved = nonNegative(spent.reservedUSD);
    // A cost that is no number (never booked as such, but the balance must not become NaN) stands at its estimate.
    const usd = Number.isFinite(spent.usd) ? Math.max(0, spent.usd) : reserved;
    // A request that cost more than its estimate overdraws the slice: the next slice pays it back.
    s.balance += reserved - usd;
    s.spentSinceReply += usd;
    this.maybeRefill(budget, s);
  }

  /** Fetches first slices for a snapshot's budgets, so the first requests are not refused. */
  prefetch(budgets: string[]): Promise<void> {
    return Promise.all(budgets.map((b) => this.refill(b, this.slice(b)))).then(() => undefined);
  }

  balance(budget: string): number {
    return this.slice(budget).balance;
  }

  /** Whether `budget` is being served on local knowledge right now. */
  local(budget: string): boolean {
    return this.slice(budget).unreachableSince !== undefined;
  }

  private maybeRefill(budget: string, s: Slice, force = false): void {
    const low = force || s.balance <= Math.max(0, s.lastGrant * (this.opts.lowWater ?? 0.5));
    const expiring = s.expiresAt - this.now() < (this.opts.expiryMarginMs ?? 2_000) * 2;
    if ((low || expiring) && !s.inflight && this.now() >= s.retryAt) void this.refill(budget, s);
  }

  private async refill(budget: string, s: Slice): Promise<void> {
    if (s.inflight) return;
    s.inflight = true;
    const wasLocal = s.unreachableSince;
    // Spent beyond the real slices in this outage: what was minted minus what of it is still in the balance.
    const localSpent = wasLocal !== undefined ? s.minted - Math.min(s.minted, Math.max(0, s.balance)) : 0;
    try {
      // Enough for one request on top of what is held (a debt included), so the slice can pay for something.
      const want = s.requestUSD > 0 ? Math.max(0, s.requestUSD - Math.max(0, s.balance)) : 0;
      const reply = await this.opts.request(
        budget,
        wasLocal !== undefined ? { sinceMs: wasLocal, spentUSD: localSpent } : undefined,
        want > 0 ? want : undefined,
      );
      const now = this.now();
      if (s.unreachableSince !== undefined) {
        // Back on the operator's word: unspent local money is handed back, overdraft stays to be paid back, and
        // what is left of the operator's own slice keeps its expiry (the leader still counts it as ours).
        const unspent = Math.min(s.minted, Math.max(0, s.balance));
        s.balance -= unspent;
        if (s.minted > 0) s.expiresAt = s.sliceExpiresAt;
        s.minted = 0;
        s.unreachableSince = undefined;
        this.emitLocal(budget, false);
        if (localSpent > 0) for (const l of this.listeners) l.localSpent?.(budget, localSpent);
      }
      s.balance = (s.expiresAt > now ? s.balance : Math.min(0, s.balance)) + reply.grantUSD;
      s.expiresAt = now + reply.ttlMs - (this.opts.expiryMarginMs ?? 2_000);
      s.lastGrant = reply.grantUSD;
      s.remainingUSD = reply.remainingUSD;
      s.spentSinceReply = 0;
      s.lapsedUSD = 0;
      if (reply.grantUSD <= 0) s.retryAt = now + (this.opts.retryMs ?? 1_000);
    } catch (e) {
      s.retryAt = this.now() + (this.opts.retryMs ?? 1_000);
      if (s.unreachableSince === undefined) {
        s.unreachableSince = this.now();
        this.emitLocal(budget, true);
      }
      this.opts.onError?.(budget, e);
    } finally {
      s.inflight = false;
    }
  }
}
