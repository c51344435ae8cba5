/**
 * BudgetGate: the per-request budget question (allow / downgrade / reject) and the usage accounting after it,
 * over every ModelBudget of a snapshot. Budgets with `routeRef` apply to that route only. No clock: pass `now`.
 *
 *   new BudgetGate(budgets, { now, allowance? })
 *     .check({ route, user?, now, estimatedUSD? }): BudgetVerdict
 *     .checkDowngraded(check, budget): BudgetVerdict     after a downgrade: reserves the cheapest tier's estimate
 *     .record(usage: UsageRecord): BudgetAlert[]        alert thresholds newly crossed locally
 *     .release(reservations, now): void                  a checked request produced no usage
 *     .status(now): BudgetStatus[]
 *     .update(budgets, now): BudgetGate                  a new snapshot: same-window totals carried over
 *
 * Order of checks, first failure wins: per-user rpm (reject TM_RATE_LIMITED), then per budget the window limit
 * (USD and tokens), the per-user USD limit and the external allowance, each answered with the budget's action:
 * `reject` -> TM_BUDGET_EXCEEDED with Retry-After until the window ends, `downgrade` -> cheapest tier.
 * Per-user limits (rpm, usd) apply only to requests that name a user (x-tiermesh-user, else the OpenAI `user`).
 *
 * USD limits count what requests in flight may still spend: an admitted request reserves its pre-call estimate
 * against every applicable budget (and the user's share under perUser.usd) until its usage is recorded or it is
 * released, and a request whose estimate would take booked + reserved past a limit gets the budget's action. So
 * concurrent requests cannot all pass on the same booked total; overspend is bounded by what the requests in
 * flight cost beyond their estimates. Token limits count booked tokens only.
 */
import type { CompiledBudget } from '../api/snapshot.js';
import { nonNegative } from './cost.js';
import { BudgetLedger, type LedgerStatus } from './ledger.js';
import { RateLimiter } from './ratelimit.js';
import { fits, ReservedTotals } from './reserved.js';
import type { BudgetVerdict, Reservation, UsageRecord } from './types.js';

/**
 * Hook for a cluster-wide cap on local spending (the operator's `src/budget/allowance.ts` implements it).
 * The gate calls `tryReserve` once per applicable budget for each request that passes the local checks, with
 * the pre-call cost estimate; `false` means the cluster allowance is spent, and the budget's action applies.
 * It then calls `record` once per applicable budget for each finished request with the actual spend and the
 * amount reserved for it (0 when `tryReserve` was not called or said no), and with usd 0 on `release`.
 * Both must be synchronous and cheap: they run on the request path.
 */
export interface Allowance {
  tryReserve(budgetName: string, usd: number): boolean;
  record(
    budgetName: string,
    spent: { usd: number; tokens: number; reservedUSD: number; user?: string | undefined; at: number },
  ): void;
}

export interface GateCheck {
  route: string;
  user?: string | undefined;
  now: number;
  /** Pre-call cost estimate, reserved against each applicable budget (and the allowance) while the call runs. */
  estimatedUSD?: number;
}

export interface BudgetAlert {
  budget: string;
  threshold: number;
  spentUSD: number;
  limitUSD: number;
}

export interface BudgetStatus extends LedgerStatus {
  name: string;
  routeRef: string | undefined;
  action: 'reject' | 'downgrade';
  limitUSD: number;
}

interface Entry {
  budget: CompiledBudget;
  ledger: BudgetLedger;
  limiter: RateLimiter | undefined;
}

export interface GateOptions {
  now: number;
  allowance?: Allowance | undefined;
  /** Bound on tracked users per rpm limiter. */
  maxUsers?: number;
  /** What requests in flight reserved; `update` hands it to the next gate, so their settling reaches it. */
  reserved?: ReservedTotals;
}

export class BudgetGate {
  private readonly entries: Entry[];
  private readonly allowance: Allowance | undefined;
  private readonly maxUsers: number | undefined;
  readonly reserved: ReservedTotals;

  constructor(budgets: CompiledBudget[], opts: GateOptions) {
    this.allowance = opts.allowance;
    this.maxUsers = opts.maxUsers;
    this.reserved = opts.reserved ?? new ReservedTotals();
    // Constructing the ledgers validates every time zone now, so a bad snapshot fails here and not per request.
    this.entries = budgets.map((b) => ({
      budget: b,
      ledger: new BudgetLedger(b.name, b.spec, opts.now),
      limiter: this.limiterFor(b),
    }));
  }

  private limiterFor(b: CompiledBudget): RateLimiter | undefined {
    const rpm = b.spec.perUser?.rpm;
    return rpm ? new RateLimiter({ rpm, ...(this.maxUsers ? { maxUsers: this.maxUsers } : {}) }) : undefined;
  }

  private applicable(route: string): Entry[] {
    return this.entries.filter(
      (e) => e.budget.spec.routeRef === undefined || e.budget.spec.routeRef === route,
    );
  }

  /** A budget refuses: what was reserved for the request so far goes back. */
  private reject(e: Entry, why: string, reservations: Reservation[], now: number): BudgetVerdict {
    this.release(reservations, now);
    return {
      kind: 'reject',
      code: 'TM_BUDGET_EXCEEDED',
      message: `budget ${e.budget.name}: ${why}`,
      retryAfterSeconds: Math.max(1, Math.ceil(e.ledger.msUntilReset(now) / 1000)),
    };
  }

  check(c: GateCheck): BudgetVerdict {
    const entries = this.applicable(c.route);
    if (c.user !== undefined) {
      for (const e of entries) {
        const r = e.limiter?.take(c.user, c.now);
        if (r && !r.ok) {
          return {
            kind: 'reject',
            code: 'TM_RATE_LIMITED',
            message: `user is over ${e.limiter!.rpm} requests per minute (budget ${e.budget.name})`,
            retryAfterSeconds: r.retryAfterSeconds,
          };
        }
      }
    }
    return this.admit(entries, c, undefined);
  }

