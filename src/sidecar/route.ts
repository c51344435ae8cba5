/**
 * The decide and gate stages: which route, tier and models a request goes to, and whether its budgets let it go
 * there. The gate needs the decision (route, cost estimate); a `downgrade` verdict decides again, cheapest tier.
 */
import type { ModelEntry } from '../api/modelroute.js';
import { estimateCostUSD } from '../budget/cost.js';
import type { Reservation } from '../budget/types.js';
import { TiermeshError } from '../errors.js';
import { decide } from '../routing/decide.js';
import type { StickyState } from '../routing/sticky.js';
import type { RouteDecision } from '../routing/types.js';
import type { InboundRequest } from './inbound.js';
import type { SidecarRuntime } from './runtime.js';
import { pickShadow } from './shadow.js';

/**
 * Decide: route, tier and models for the request. Pure given `random` (for `spec.split`) and `sticky` (where the
 * conversation was served last, spec.stickiness), but for the learned scorer, which adds the prompt to its route's
 * window; `readOnly` (/v1/explain) scores with its `peek` instead: the same decision, nothing remembered.
 */
export function decideRoute(
  runtime: SidecarRuntime,
  inbound: InboundRequest,
  random: number,
  sticky?: StickyState,
  opts: { readOnly?: boolean } = {},
): RouteDecision {
  const learned = opts.readOnly ? (runtime.learned?.peek ?? runtime.learned) : runtime.learned;
  return decide({
    snapshot: runtime.snapshot,
    request: inbound.request,
    headers: inbound.headers,
    random,
    ...(sticky ? { sticky } : {}),
    ...(learned ? { learned } : {}),
  });
}

export interface Gated {
  /** The decision to serve: the first one, or the cheapest-tier one under a downgrade. */
  decision: RouteDecision;
  /** What the budgets (and the allowance) reserved for this request; settled by the first booked answer or released. */
  reservations: Reservation[];
  /** The shadow model this request also goes to, if any (never under a downgrade: a shadow is optional spend). */
  shadow: ModelEntry | undefined;
}

/** Gate: the budgets' verdict. Throws TM_BUDGET_EXCEEDED / TM_RATE_LIMITED (with Retry-After) on a reject. */
export function gate(
  runtime: SidecarRuntime,
  inbound: InboundRequest,
  decision: RouteDecision,
  now: number,
  random: number,
): Gated {
  const verdict = runtime.budget.check({
    route: decision.route,
    user: decision.user,
    estimatedUSD: preCallEstimateUSD(decision),
    now,
  });
  if (verdict.kind === 'reject')
    throw new TiermeshError(verdict.code, verdict.message, { retryAfter: verdict.retryAfterSeconds });
  if (verdict.kind === 'downgrade') {
    const cheapest = decide({
      snapshot: runtime.snapshot,
      request: inbound.request,
      headers: inbound.headers,
      downgrade: true,
      ...(runtime.learned ? { learned: runtime.learned } : {}),
    });
    // Reserved at the cheapest tier's estimate (check reserved nothing for a downgrade): a request estimated at
    // the premium price would hold back what others may spend, and one held at nothing would not be counted.
    const again = runtime.budget.checkDowngraded(
      { route: cheapest.route, user: cheapest.user, estimatedUSD: preCallEstimateUSD(cheapest), now },
      verdict.budget,
    );
    if (again.kind === 'reject')
      throw new TiermeshError(again.code, again.message, { retryAfter: again.retryAfterSeconds });
    return { decision: cheapest, reservations: again.reservations, shadow: undefined };
  }
  const shadow = decision.spec.shadow ? pickShadow(decision.spec, random, decision.models) : undefined;
  return { decision, reservations: verdict.reservations, shadow };
}

/**
 * What the gate reserves before the call: the first model's price for the estimated prompt plus the completion the
 * client asked for (`max_completion_tokens`/`max_tokens`, else a default), capped by the model's `maxOutputTokens`.
 */
export function preCallEstimateUSD(d: RouteDecision): number {
  const model = d.models[0];
  return model ? estimateCostUSD(model, d.estimatedPromptTokens, d.requestedMaxTokens) : 0;
}
