/**
 * Local spend accounting for one ModelBudget: namespace and per-user totals for the current window, rolled over
 * at the window's end. No clock of its own: every call takes `now` (epoch ms).
 *
 *   budgetState(spec, spentUSD, spentTokens): BudgetState                         Ok | Warning | Exceeded
 *   newlyCrossed(thresholds, alreadyFired, percent): number[]
 *   usedPercent(spec, spentUSD, spentTokens): number                              the larger of USD and token use
 *   new BudgetLedger(name, spec, now)
 *     .record({ usd, tokens, user, at }): RecordResult                            thresholds newly crossed
 *     .status(now): LedgerStatus
 *     .exceeded(now) / .userExceeded(user, now): boolean
 *     .spentUSDAt(now) / .userSpentUSD(user, now): number                         booked in the current window
 *     .restore(state, now): boolean                                              seed totals for the same window
 *     .respec(spec, now): boolean                                                a new spec, same window: kept
 */
import type { BudgetState, ModelBudgetSpec } from '../api/modelbudget.js';
import { nonNegative } from './cost.js';
import { type BudgetWindow, budgetWindow } from './window.js';

export function usedPercent(spec: ModelBudgetSpec, spentUSD: number, spentTokens: number): number {
  // A zero limit means "nothing may be spent": it is used up from the start.
  const usd = spec.limit.usd > 0 ? (spentUSD / spec.limit.usd) * 100 : 100;
  const tok =
    spec.limit.tokens === undefined
      ? 0
      : spec.limit.tokens > 0
        ? (spentTokens / spec.limit.tokens) * 100
        : 100;
  return Math.max(usd, tok);
}

export function budgetState(spec: ModelBudgetSpec, spentUSD: number, spentTokens: number): BudgetState {
  const pct = usedPercent(spec, spentUSD, spentTokens);
  if (pct >= 100) return 'Exceeded';
  if (spec.alertThresholds.some((t) => pct >= t)) return 'Warning';
  return 'Ok';
}

/** Thresholds reached now that were not announced before, ascending: each is announced once per window. */
export function newlyCrossed(
  thresholds: readonly number[],
  alreadyFired: readonly number[],
  percent: number,
): number[] {
  const fired = new Set(alreadyFired);
  return [...new Set(thresholds)].filter((t) => percent >= t && !fired.has(t)).sort((a, b) => a - b);
}

export interface LedgerStatus {
  windowStart: number;
  windowEnd: number;
  spentUSD: number;
  spentTokens: number;
  /** May go negative: spend is recorded after the call, so the last requests of a window can overshoot. */
  remainingUSD: number;
  remainingTokens: number | undefined;
  state: BudgetState;
  alertsFired: number[];
  users: number;
}

export interface Spend {
  usd: number;
  tokens: number;
  user?: string | undefined;
  /**
   * When the usage was booked: it rolls the window over. Spend dated before the current window (a wall clock
   * stepped back after the roll) still counts against it, as the operator's ledger counts it: spent is spent.
   */
  at: number;
}

export interface RecordResult {
  crossed: number[];
}

/** Past this many distinct users in one window, newcomers share one bucket: memory stays bounded. */
export const MAX_TRACKED_USERS = 100_000;
export const OVERFLOW_USER = '(other users)';

export class BudgetLedger {
  readonly name: string;
  /** Replaced by `respec` (a config update that keeps the window). */
  spec: ModelBudgetSpec;
  private window: BudgetWindow;
  private spentUSD = 0;
  private spentTokens = 0;
  private alertsFired: number[] = [];
  private users = new Map<string, number>();

  constructor(name: string, spec: ModelBudgetSpec, now: number) {
    this.name = name;
    this.spec = spec;
    this.window = budgetWindow(spec.window.period, spec.window.timezone, now);
  }

  /** Moves to the window holding `now` when the current one has ended. True when it rolled over. */
  roll(now: number): boolean {
    if (now < this.window.end) return false;
    this.window = budgetWindow(this.spec.window.period, this.spec.window.timezone, now);
    this.spentUSD = 0;
    this.spentTokens = 0;
    this.alertsFired = [];
    this.users.clear();
    return true;
  }

  record(spend: Spend): RecordResult {
    this.roll(spend.at);
    const usd = nonNegative(spend.usd);
    this.spentUSD += usd;
    this.spentTokens += nonNegative(spend.tokens);
    // Per-user totals only serve perUser.usd: without it, user ids are not kept at all.
    if (spend.user !== undefined && this.spec.perUser?.usd !== undefined) {
      const key =
        this.users.has(spend.user) || this.users.size < MAX_TRACKED_USERS ? spend.user : OVERFLOW_USER;
      this.users.set(key, (this.users.get(key) ?? 0) + usd);
    }
    const crossed = newlyCrossed(this.spec.alertThresholds, this.alertsFired, this.percent());
    this.alertsFired.push(...crossed);
    return { crossed };
  }

  private percent(): number {
    return usedPercent(this.spec, this.spentUSD, this.spentTokens);
  }

  exceeded(now: number): boolean {
    this.roll(now);
    return this.percent() >= 100;
  }

  /** USD booked in the window holding `now`. */
  spentUSDAt(now: number): number {
    this.roll(now);
    return this.spentUSD;
  }

  userSpentUSD(user: string, now: number): number {
    this.roll(now);
    return this.users.get(user) ?? 0;
  }

  userExceeded(user: string, now: number): boolean {
    const limit = this.spec.perUser?.usd;
    if (limit === undefined) return false;
    return this.userSpentUSD(user, now) >= limit;
  }

  /** Milliseconds until the current window ends. */
  msUntilReset(now: number): number {
    this.roll(now);
    return Math.max(0, this.window.end - now);
  }

  status(now: number): LedgerStatus {
    this.roll(now);
    return {
      windowStart: this.window.start,
      windowEnd: this.window.end,
      spentUSD: this.spentUSD,
      spentTokens: this.spentTokens,
      remainingUSD: this.spec.limit.usd - this.spentUSD,
      remainingTokens:
        this.spec.limit.tokens === undefined ? undefined : this.spec.limit.tokens - this.spentTokens,
      state: budgetState(this.spec, this.spentUSD, this.spentTokens),
      alertsFired: [...this.alertsFired],
      users: this.users.size,
    };
  }

  /**
   * Takes a config update's spec for this budget when it keeps the window; false (nothing changed) when it does not.
   * The ledger is then shared, not copied: requests still in flight on the old config book into it too, so their
   * spend reaches the new gate.
   */
  respec(spec: ModelBudgetSpec, now: number): boolean {
    this.roll(now);
    const w = budgetWindow(spec.window.period, spec.window.timezone, now);
    if (w.start !== this.window.start || w.end !== this.window.end) return false;
    this.spec = spec;
    if (spec.perUser?.usd === undefined) this.users.clear();
    return true;
  }

  /**
   * Seeds the window totals from elsewhere (a restart, or the operator's aggregated status). Ignored unless it
   * describes the window `now` is in; per-user totals are not restored.
   */
  restore(
    state: { windowStart: number; spentUSD: number; spentTokens?: number; alertsFired?: number[] },
    now: number,
  ): boolean {
    this.roll(now);
    if (state.windowStart !== this.window.start) return false;
    this.spentUSD = nonNegative(state.spentUSD);
    this.spentTokens = nonNegative(state.spentTokens ?? 0);
    this.alertsFired = [...new Set(state.alertsFired ?? [])];
    return true;
  }
}
