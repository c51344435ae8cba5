/**
 * Reconciles one namespace, idempotently: routes and budgets from the informer cache -> compiled snapshot ->
 * published to the namespace's sidecars -> route and budget status (leader only, written only when changed).
 * Route status carries `routing` from the sidecars' reports (routing-status.ts), with an Event when the escalation
 * rate or the tier drift crosses its bound, either way, and `calibration`: the online calibration's step
 * (spec.classifier.adapt; src/routing/online-calibration.ts), whose offset the next compile puts in the snapshot.
 * Asks to run again when the soonest budget window ends (nothing else announces a rollover); a budget whose spec
 * cannot be evaluated (an unknown time zone) is a TerminalError from the ledger: one Event, no retry loop.
 */
import { type ObjectMeta, objectMeta } from '../api/common.js';
import { type ModelBudget, type ModelBudgetStatus, modelBudget } from '../api/modelbudget.js';
import {
  type CalibrationStatus,
  type ModelRoute,
  modelRoute,
  monitoringOf,
  type RoutingStatus,
} from '../api/modelroute.js';
import { budgetWindow } from '../budget/window.js';
import { compileNamespace } from '../config/compile.js';
import { formatIssues } from '../config/issues.js';
import { calibrationLimits, nextCalibration } from '../routing/online-calibration.js';
import { notReadyStatus, readyFields } from './conditions.js';
import type { ConfigHub } from './hub.js';
import type { ObjectRef } from './kube.js';
import { type ReconcileOutcome, TerminalError } from './reconcile-result.js';
import { type RouteStatusPatch, routeStatus, sameStatus } from './route-status.js';
import { type RoutingTotals, routingEvents } from './routing-status.js';

export interface ReconcileDeps {
  routes(namespace: string): unknown[];
  budgets(namespace: string): unknown[];
  hub: ConfigHub;
  isLeader(): boolean;
  writeRouteStatus(route: Pick<ModelRoute, 'metadata'>, status: RouteStatusPatch): Promise<void>;
  /**
   * A merge patch of a budget's status, for budgets the ledger does not serve (a routeRef that names no route, a
   * spec the schema or the ledger refuses); without it such a budget only gets its Event.
   */
  writeBudgetStatus?(budget: Pick<ModelBudget, 'metadata'>, status: ModelBudgetStatus): Promise<void>;
  refreshBudget(namespace: string, name: string): Promise<void>;
  event(ref: ObjectRef, type: 'Normal' | 'Warning', reason: string, message: string): void;
  /** status.routing from the sidecars' reports (RoutingBook.status); without it status.routing is left as it is. */
  routing?(namespace: string, route: string, windowSeconds: number, now: number): RoutingStatus | undefined;
  /**
   * What the sidecars routed on a route since a time (RoutingBook.totalsSince), for spec.classifier.adapt; without
   * it status.calibration is left as it is.
   */
  routingSince?(namespace: string, route: string, sinceMs: number, now: number): RoutingTotals;
  /** A line in the operator's log (calibration moves). */
  log?(fields: Record<string, unknown>, message: string): void;
  /** uid/generation of schema-invalid objects already announced, so each gets one Event. */
  announced?: Set<string>;
  now?: () => Date;
}

export interface ReconcileResult extends ReconcileOutcome {
  version: string;
  routes: number;
  invalid: number;
  statusWrites: number;
}

/** Objects the apiserver accepted but our schema does not (an older CRD, a hand-edited status): Invalid, by field. */
function parseAll<T>(
  items: unknown[],
  schema: {
    safeParse(v: unknown): { success: true; data: T } | { success: false; error: import('zod').ZodError };
  },
) {
  const ok: T[] = [];
  const bad: Array<{ raw: unknown; name: string; problems: string[] }> = [];
  for (const raw of items) {
    const r = schema.safeParse(raw);
    if (r.success) ok.push(r.data);
    else {
      const name = (raw as { metadata?: { name?: string } }).metadata?.name ?? '?';
      bad.push({ raw, name, problems: formatIssues(r.error) });
    }
  }
  return { ok, bad };
}

