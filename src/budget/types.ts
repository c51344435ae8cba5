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
  /** What `BudgetGate.check` reserved from the external allowance for this request (from its verdict). */
  reservations?: Reservation[];
}

/** USD set aside for one request from one budget's external allowance; settled by `BudgetGate.record`/`release`. */
export interface Reservation {
  budget: string;
  usd: number;
}

export type BudgetVerdict =
  /** `reservations`: pass them back in the UsageRecord (or to `release` when the call produced no usage). */
  | { kind: 'allow'; reservations: Reservation[] }
  /** Over a downgrade budget (namespace or per-user spend, or its allowance): serve from the cheapest tier. */
  | { kind: 'downgrade'; budget: string; reservations: Reservation[] }
  /** Over a reject budget (namespace or per-user spend) or the per-user rpm limit. */
  | {
      kind: 'reject';
      code: 'TM_BUDGET_EXCEEDED' | 'TM_RATE_LIMITED';
      message: string;
      retryAfterSeconds: number;
    };
