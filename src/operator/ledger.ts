/**
 * Pure ledger arithmetic for one ModelBudget: window roll-over, exactly-once batch application keyed by
 * (sidecarId, seq), state and alert thresholds. The ModelBudget status is the durable copy of this ledger.
 */
import type { BudgetState, ModelBudget, ModelBudgetSpec, ModelBudgetStatus } from '../api/modelbudget.js';
import type { UsageRecord } from '../budget/types.js';
import { budgetWindow } from '../budget/window.js';
import { setCondition } from './conditions.js';

export interface UsageBatch {
  sidecarId: string;
  seq: number;
  records: UsageRecord[];
  /**
   * The reporter's last word: every earlier batch of it was answered, so its dedup entry can go. Sent once, after a
   * drain, by a sidecar shutting down; it never again sends a batch numbered at or below this one.
   */
  retire?: boolean | undefined;
}

/** How long an idle reporter's dedup entry is kept when it never retired (a pod lost with its node). */
export const DEFAULT_REPORTER_RETENTION_MS = 7 * 24 * 3600_000;

/**
 * Drops the dedup entries of reporters idle for longer than `retentionMs`. Sound as long as no batch is resent
 * later than that after it was applied (a sidecar cut off from the operator for that long with an unanswered
 * batch); entries from before `reportersSeen` existed start their clock now.
 */
export function compactReporters(
  status: ModelBudgetStatus,
  now: Date,
  retentionMs: number,
): ModelBudgetStatus {
  const nowSec = Math.floor(now.getTime() / 1000);
  const reporters = { ...(status.reporters ?? {}) };
  const seen = { ...(status.reportersSeen ?? {}) };
  for (const id of Object.keys(reporters)) {
    seen[id] ??= nowSec;
    if (nowSec - seen[id]! > retentionMs / 1000) {
      delete reporters[id];
      delete seen[id];
    }
  }
  for (const id of Object.keys(seen)) if (!(id in reporters)) delete seen[id];
  return { ...status, reporters, reportersSeen: seen };
}

/** Float sums of many tiny costs drift; a fixed precision keeps equal ledgers byte-equal. */
export function roundUSD(x: number): number {
  return Math.round(x * 1e9) / 1e9;
}

/** Which of a namespace's records a budget counts: all of them, or only its routeRef's. */
export function recordsFor(
  spec: ModelBudgetSpec,
  records: UsageRecord[],
): { costUSD: number; tokens: number } {
  let costUSD = 0;
  let tokens = 0;
  for (const r of records) {
    if (spec.routeRef && r.route !== spec.routeRef) continue;
    costUSD += r.costUSD;
    tokens += r.inputTokens + r.outputTokens;
  }
  return { costUSD, tokens };
}

export function budgetState(spentUSD: number, spec: ModelBudgetSpec): BudgetState {
  if (spentUSD >= spec.limit.usd) return 'Exceeded';
  const warnAt = Math.min(...spec.alertThresholds.filter((t) => t < 100), 100);
  return spentUSD * 100 >= spec.limit.usd * warnAt ? 'Warning' : 'Ok';
}

/** Thresholds (percent) reached by `spentUSD` that were not announced yet this window, ascending. */
export function newlyCrossed(spentUSD: number, spec: ModelBudgetSpec, fired: number[]): number[] {
  return [...new Set(spec.alertThresholds)]
    .filter((t) => spentUSD * 100 >= spec.limit.usd * t && !fired.includes(t))
    .sort((a, b) => a - b);
}

/**
 * The start of the window containing `now`, except that windows only move forward: when the stored window is the
 * next one, a writer whose clock is behind the previous one's (a new leader just after the boundary) keeps it
 * instead of resetting it and losing what was spent in it.
 */
function windowStartFor(budget: ModelBudget, now: Date): string {
  const { period, timezone } = budget.spec.window;
  const w = budgetWindow(period, timezone, now.getTime());
  const start = new Date(w.start).toISOString();
  const stored = budget.status?.windowStart;
  if (stored === undefined || stored === start) return start;
  const next = new Date(budgetWindow(period, timezone, w.end).start).toISOString();
  return stored === next ? next : start;
}

/** Slices still live at `now`: their sidecars spend them after a window boundary too, so they stay outstanding. */
function liveGrants(
  grants: ModelBudgetStatus['grants'],
  now: Date,
): NonNullable<ModelBudgetStatus['grants']> {
  return Object.fromEntries(Object.entries(grants ?? {}).filter(([, g]) => g.expiresAt > now.getTime()));
}

