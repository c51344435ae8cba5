/** The sidecar's Prometheus metrics, on a registry of their own so tests and embedders never share global state. */
import { Gauge, Registry } from 'prom-client';
import { HotCounter, HotHistogram } from './hot-metrics.js';

export type BreakerState = 'closed' | 'half-open' | 'open';
const breakerValue: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

/** Seconds; upstream LLM calls run from tens of milliseconds (cache hits, tiny prompts) to minutes (long generations). */
const durationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export interface RequestOutcome {
  route: string;
  tier: string;
  model: string;
  provider: string;
  /** HTTP status sent to the client, as a string label. */
  status: number;
  durationSeconds: number;
}

/**
 * Label values are route, tier, model and provider names from the config, budget names and fixed enums: all bounded.
 * User ids and API keys never become labels (unbounded cardinality, personal data, secrets).
 */
export class SidecarMetrics {
  readonly registry = new Registry();
  private readonly requests = new HotCounter(
    'tiermesh_requests_total',
    'Chat completion requests answered, by route, tier, model, provider and HTTP status.',
    ['route', 'tier', 'model', 'provider', 'status'] as const,
    this.registry,
  );
  private readonly requestDuration = new HotHistogram(
    'tiermesh_request_duration_seconds',
    'Time from request received to response end, including every upstream attempt.',
    ['route'] as const,
    durationBuckets,
    this.registry,
  );
  private readonly upstreamDuration = new HotHistogram(
    'tiermesh_upstream_duration_seconds',
    'Time of the upstream call that produced the answer.',
    ['provider', 'model'] as const,
    durationBuckets,
    this.registry,
  );
  private readonly tokens = new HotCounter(
    'tiermesh_tokens_total',
    'Tokens reported by upstreams, by model and direction (input or output).',
    ['model', 'direction'] as const,
    this.registry,
  );
  private readonly cost = new HotCounter(
    'tiermesh_cost_usd_total',
    'Spend in USD at the configured model prices.',
    ['route', 'model'] as const,
    this.registry,
  );
  private readonly saved = new HotCounter(
    'tiermesh_cost_saved_usd_total',
    "USD saved against the route's baselineModel for the same tokens.",
    ['route'] as const,
    this.registry,
  );
  private readonly fallbacks = new HotCounter(
    'tiermesh_fallbacks_total',
    'Upstream attempts abandoned for another attempt, by the provider that failed and why.',
    ['from_provider', 'reason'] as const,
    this.registry,
  );
  private readonly breaker = new Gauge({
    name: 'tiermesh_breaker_state',
    help: 'Circuit breaker per provider and model: 0 closed, 1 half-open, 2 open.',
    labelNames: ['provider', 'model'] as const,
    registers: [this.registry],
  });
  private readonly budgetRemaining = new Gauge({
    name: 'tiermesh_budget_remaining_usd',
    help: 'USD left in the current window of each ModelBudget, as this sidecar sees it.',
    labelNames: ['budget'] as const,
    registers: [this.registry],
  });
  private readonly classifications = new HotCounter(
    'tiermesh_classifications_total',
    'Routing decisions, by route, chosen tier and decision source.',
    ['route', 'tier', 'source'] as const,
    this.registry,
  );
  private readonly shadows = new HotCounter(
    'tiermesh_shadow_requests_total',
    "Background requests to a route's spec.shadow model, by model and outcome (ok or error).",
    ['model', 'outcome'] as const,
    this.registry,
  );
  private readonly configVersion = new Gauge({
    name: 'tiermesh_config_version_info',
    help: 'The config snapshot version this sidecar serves (value 1).',
    labelNames: ['version'] as const,
    registers: [this.registry],
  });

  request(o: RequestOutcome): void {
    this.requests.inc({
      route: o.route,
      tier: o.tier,
      model: o.model,
      provider: o.provider,
      status: String(o.status),
    });
    this.requestDuration.observe({ route: o.route }, o.durationSeconds);
  }

  upstream(provider: string, model: string, seconds: number): void {
    this.upstreamDuration.observe({ provider, model }, seconds);
  }

  usage(
    route: string,
    model: string,
    inputTokens: number,
    outputTokens: number,
    costUSD: number,
    savedUSD: number,
  ): void {
    if (inputTokens > 0) this.tokens.inc({ model, direction: 'input' }, inputTokens);
    if (outputTokens > 0) this.tokens.inc({ model, direction: 'output' }, outputTokens);
    if (costUSD > 0) this.cost.inc({ route, model }, costUSD);
    // A request that cost more than the baseline would have (cascade escalation) is negative savings; counters
    // cannot go down, so only real savings are counted.
    if (savedUSD > 0) this.saved.inc({ route }, savedUSD);
  }

  fallback(fromProvider: string, reason: string): void {
    this.fallbacks.inc({ from_provider: fromProvider, reason });
  }

  breakerState(provider: string, model: string, state: BreakerState): void {
    this.breaker.set({ provider, model }, breakerValue[state]);
  }

  /** A breaker dropped with its provider/model from the config: its series goes too, or it would stick. */
  breakerRemoved(provider: string, model: string): void {
    this.breaker.remove({ provider, model });
  }

  shadow(model: string, outcome: 'ok' | 'error'): void {
    this.shadows.inc({ model, outcome });
  }

  budget(name: string, remainingUSD: number): void {
    this.budgetRemaining.set({ budget: name }, remainingUSD);
  }

  classified(route: string, tier: string, source: string): void {
    this.classifications.inc({ route, tier, source });
  }

  /** Exactly one version series at a time: the old one is removed so dashboards never sum two versions. */
  config(version: string): void {
    this.configVersion.reset();
    this.configVersion.set({ version }, 1);
  }

  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
