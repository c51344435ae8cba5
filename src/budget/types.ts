/** The budget questions the sidecar asks per request, and the usage it reports after. */

export interface UsageRecord {
  route: string;
  model: string;
  user?: string;
  inputTokens: number;
  outputTokens: number;
  costUSD: number;
  /** What the baseline model would have cost for the same tokens; savings = baseline - cost. */
  baselineCostUSD: number;
  at: number;
}

export type BudgetVerdict =
  | { kind: 'allow' }
  /** Over a downgrade budget: serve from the cheapest tier. */
  | { kind: 'downgrade'; budget: string }
  /** Over a reject budget, a per-user limit or the rpm limit. */
  | { kind: 'reject'; code: 'TM_BUDGET_EXCEEDED' | 'TM_RATE_LIMITED'; message: string; retryAfterSeconds: number };
