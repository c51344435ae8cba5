/**
 * The sidecar's side of cluster-wide budgets: spends locally only within the slice the operator granted, and asks
 * for the next slice before this one runs out. Implements the BudgetGate's synchronous `Allowance` hook; the
 * network call is injected and always happens off the request path.
 */
import type { AllowanceReply } from '../operator/protocol.js';
import type { Allowance } from './gate.js';

export interface AllowanceClientOptions {
  /** Asks the operator for a slice of `budget` (POST /v1/allowance). */
  request: (budget: string) => Promise<AllowanceReply>;
  now?: () => number;
  /** Ask for more once the balance falls below this share of the last slice. */
  lowWater?: number;
  /** Stop spending this long before the operator stops counting a slice as ours. */
  expiryMarginMs?: number;
  /** After an empty grant or an error, wait this long before asking again. */
  retryMs?: number;
  onError?: (budget: string, e: unknown) => void;
}

interface Slice {
  balance: number;
  expiresAt: number;
  lastGrant: number;
  inflight: boolean;
  retryAt: number;
  /** Limit minus recorded spend, as the operator last said. */
  remainingUSD: number | undefined;
}

export class AllowanceClient implements Allowance {
  private readonly slices = new Map<string, Slice>();
  private readonly now: () => number;

  constructor(private readonly opts: AllowanceClientOptions) {
    this.now = opts.now ?? Date.now;
  }

  private slice(budget: string): Slice {
    let s = this.slices.get(budget);
    if (!s) {
      s = { balance: 0, expiresAt: 0, lastGrant: 0, inflight: false, retryAt: 0, remainingUSD: undefined };
      this.slices.set(budget, s);
    }
    // An expired slice is money the operator has handed back to everyone else.
    if (s.expiresAt <= this.now() && s.balance > 0) s.balance = 0;
    return s;
  }

  tryReserve(budget: string, usd: number): boolean {
    const s = this.slice(budget);
    const ok = usd > 0 ? s.balance >= usd : s.balance > 0;
    if (ok) s.balance -= usd;
    // A refusal asks even above the low-water mark: slices near the end of a budget can be smaller than one request.
    this.maybeRefill(budget, s, !ok);
    return ok;
  }

  record(budget: string, spent: { usd: number; reservedUSD: number }): void {
    const s = this.slice(budget);
    // A request that cost more than its estimate overdraws the slice: the next slice pays it back.
    s.balance += spent.reservedUSD - spent.usd;
    this.maybeRefill(budget, s);
  }

  /** Fetches first slices for a snapshot's budgets, so the first requests are not refused. */
  prefetch(budgets: string[]): Promise<void> {
    return Promise.all(budgets.map((b) => this.refill(b, this.slice(b)))).then(() => undefined);
  }

  balance(budget: string): number {
    return this.slice(budget).balance;
  }

  private maybeRefill(budget: string, s: Slice, force = false): void {
    const low = force || s.balance <= Math.max(0, s.lastGrant * (this.opts.lowWater ?? 0.5));
    const expiring = s.expiresAt - this.now() < (this.opts.expiryMarginMs ?? 2_000) * 2;
    if ((low || expiring) && !s.inflight && this.now() >= s.retryAt) void this.refill(budget, s);
  }

  private async refill(budget: string, s: Slice): Promise<void> {
    if (s.inflight) return;
    s.inflight = true;
    try {
      const reply = await this.opts.request(budget);
      const now = this.now();
      s.balance = (s.expiresAt > now ? s.balance : 0) + reply.grantUSD;
      s.expiresAt = now + reply.ttlMs - (this.opts.expiryMarginMs ?? 2_000);
      s.lastGrant = reply.grantUSD;
      s.remainingUSD = reply.remainingUSD;
      if (reply.grantUSD <= 0) s.retryAt = now + (this.opts.retryMs ?? 1_000);
    } catch (e) {
      s.retryAt = this.now() + (this.opts.retryMs ?? 1_000);
      this.opts.onError?.(budget, e);
    } finally {
      s.inflight = false;
    }
  }
}