  /**
   * The same request after `check` said downgrade (naming `budget`), decided again on the cheapest tier: reserves
   * that decision's estimate. Its rate-limit token is already taken. A reject budget it would push past a limit
   * still rejects; a downgrade budget does not stop it (it is on the cheapest tier already) but its in-flight spend
   * is reserved all the same.
   */
  checkDowngraded(c: GateCheck, budget: string): BudgetVerdict {
    return this.admit(this.applicable(c.route), c, budget);
  }

  /** Why budget `e` refuses a request estimated at `usd`, or undefined when it fits. */
  private over(e: Entry, c: GateCheck, usd: number): string | undefined {
    const l = e.ledger;
    const spec = e.budget.spec;
    if (
      l.exceeded(c.now) ||
      !fits(spec.limit.usd, l.spentUSDAt(c.now), this.reserved.usd(e.budget.name), usd)
    )
      return 'spending limit for this window reached';
    const userLimit = spec.perUser?.usd;
    if (c.user === undefined || userLimit === undefined) return undefined;
    const userReserved = this.reserved.usd(e.budget.name, c.user);
    if (l.userExceeded(c.user, c.now) || !fits(userLimit, l.userSpentUSD(c.user, c.now), userReserved, usd))
      return 'per-user spending limit for this window reached';
    return undefined;
  }

  /**
   * Per applicable budget: the local limits, then the allowance; what passes is reserved. `downgraded`: the budget
   * that downgraded this request in `check` (its cheapest-tier estimate is being reserved now).
   */
  private admit(entries: Entry[], c: GateCheck, downgraded: string | undefined): BudgetVerdict {
    const usd = nonNegative(c.estimatedUSD ?? 0);
    let downgrade = downgraded;
    const reservations: Reservation[] = [];
    for (const e of entries) {
      let why = this.over(e, c, usd);
      let allowance = false;
      if (why === undefined && this.allowance) {
        allowance = this.allowance.tryReserve(e.budget.name, usd);
        if (!allowance) why = 'cluster-wide allowance for this window used up';
      }
      if (why !== undefined && e.budget.spec.action === 'reject')
        return this.reject(e, why, reservations, c.now);
      if (why !== undefined && downgraded === undefined) {
        downgrade ??= e.budget.name;
        continue;
      }
      // Admitted here, or already on the cheapest tier a downgrade budget asks for: it spends, so it is counted.
      if (usd > 0 || allowance) reservations.push(this.reserve(e, c.user, usd, allowance));
    }
    if (downgrade === undefined) return { kind: 'allow', reservations };
    if (downgraded !== undefined) return { kind: 'downgrade', budget: downgrade, reservations };
    // Reserved at the first decision's estimate: the cheapest tier's is reserved by checkDowngraded instead.
    this.release(reservations, c.now);
    return { kind: 'downgrade', budget: downgrade, reservations: [] };
  }

  private reserve(e: Entry, user: string | undefined, usd: number, allowance: boolean): Reservation {
    const r: Reservation = { budget: e.budget.name, usd, allowance };
    if (user !== undefined && e.budget.spec.perUser?.usd !== undefined) r.user = user;
    this.reserved.add(r);
    return r;
  }

  record(u: UsageRecord): BudgetAlert[] {
    const alerts: BudgetAlert[] = [];
    const tokens = u.inputTokens + u.outputTokens;
    for (const r of u.reservations ?? []) this.reserved.remove(r);
    for (const e of this.applicable(u.route)) {
      const r = e.ledger.record({ usd: u.costUSD, tokens, user: u.user, at: u.at });
      for (const threshold of r.crossed) {
        alerts.push({
          budget: e.budget.name,
          threshold,
          spentUSD: e.ledger.status(u.at).spentUSD,
          limitUSD: e.budget.spec.limit.usd,
        });
      }
      if (this.allowance) {
        const r = u.reservations?.find((x) => x.budget === e.budget.name && x.allowance);
        const reservedUSD = r?.usd ?? 0;
        this.allowance.record(e.budget.name, { usd: u.costUSD, tokens, reservedUSD, user: u.user, at: u.at });
      }
    }
    return alerts;
  }

  release(reservations: readonly Reservation[], now: number): void {
    for (const r of reservations) {
      this.reserved.remove(r);
      if (this.allowance && r.allowance)
        this.allowance.record(r.budget, { usd: 0, tokens: 0, reservedUSD: r.usd, at: now });
    }
  }

  status(now: number): BudgetStatus[] {
    return this.entries.map((e) => ({
      name: e.budget.name,
      routeRef: e.budget.spec.routeRef,
      action: e.budget.spec.action,
      limitUSD: e.budget.spec.limit.usd,
      ...e.ledger.status(now),
    }));
  }

  /** The gate for a new snapshot: budgets kept by name keep their window totals and rate-limit state. */
  update(budgets: CompiledBudget[], now: number): BudgetGate {
    const next = new BudgetGate(budgets, {
      now,
      allowance: this.allowance,
      reserved: this.reserved,
      ...(this.maxUsers ? { maxUsers: this.maxUsers } : {}),
    });
    for (const e of next.entries) {
      const old = this.entries.find((o) => o.budget.name === e.budget.name);
      if (!old) continue;
      // Shared, so what requests in flight on the old gate book still counts here.
      if (old.ledger.respec(e.budget.spec, now)) e.ledger = old.ledger;
      if (old.limiter && e.limiter && old.limiter.rpm === e.limiter.rpm) e.limiter = old.limiter;
    }
    return next;
  }
}
