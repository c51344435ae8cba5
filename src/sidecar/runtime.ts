/**
 * Everything the sidecar derives from one config snapshot: per-route provider registries (adapters + failover plans)
 * and the budget gate. Built by the ConfigStore on each new version; breakers and spent budget outlive versions.
 */
import type { Snapshot } from '../api/snapshot.js';
import { type Allowance, BudgetGate } from '../budget/gate.js';
import type { BreakerBoard } from '../providers/breaker.js';
import type { KeyEnv } from '../providers/keys.js';
import { breakerIds, buildRouteProviders, type RouteProviders } from '../providers/registry.js';
import type { LearnedScorer } from '../routing/decide.js';
import { RouteModels } from '../routing/learned/model-ref.js';
import { learnedScorer, withLearnedThresholds } from '../routing/learned/wire.js';

export interface SidecarRuntime {
  readonly snapshot: Snapshot;
  readonly providers: ReadonlyMap<string, RouteProviders>;
  readonly budget: BudgetGate;
  readonly learned: LearnedScorer | undefined;
}

export interface RuntimeDeps {
  /** Process-wide, so breaker state survives config versions. */
  breakers: BreakerBoard;
  keyEnv?: KeyEnv;
  /** The operator's cluster-wide spending cap; absent standalone. */
  allowance?: Allowance;
  /** Defaults to the shipped model, loaded only once a route asks for learned or hybrid classification. */
  learned?: LearnedScorer;
  now?: () => number;
}

export function runtimeBuilder(deps: RuntimeDeps) {
  const now = deps.now ?? Date.now;
  let learned = deps.learned;
  const routeModels = new RouteModels();
  return (compiled: Snapshot, previous: SidecarRuntime | undefined): SidecarRuntime => {
    const usesLearned = compiled.routes.some((r) => r.spec.classifier.mode !== 'rules');
    // modelRef models load (and are validated) first: a bad one refuses the version, the old models stay.
    const models = routeModels.resolve(compiled);
    if (usesLearned) learned ??= learnedScorer(undefined, { modelFor: (r) => routeModels.modelFor(r) });
    // Learned thresholds live on the classifier's percentile scale; translate them once per version, not per request.
    const snapshot = usesLearned
      ? withLearnedThresholds(compiled, undefined, (r) => models.get(r))
      : compiled;
    const opts = { breakers: deps.breakers, ...(deps.keyEnv ? { keyEnv: deps.keyEnv } : {}) };
    const providers = new Map(snapshot.routes.map((r) => [r.name, buildRouteProviders(r, opts)] as const));
    // Same-window spend and rpm state carry over to the new gate, so a reload never resets a budget.
    const budget = previous
      ? previous.budget.update(snapshot.budgets, now())
      : new BudgetGate(snapshot.budgets, { now: now(), allowance: deps.allowance });
    // Last, once nothing can refuse this version: breakers of providers/models it no longer names are dropped.
    deps.breakers.retain(snapshot.routes.flatMap(breakerIds));
    routeModels.commit(models);
    return { snapshot, providers, budget, learned: usesLearned ? learned : undefined };
  };
}
