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
  /** What `BudgetGate.check` reserved from the allowance for this request (from the allow verdict); 0 when none. */
  reservedUSD?: number;
}

export type BudgetVerdict =
  /** `reservedUSD`: what was reserved from the external allowance; pass it back in the UsageRecord. */
  | { kind: 'allow'; reservedUSD: number }
  /** Over a downgrade budget (namespace or per-user spend): serve from the cheapest tier. */
  | { kind: 'downgrade'; budget: string; reservedUSD: number }
  /** Over a reject budget (namespace or per-user spend) or the per-user rpm limit. */
  | {
      kind: 'reject';
      code: 'TM_BUDGET_EXCEEDED' | 'TM_RATE_LIMITED';
      message: string;
      retryAfterSeconds: number;
    };