export async function reconcileNamespace(namespace: string, deps: ReconcileDeps): Promise<ReconcileResult> {
  const now = (deps.now ?? (() => new Date()))();
  const routes = parseAll<ModelRoute>(deps.routes(namespace), modelRoute);
  const budgets = parseAll<ModelBudget>(deps.budgets(namespace), modelBudget);
  const { snapshot, invalid, unboundBudgets } = compileNamespace(namespace, routes.ok, budgets.ok);
  deps.hub.publish(snapshot);
  const result: ReconcileResult = {
    version: snapshot.version,
    routes: routes.ok.length,
    invalid: invalid.length + routes.bad.length,
    statusWrites: 0,
  };
  if (!deps.isLeader()) return result;

  const stats = deps.hub.stats(namespace);
  const problemsOf = new Map(invalid.map((r) => [r.name, r.problems]));
  result.statusWrites += await markUnparsed(routes.bad, now, (meta, status) =>
    deps.writeRouteStatus({ metadata: meta }, status),
  );
  // A budget the schema refuses limits nothing: Ready=False Invalid, as for a route, not a status left blank.
  if (deps.writeBudgetStatus) {
    const write = deps.writeBudgetStatus;
    result.statusWrites += await markUnparsed(budgets.bad, now, (meta, status) =>
      write({ metadata: meta }, status),
    );
  }
  for (const route of routes.ok) {
    const desired = routeStatus(
      route,
      { configVersion: snapshot.version, problems: problemsOf.get(route.metadata.name) ?? [] },
      stats,
      now.toISOString(),
    );
    const monitoring = monitoringOf(route.spec);
    const routing = deps.routing?.(namespace, route.metadata.name, monitoring.windowSeconds, now.getTime());
    // No report in the window (a new leader, idle sidecars): the last figures stay, dated by their `to`.
    const previousRouting = route.status?.routing;
    if (routing ?? previousRouting) desired.routing = (routing ?? previousRouting)!;
    const calibration = calibrate(namespace, route, now, deps);
    if (calibration) desired.calibration = calibration.state;
    if (sameStatus(route.status, desired)) continue;
    await deps.writeRouteStatus(route, desired);
    result.statusWrites++;
    announce(route, desired, deps);
    // Decided against the stored status, so a restart or a new leader does not announce a crossing twice.
    for (const e of routingEvents(previousRouting, routing, monitoring))
      deps.event({ kind: 'ModelRoute', metadata: route.metadata }, e.type, e.reason, e.message);
    // Announced once the new offset is stored: a write that failed moves nothing, and is decided again.
    if (calibration?.moved) {
      const c = calibration.state;
      deps.event({ kind: 'ModelRoute', metadata: route.metadata }, 'Normal', 'CalibrationMoved', c.reason);
      deps.log?.(
        { namespace, route: route.metadata.name, offset: c.offset, moves: c.moves, reason: c.reason },
        'online calibration moved',
      );
    }
  }
  for (const [kind, bads] of [
    ['ModelRoute', routes.bad],
    // Left out of the snapshot and the ledger (a time zone the runtime does not know): said once, like a route.
    ['ModelBudget', budgets.bad],
  ] as const) {
    for (const bad of bads) {
      const meta = (bad.raw as { metadata?: ModelRoute['metadata'] }).metadata;
      const key = `${meta?.uid}/${meta?.generation}`;
      if (deps.announced?.has(key)) continue;
      deps.announced?.add(key);
      if (meta) deps.event({ kind, metadata: meta }, 'Warning', 'InvalidConfig', bad.problems.join('; '));
    }
  }
  let failure: unknown;
  const unbound = new Map(unboundBudgets.map((b) => [b.name, b.problems.join('; ')]));
  for (const budget of budgets.ok) {
    const why = unbound.get(budget.metadata.name);
    if (why !== undefined) {
      // The ledger would call it Ready (it counts no usage, so nothing looks wrong); it limits nothing until the
      // route exists, when this reconcile (routes trigger it too) hands it back to the ledger.
      const desired = notReadyStatus(
        budget.status,
        budget.metadata.generation,
        'RouteNotFound',
        why,
        now.toISOString(),
      );
      if (deps.writeBudgetStatus && !sameStatus(readyFields(budget.status), desired)) {
        await deps.writeBudgetStatus(budget, desired);
        result.statusWrites++;
      }
      const key = `${budget.metadata.uid}/${budget.metadata.generation}/RouteNotFound`;
      if (!deps.announced?.has(key)) {
        deps.announced?.add(key);
        deps.event({ kind: 'ModelBudget', metadata: budget.metadata }, 'Warning', 'RouteNotFound', why);
      }
      continue;
    }
    try {
      await deps.refreshBudget(namespace, budget.metadata.name);
    } catch (e) {
      // A time zone the runtime does not know fails the same way on every retry: say so once, do not loop.
      if (!(e instanceof TerminalError)) {
        failure ??= e;
        continue;
      }
      // It limits nothing until fixed, so its status says so (Ready=False Invalid), not a blank or stale Ready.
      if (deps.writeBudgetStatus) {
        const write = deps.writeBudgetStatus;
        result.statusWrites += await markUnparsed(
          [{ raw: budget, problems: [e.message] }],
          now,
          (meta, status) => write({ metadata: meta }, status),
        );
      }
      const key = `${budget.metadata.uid}/${budget.metadata.generation}`;
      if (deps.announced?.has(key)) continue;
      deps.announced?.add(key);
      deps.event({ kind: 'ModelBudget', metadata: budget.metadata }, 'Warning', 'InvalidConfig', e.message);
    }
  }
  if (failure) throw failure;
  const rollover = budgetRolloverInMs(budgets.ok, now);
  if (rollover !== undefined) result.requeueAfterMs = rollover;
  return result;
}

