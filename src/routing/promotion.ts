/**
 * Tier promotion: when every target of the tier a request is on failed (or is breaker-open), which tier to try next.
 * Pure: the caller supplies the candidate tiers, breaker health and what the budget can afford.
 *
 *   promotionReason(failure): PromotionReason | undefined     why a tier failed, or undefined when it must not promote
 *   nextTier(input): NextTier                                 { kind: 'promote', step, direction, skipped } | { kind: 'stop', why, ... }
 *   affordPromotion(budgets, route, estimatedUSD): Affordability   the budget's answer to a costlier tier
 *   promotionHeaders(chosenTier, servedTier): headers         x-tiermesh-promoted-from when the served tier differs
 *
 * Direction: `up` (next costlier tier that has a fitting model) while the budget allows; when it says `downgrade`
 * (for this promotion or for the whole request), down to the nearest cheaper tier below the chosen one; when it says
 * `reject`, no promotion (the request fails with the tier's own error). `maxSteps` caps tiers tried after the first.
 */
import type { ModelRouteSpec } from '../api/modelroute.js';
import { fits } from '../budget/reserved.js';
import type { EscalationStep } from './types.js';

export const PROMOTED_FROM_HEADER = 'x-tiermesh-promoted-from';

/** `spec.promotion`: `policy` up | none, `maxSteps` tiers tried after the chosen one. */
export type PromotionPolicy = ModelRouteSpec['promotion'];

/**
 * Why a tier was given up on: the last provider failure of its failover loop (a bounded enum, fit for a metric label),
 * `breaker_open` when every target was open, `no_target` when no target could even be tried.
 */
export type PromotionReason =
  | 'rate_limited'
  | 'server_error'
  | 'timeout'
  | 'connection'
  | 'bad_response'
  | 'auth'
  | 'breaker_open'
  | 'unavailable'
  | 'stream_broken'
  | 'no_target';

const PROMOTABLE = new Set<string>([
  'rate_limited',
  'server_error',
  'timeout',
  'connection',
  'bad_response',
  'auth',
  'breaker_open',
  'unavailable',
  'stream_broken',
]);

/** The shape of the failover loop's error that matters here (providers/failover.ts ExecutionError). */
export interface TierFailure {
  /** The client went away: nobody to serve. */
  aborted: boolean;
  lastReason: string | undefined;
  attempts: number;
}

/**
 * A tier's failure promotes unless the client is gone or the last failure was the client's own (`client_error`: the
 * same request is as wrong on every tier; `quality` belongs to the cascade).
 */
export function promotionReason(f: TierFailure): PromotionReason | undefined {
  if (f.aborted) return undefined;
  if (f.lastReason === undefined) return 'no_target';
  return PROMOTABLE.has(f.lastReason) ? (f.lastReason as PromotionReason) : undefined;
}

export type Affordability =
  | { kind: 'allow' }
  | { kind: 'downgrade'; budget: string }
  | { kind: 'reject'; budget: string };

/** What `affordPromotion` needs from each ModelBudget: its scope, action, and its window as the gate admits against. */
export interface BudgetRoom {
  name: string;
  routeRef: string | undefined;
  action: 'reject' | 'downgrade';
  limitUSD: number;
  /** Booked in the current window. */
  spentUSD: number;
  /** Reserved by the other requests in flight (the promoting request's own reservation left out). */
  reservedUSD: number;
  /** Over a limit already (USD or tokens). */
  exceeded: boolean;
}

/**
 * Whether every budget covering `route` has room for `estimatedUSD`, as the gate admits a request (budget/reserved.ts
 * `fits`: booked + reserved + estimate within the limit): concurrent requests' reservations are room taken. The first
 * that does not answers with its action; a `reject` budget wins over a `downgrade` one, as in the gate.
 */
