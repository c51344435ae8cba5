/**
 * The shell around routing/promotion.ts for one request: breaker health from the route's failover plans, budget room
 * from the gate (booked, and reserved by the other requests in flight), the cost of a promotion from the model prices.
 * The execute stage asks it, after every target of a tier failed, where to go next.
 *
 *   const planner = promotionPlanner(runtime, decision, now, () => account.held);
 *   const p = planner.next(fromTierIndex, promotionsSoFar, error);   // undefined: the error is not a tier failure
 *   if (p?.result.kind === 'promote') ... execute p.result.step ...
 */
import { estimateCostUSD } from '../budget/cost.js';
import type { Reservation } from '../budget/types.js';
import { ExecutionError } from '../providers/failover.js';
import type { RouteProviders } from '../providers/registry.js';
import { stepsBelow } from '../routing/decide.js';
import {
  affordPromotion,
  type BudgetRoom,
  type NextTier,
  nextTier,
  type PromotionReason,
  promotionReason,
} from '../routing/promotion.js';
import type { EscalationStep, RouteDecision } from '../routing/types.js';
import type { SidecarRuntime } from './runtime.js';

export interface PlannedPromotion {
  /** Why the tier was given up on (the metric's `reason` label). */
  reason: PromotionReason;
  result: NextTier;
}

export interface PromotionPlanner {
  next(from: number, steps: number, error: unknown): PlannedPromotion | undefined;
}

/** True when the step has targets and every one of them is behind an open breaker: calling would be refused. */
export function tierIsDown(providers: RouteProviders, step: EscalationStep): boolean {
  const targets = providers.plan(step.models).targets;
  return targets.length > 0 && targets.every((t) => t.breaker.state === 'open');
}

/**
 * Each budget's window as the gate admits against it: its limit, what is booked, and what the other requests in
 * flight reserved (`held`, the asking request's own reservations, left out: its promoted answer settles them), with
 * the action it takes when the promotion does not fit.
 */
export function budgetRooms(
  runtime: SidecarRuntime,
  now: number,
  held: readonly Reservation[],
): BudgetRoom[] {
  const reserved = runtime.budget.reserved;
  return runtime.budget.status(now).map((s) => ({
    name: s.name,
    routeRef: s.routeRef,
    action: s.action,
    limitUSD: s.limitUSD,
    spentUSD: s.spentUSD,
    reservedUSD: reserved.othersUSD(s.name, held),
    exceeded: s.state === 'Exceeded',
  }));
}

/**
 * `held`: what the request still holds of its budget reservations (RequestAccount.held), read when a tier fails.
 */
export function promotionPlanner(
  runtime: SidecarRuntime,
  d: RouteDecision,
  now: number,
  held: () => readonly Reservation[],
): PromotionPlanner {
  const providers = runtime.providers.get(d.route);
  // Computed on the first failure only: the request that succeeds on its first tier never pays for it.
  let below: EscalationStep[] | undefined;
  return {
    next(from, steps, error) {
      if (!providers || d.tierIndex < 0 || !(error instanceof ExecutionError)) return undefined;
      const reason = promotionReason(error);
      if (reason === undefined) return undefined;
      below ??= stepsBelow(d);
      // Read afresh at each failed tier: other requests booked, reserved and settled while this one waited on it.
      let rooms: BudgetRoom[] | undefined;
      const result = nextTier({
        policy: d.spec.promotion,
        chosen: d.tierIndex,
        from,
        steps,
        above: d.escalation,
        below,
        budgetDowngraded: d.source === 'budget-downgrade',
        isDown: (s) => tierIsDown(providers, s),
        afford: (s) => {
          rooms ??= budgetRooms(runtime, now, held());
          const usd = estimateCostUSD(s.models[0]!, d.estimatedPromptTokens, d.requestedMaxTokens);
          return affordPromotion(rooms, d.route, usd);
        },
      });
      return { reason, result };
    },
  };
}

/** One promotion as it happened, for the log line and `tiermesh_promotions_total`. */
export interface PromotionEvent {
  from: string;
  to: string;
  direction: 'up' | 'down';
  reason: PromotionReason;
  /** Tiers passed over on the way because every target was breaker-open. */
  skipped: string[];
  /** The downgrade budget that turned the promotion down, if one did. */
  budget?: string;
}

/** Why a failed tier was not promoted, for the log line (the request fails with the tier's own error). */
export interface PromotionStop {
  from: string;
  reason: PromotionReason;
  why: 'disabled' | 'max-steps' | 'no-tier' | 'budget-reject';
  skipped: string[];
  budget?: string;
}

export interface PromotionHooks {
  promoted(e: PromotionEvent): void;
  stopped(e: PromotionStop): void;
}

export interface Promoted<T> {
  value: T;
  /** The step that answered (the chosen tier, or the one promoted to). */
  step: EscalationStep;
  /** The chosen tier's name when another tier answered. */
  promotedFrom: string | undefined;
}

/**
 * Runs `attempt` on the chosen step and, each time it throws a tier failure, on the tier `planner` names next. The
 * last error is rethrown when the planner stops (or the error is not a tier failure: the client's own, an abort).
 */
export async function withPromotion<T>(
  planner: PromotionPlanner,
  first: EscalationStep,
  attempt: (step: EscalationStep) => Promise<T>,
  hooks: PromotionHooks,
): Promise<Promoted<T>> {
  let step = first;
  for (let steps = 0; ; steps++) {
    try {
      const value = await attempt(step);
      return { value, step, promotedFrom: step === first ? undefined : first.tierName };
    } catch (e) {
      const p = planner.next(step.tierIndex, steps, e);
      if (!p) throw e;
      const skipped = p.result.skipped.map((s) => s.tierName);
      const budget = p.result.budget !== undefined ? { budget: p.result.budget } : {};
      if (p.result.kind === 'stop') {
        hooks.stopped({ from: step.tierName, reason: p.reason, why: p.result.why, skipped, ...budget });
        throw e;
      }
      hooks.promoted({
        from: step.tierName,
        to: p.result.step.tierName,
        direction: p.result.direction,
        reason: p.reason,
        skipped,
        ...budget,
      });
      step = p.result.step;
    }
  }
}

/** The decision's own tier as a step, the start of `withPromotion`. */
export function chosenStep(d: RouteDecision): EscalationStep {
  return { tierIndex: d.tierIndex, tierName: d.tierName, models: d.models };
}
