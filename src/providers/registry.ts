/** Builds a compiled route's provider adapters once per config version, and turns routed models into a failover plan. */
import type { ModelEntry, Provider } from '../api/modelroute.js';
import type { CompiledRoute } from '../api/snapshot.js';
import { createAnthropicAdapter } from './anthropic.js';
import type { BreakerBoard } from './breaker.js';
import type { ExecutionPlan, Target } from './failover.js';
import { defaultKeyEnv, type KeyEnv, keySource } from './keys.js';
import { createOpenAIAdapter } from './openai.js';
import { createSimulatedAdapter } from './simulated.js';
import type { ProviderAdapter } from './types.js';

export interface RegistryOptions {
  /** Process-wide breakers, so breaker state survives config versions. */
  breakers: BreakerBoard;
  keyEnv?: KeyEnv;
  /** How long a resolved (or missing) key is cached before it is looked up again. */
  keyTtlMs?: number;
}

export interface RouteProviders {
  readonly route: string;
  readonly adapters: ReadonlyMap<string, ProviderAdapter>;
  /** Every target of every given model, in order: model by model, each model's targets in failover order. */
  plan(models: ReadonlyArray<ModelEntry>): ExecutionPlan;
}

export function createAdapter(p: Provider, keyEnv: KeyEnv, keyTtlMs?: number): ProviderAdapter {
  switch (p.type) {
    case 'openai':
    case 'openai-compatible':
      return createOpenAIAdapter(p, keySource(p.apiKey, keyEnv, keyTtlMs));
    case 'anthropic':
      return createAnthropicAdapter(p, keySource(p.apiKey, keyEnv, keyTtlMs));
    case 'simulated':
      return createSimulatedAdapter(p);
  }
}

export function buildRouteProviders(route: CompiledRoute, opts: RegistryOptions): RouteProviders {
  const keyEnv = opts.keyEnv ?? defaultKeyEnv();
  const adapters = new Map(
    route.spec.providers.map((p) => [p.name, createAdapter(p, keyEnv, opts.keyTtlMs)] as const),
  );
  const resilience = route.spec.resilience;
  return {
    route: route.name,
    adapters,
    plan(models) {
      const targets: Target[] = [];
      for (const m of models) {
        for (const t of m.targets) {
          const adapter = adapters.get(t.provider);
          // The compiler rejects routes naming unknown providers; a stale plan skips rather than crashes.
          if (!adapter) continue;
          const upstreamModel = t.model ?? m.name;
          targets.push({
            model: m.name,
            provider: t.provider,
            upstreamModel,
            adapter,
            breaker: opts.breakers.get(t.provider, upstreamModel, resilience.breaker),
          });
        }
      }
      return { targets, resilience };
    },
  };
}