/** The status for the window containing `now`: a new window starts from zero but keeps the dedup marks. */
export function currentWindow(budget: ModelBudget, now: Date): ModelBudgetStatus {
  const old = budget.status ?? {};
  const start = windowStartFor(budget, now);
  const fresh = old.windowStart !== start;
  const spentUSD = fresh ? 0 : (old.spentUSD ?? 0);
  const spentTokens = fresh ? 0 : (old.spentTokens ?? 0);
  return {
    ...old,
    windowStart: start,
    spentUSD,
    spentTokens,
    alertsFired: fresh ? [] : (old.alertsFired ?? []),
    ...(fresh ? { localSpentUSD: 0, topSpenders: [] } : {}),
    reporters: old.reporters ?? {},
    // A slice handed out just before the boundary is spent (and reported) in the new window: still outstanding.
    grants: fresh ? liveGrants(old.grants, now) : (old.grants ?? {}),
  };
}

/** Fills in the derived fields (remaining, state, Ready) from spent and the spec. */
/**
 * Who is finishing the status: the reconciler (it decides Ready), or a usage batch or allowance request, which keep a
 * Ready=False the reconciler wrote for this generation (a routeRef naming no route: RouteNotFound). Without that, each
 * batch turned such a budget Ready again until the next reconcile.
 */
export type StatusWriter = 'reconcile' | 'usage';

function keepsReconcilerVerdict(budget: ModelBudget, status: ModelBudgetStatus): boolean {
  const ready = status.conditions?.find((c) => c.type === 'Ready');
  return (
    ready?.status === 'False' &&
    ready.reason === 'RouteNotFound' &&
    ready.observedGeneration === budget.metadata.generation
  );
}

export function finishStatus(
  budget: ModelBudget,
  status: ModelBudgetStatus,
  now: Date,
  writer: StatusWriter = 'reconcile',
): ModelBudgetStatus {
  const spent = status.spentUSD ?? 0;
  const generation = budget.metadata.generation;
  const keep = writer === 'usage' && keepsReconcilerVerdict(budget, status);
  return {
    ...status,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    remainingUSD: roundUSD(budget.spec.limit.usd - spent),
    state: budgetState(spent, budget.spec),
    conditions: keep
      ? status.conditions
      : setCondition(
          status.conditions,
          {
            type: 'Ready',
            status: 'True',
            reason: 'Compiled',
            message: `window ${status.windowStart}: ${spent} of ${budget.spec.limit.usd} USD spent`,
            ...(generation !== undefined ? { observedGeneration: generation } : {}),
          },
          now.toISOString(),
        ),
  };
}

export interface ApplyResult {
  status: ModelBudgetStatus;
  /** False when (sidecarId, seq) was applied before: a resend after a lost answer. */
  applied: boolean;
  /** Alert thresholds this batch pushed spend across (each fires once per window). */
  crossed: number[];
}

/** The status with no new usage: window rolled, derived fields current, thresholds a lowered limit crossed. */
export function refreshBudget(
  budget: ModelBudget,
  now: Date,
  retentionMs = DEFAULT_REPORTER_RETENTION_MS,
  writer: StatusWriter = 'reconcile',
): { status: ModelBudgetStatus; crossed: number[] } {
  const status = compactReporters(currentWindow(budget, now), now, retentionMs);
  const crossed = newlyCrossed(status.spentUSD ?? 0, budget.spec, status.alertsFired ?? []);
  const next = {
    ...status,
    alertsFired: [...(status.alertsFired ?? []), ...crossed].sort((a, b) => a - b).slice(-10),
  };
  return { status: finishStatus(budget, next, now, writer), crossed };
}

export function applyBatch(
  budget: ModelBudget,
  batch: UsageBatch,
  now: Date,
  retentionMs = DEFAULT_REPORTER_RETENTION_MS,
): ApplyResult {
  const status = compactReporters(currentWindow(budget, now), now, retentionMs);
  const reporters = { ...(status.reporters ?? {}) };
  const seen = { ...(status.reportersSeen ?? {}) };
  const last = reporters[batch.sidecarId];
  if (last !== undefined && batch.seq <= last) {
    return { status: finishStatus(budget, status, now, 'usage'), applied: false, crossed: [] };
  }
  if (batch.retire) {
    // Counts nothing (a retire batch carries no records); a resent retire finds no entry and is as harmless.
    delete reporters[batch.sidecarId];
    delete seen[batch.sidecarId];
    return {
      status: finishStatus(budget, { ...status, reporters, reportersSeen: seen }, now, 'usage'),
      applied: last !== undefined,
      crossed: [],
    };
  }
  const { costUSD, tokens } = recordsFor(budget.spec, batch.records);
  reporters[batch.sidecarId] = batch.seq;
  seen[batch.sidecarId] = Math.floor(now.getTime() / 1000);
  const spentUSD = roundUSD((status.spentUSD ?? 0) + costUSD);
  const crossed = newlyCrossed(spentUSD, budget.spec, status.alertsFired ?? []);
  const next: ModelBudgetStatus = {
    ...status,
    spentUSD,
    spentTokens: (status.spentTokens ?? 0) + tokens,
    alertsFired: [...(status.alertsFired ?? []), ...crossed].sort((a, b) => a - b).slice(-10),
    reporters,
    reportersSeen: seen,
  };
  return { status: finishStatus(budget, next, now, 'usage'), applied: true, crossed };
}