/**
 * status.calibration for a route: the controller's next step while spec.classifier.adapt is on (from the stored
 * state, so a new leader resumes where the last one stopped); offset 0 once it is turned off. Undefined: leave it.
 */
function calibrate(
  namespace: string,
  route: ModelRoute,
  now: Date,
  deps: ReconcileDeps,
): { state: CalibrationStatus; moved: boolean } | undefined {
  const previous = route.status?.calibration;
  const adapt = route.spec.classifier.adapt;
  if (!adapt?.enabled || route.spec.classifier.mode === 'rules') {
    if (!previous || previous.offset === 0) return previous && { state: previous, moved: false };
    const at = now.toISOString();
    return {
      state: { ...previous, offset: 0, since: at, samples: 0, reason: 'spec.classifier.adapt is off' },
      moved: false,
    };
  }
  if (!deps.routingSince) return undefined;
  const since = previous ? Date.parse(previous.since) : now.getTime();
  const t = deps.routingSince(
    namespace,
    route.metadata.name,
    Number.isFinite(since) ? since : 0,
    now.getTime(),
  );
  const cheapest = route.spec.tiers[0]!.name;
  const stats = {
    requests: t.requests,
    escalations: t.escalations,
    premium: t.requests - (t.byTier[cheapest] ?? 0),
  };
  const step = nextCalibration(
    previous,
    stats,
    calibrationLimits(adapt, monitoringOf(route.spec).maxEscalationRate),
    now,
  );
  // Cut the book at the move now, so reports from here on count for the next step, not merged into older ones.
  if (step.moved) deps.routingSince(namespace, route.metadata.name, now.getTime(), now.getTime());
  return step;
}

/**
 * Objects the apiserver stored but the schema (or the ledger) refuses are missing from the snapshot like the routes
 * the compiler refused, so their status says so just the same (Ready=False Invalid, by field). Returns the writes made.
 */
async function markUnparsed(
  bad: ReadonlyArray<{ raw: unknown; problems: string[] }>,
  now: Date,
  write: (meta: ObjectMeta, status: ReturnType<typeof notReadyStatus>) => Promise<void>,
): Promise<number> {
  let writes = 0;
  for (const b of bad) {
    const meta = objectMeta.safeParse((b.raw as { metadata?: unknown }).metadata);
    if (!meta.success) continue;
    const stored = (b.raw as { status?: unknown }).status;
    const desired = notReadyStatus(
      stored,
      meta.data.generation,
      'Invalid',
      b.problems.join('; '),
      now.toISOString(),
    );
    if (sameStatus(readyFields(stored), desired)) continue;
    await write(meta.data, desired);
    writes++;
  }
  return writes;
}

/** Timers fire at or after their time; this much later is sure to be inside the new window. */
export const ROLLOVER_MARGIN_MS = 1_000;

/** Milliseconds until the soonest budget window ends (plus the margin); budgets with a bad time zone are skipped. */
export function budgetRolloverInMs(budgets: ModelBudget[], now: Date): number | undefined {
  let soonest: number | undefined;
  for (const b of budgets) {
    let end: number;
    try {
      end = budgetWindow(b.spec.window.period, b.spec.window.timezone, now.getTime()).end;
    } catch {
      continue;
    }
    const ms = end - now.getTime() + ROLLOVER_MARGIN_MS;
    if (soonest === undefined || ms < soonest) soonest = ms;
  }
  return soonest;
}

/** One Event per transition into a failing Ready condition (or a new reason for it), never per reconcile. */
function announce(route: ModelRoute, next: RouteStatusPatch, deps: ReconcileDeps): void {
  const before = route.status?.conditions?.find((c) => c.type === 'Ready');
  const after = next.conditions?.find((c) => c.type === 'Ready');
  if (after?.status !== 'False') return;
  if (
    before &&
    before.status === after.status &&
    before.reason === after.reason &&
    before.message === after.message
  )
    return;
  const reason = after.reason === 'Invalid' ? 'InvalidConfig' : after.reason;
  deps.event({ kind: 'ModelRoute', metadata: route.metadata }, 'Warning', reason, after.message);
}