export function affordPromotion(
  budgets: readonly BudgetRoom[],
  route: string,
  estimatedUSD: number,
): Affordability {
  let downgrade: string | undefined;
  for (const b of budgets) {
    if (b.routeRef !== undefined && b.routeRef !== route) continue;
    if (!b.exceeded && fits(b.limitUSD, b.spentUSD, b.reservedUSD, estimatedUSD)) continue;
    if (b.action === 'reject') return { kind: 'reject', budget: b.name };
    downgrade ??= b.name;
  }
  return downgrade !== undefined ? { kind: 'downgrade', budget: downgrade } : { kind: 'allow' };
}

export interface NextTierInput {
  policy: PromotionPolicy;
  /** Tier index the routing decision chose. */
  chosen: number;
  /** Tier index that just failed (the chosen one, or a promotion of it). */
  from: number;
  /** Promotions made so far on this request. */
  steps: number;
  /** Tiers above the chosen one with a model fitting the request, cheapest first (the decision's `escalation`). */
  above: readonly EscalationStep[];
  /** Tiers below the chosen one with a fitting model, in any order; consulted only when the budget says downgrade. */
  below: readonly EscalationStep[];
  /** The budget gate already downgraded this request: never go up. */
  budgetDowngraded: boolean;
  /** True when every target of every model of the step is breaker-open: skipped without a call. */
  isDown: (step: EscalationStep) => boolean;
  /** The budget's answer to serving from this (costlier) step. */
  afford: (step: EscalationStep) => Affordability;
}

export interface SkippedTier {
  tierName: string;
  why: 'breaker_open';
}

export type NextTier =
  | {
      kind: 'promote';
      step: EscalationStep;
      direction: 'up' | 'down';
      skipped: SkippedTier[];
      budget?: string;
    }
  | {
      kind: 'stop';
      why: 'disabled' | 'max-steps' | 'no-tier' | 'budget-reject';
      skipped: SkippedTier[];
      budget?: string;
    };

export function nextTier(input: NextTierInput): NextTier {
  const skipped: SkippedTier[] = [];
  if (input.policy.policy === 'none') return { kind: 'stop', why: 'disabled', skipped };
  if (input.steps >= input.policy.maxSteps) return { kind: 'stop', why: 'max-steps', skipped };
  let downgradedBy: string | undefined;
  if (!input.budgetDowngraded) {
    for (const step of input.above) {
      if (step.tierIndex <= input.from) continue;
      if (input.isDown(step)) {
        skipped.push({ tierName: step.tierName, why: 'breaker_open' });
        continue;
      }
      const a = input.afford(step);
      if (a.kind === 'allow') return { kind: 'promote', step, direction: 'up', skipped };
      if (a.kind === 'reject') return { kind: 'stop', why: 'budget-reject', skipped, budget: a.budget };
      downgradedBy = a.budget;
      break;
    }
    if (downgradedBy === undefined) return { kind: 'stop', why: 'no-tier', skipped };
  }
  // Down: the nearest cheaper tier first (the closest in quality to what was chosen), never one already tried.
  const floor = Math.min(input.from, input.chosen);
  const down = input.below.filter((s) => s.tierIndex < floor).sort((a, b) => b.tierIndex - a.tierIndex);
  for (const step of down) {
    if (input.isDown(step)) {
      skipped.push({ tierName: step.tierName, why: 'breaker_open' });
      continue;
    }
    return {
      kind: 'promote',
      step,
      direction: 'down',
      skipped,
      ...(downgradedBy !== undefined ? { budget: downgradedBy } : {}),
    };
  }
  return {
    kind: 'stop',
    why: 'no-tier',
    skipped,
    ...(downgradedBy !== undefined ? { budget: downgradedBy } : {}),
  };
}

/** The header that says the answer came from another tier than the one routing chose; none when they agree. */
export function promotionHeaders(chosenTier: string, servedTier: string): Record<string, string> {
  return chosenTier !== '' && chosenTier !== servedTier ? { [PROMOTED_FROM_HEADER]: chosenTier } : {};
}
