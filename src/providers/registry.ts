/** Builds a compiled route's provider adapters once per config version, and turns routed models into a failover plan. */
import type { ModelEntry, Provider } from '../api/modelroute.js';
import type { CompiledRoute } from '../api/snapshot.js';
import { createAnthropicAdapter } from './anthropic.js';
import { createAzureOpenAIAdapter } from './azure-openai.js';
import type { BreakerBoard, BreakerId } from './breaker.js';
import type { ExecutionPlan, Target } from './failover.js';
import { createGeminiAdapter } from './gemini.js';
import { defaultKeyEnv, type KeyEnv, keySource, tokenSource } from './keys.js';
import { createOpenAIAdapter } from './openai.js';
import { createOpenAIResponsesAdapter } from './openai-responses.js';
import { targetAdaptation } from './request-adapt.js';
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
  /** Every target of every given model, in order: model by model, each model's targets in failover order. Read-only. */
  plan(models: ReadonlyArray<ModelEntry>): ExecutionPlan;
}

export function createAdapter(p: Provider, keyEnv: KeyEnv, keyTtlMs?: number): ProviderAdapter {
  switch (p.type) {
    case 'openai':
    case 'openai-compatible':
      return createOpenAIAdapter(p, keySource(p.apiKey, keyEnv, keyTtlMs));
    case 'anthropic':
      return createAnthropicAdapter(p, keySource(p.apiKey, keyEnv, keyTtlMs));
    case 'gemini':
      return createGeminiAdapter(p, keySource(p.apiKey, keyEnv, keyTtlMs));
    case 'azure-openai':
      return createAzureOpenAIAdapter(
        p,
        p.azure?.auth === 'bearer' ? tokenSource(p.apiKey, keyEnv) : keySource(p.apiKey, keyEnv, keyTtlMs),
      );
    case 'simulated':
      return createSimulatedAdapter(p);
  }
}

export function buildRouteProviders(route: CompiledRoute, opts: RegistryOptions): RouteProviders {
  const keyEnv = opts.keyEnv ?? defaultKeyEnv();
  const adapters = new Map(
    route.spec.providers.map((p) => [p.name, createAdapter(p, keyEnv, opts.keyTtlMs)] as const),
  );
  // The same providers on the Responses API, for the targets that say so (request.api), made on first use.
  const responsesAdapters = new Map<string, ProviderAdapter>();
  const responsesAdapter = (provider: string): ProviderAdapter | undefined => {
    const hit = responsesAdapters.get(provider);
    if (hit) return hit;
    const p = route.spec.providers.find((x) => x.name === provider);
    // The compiler allows it on these two only; another type keeps its own adapter.
    if (p?.type !== 'openai' && p?.type !== 'openai-compatible') return undefined;
    const made = createOpenAIResponsesAdapter(p, keySource(p.apiKey, keyEnv, opts.keyTtlMs));
    responsesAdapters.set(provider, made);
    return made;
  };
  const resilience = route.spec.resilience;
  // Each model's targets are resolved once per config version, on first use: a request then costs no breaker lookup,
  // and a request still running on this version keeps its breakers even after a newer version dropped them.
  const resolved = new Map<string, { entry: ModelEntry; plan: ExecutionPlan }>();
  const targetsOf = (m: ModelEntry): ExecutionPlan => {
    const hit = resolved.get(m.name);
    if (hit?.entry === m) return hit.plan;
    const targets: Target[] = [];
    for (const t of m.targets) {
      const chat = adapters.get(t.provider);
      // The compiler rejects routes naming unknown providers; a stale plan skips rather than crashes.
      if (!chat) continue;
      const upstreamModel = t.model ?? m.name;
      const request = targetAdaptation(chat.type, m, upstreamModel);
      const adapter = (request?.api === 'responses' && responsesAdapter(t.provider)) || chat;
      targets.push({
        model: m.name,
        provider: t.provider,
        upstreamModel,
        adapter,
        // This route's own breaker: another route's provider of the same name is another upstream.
        breaker: opts.breakers.get(
          { route: route.name, provider: t.provider, model: upstreamModel },
          resilience.breaker,
        ),
        ...(request ? { request } : {}),
      });
    }
    const plan = { targets, resilience };
    // Only the route's own entries are kept (decisions always hand those out), so the cache stays this route's size.
    if (!hit && route.spec.models.includes(m)) resolved.set(m.name, { entry: m, plan });
    return plan;
  };
  return {
    route: route.name,
    adapters,
    plan(models) {
      if (models.length === 1) return targetsOf(models[0]!);
      return { targets: models.flatMap((m) => targetsOf(m).targets), resilience };
    },
  };
}

/** Every breaker a route can use (each target of each model), for `BreakerBoard.retain`. */
export function breakerIds(route: CompiledRoute): BreakerId[] {
  return route.spec.models.flatMap((m) =>
    m.targets.map((t) => ({ route: route.name, provider: t.provider, model: t.model ?? m.name })),
  );
}
