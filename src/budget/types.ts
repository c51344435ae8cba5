/** The budget questions the sidecar asks per request, and the usage it reports after. */

export interface UsageRecord {
  route: string;
  model: string;
  user?: string | undefined;
  inputTokens: number;
  outputTokens: number;
  costUSD: number;
  /** What the baseline model would have cost for the same tokens; savings = baseline - cost. */
  baselineCostUSD: number;
  at: number;
  /** What `BudgetGate.check` reserved for this request (from its verdict): settled by this record. */
  reservations?: Reservation[];
}

/**
 * USD set aside for one request in flight against one budget (its pre-call estimate), counted by the gate as if
 * spent until settled, exactly once, by `BudgetGate.record` (the request's first booked answer) or `release`.
 */
export interface Reservation {
  budget: string;
  usd: number;
  /** Set when the budget has a perUser.usd limit and the request names a user: reserved from that user's share too. */
  user?: string;
  /** Also reserved from the external (operator) allowance. */
  allowance: boolean;
}

export type BudgetVerdict =
  /** `reservations`: pass them back in the UsageRecord (or to `release` when the call produced no usage). */
  | { kind: 'allow'; reservations: Reservation[] }
  /**
   * Over a downgrade budget (namespace or per-user spend, or its allowance): serve from the cheapest tier. From
   * `check` it holds no reservations (decide the cheapest tier, then reserve its estimate with `checkDowngraded`).
   */
  | { kind: 'downgrade'; budget: string; reservations: Reservation[] }
  /** Over a reject budget (namespace or per-user spend) or the per-user rpm limit. */
  | {
      kind: 'reject';
      code: 'TM_BUDGET_EXCEEDED' | 'TM_RATE_LIMITED';
      message: string;
      retryAfterSeconds: number;
    };
