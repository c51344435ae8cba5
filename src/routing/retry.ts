/**
 * Where a feedback `retry` goes: the decision for the same request moved to the first tier above the one that
 * served it, keeping the tiers above that as its own escalation path.
 *
 *   oneTierUp(decision, servedTier): RouteDecision | undefined   undefined when nothing above has a fitting model
 */
import type { EscalationStep, RouteDecision } from './types.js';

export function oneTierUp(d: RouteDecision, servedTier: string): RouteDecision | undefined {
  const served = d.spec.tiers.findIndex((t) => t.name === servedTier);
  // A fresh decision may land below, at, or above the tier that served; every step it knows is a candidate.
  const steps: EscalationStep[] = [
    { tierIndex: d.tierIndex, tierName: d.tierName, models: d.models },
    ...d.escalation,
  ];
  const i = steps.findIndex((s) => s.tierIndex > served && s.models.length > 0);
  if (i < 0) return undefined;
  const up = steps[i]!;
  return {
    ...d,
    tierIndex: up.tierIndex,
    tierName: up.tierName,
    models: up.models,
    escalation: steps.slice(i + 1),
  };
}
