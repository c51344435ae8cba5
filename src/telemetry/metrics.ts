/** The sidecar's Prometheus metrics, on a registry of their own so tests and embedders never share global state. */
import { Gauge, Registry } from 'prom-client';
import type { BreakerId } from '../providers/breaker.js';
import { HotCounter, HotHistogram } from './hot-metrics.js';

export type BreakerState = 'closed' | 'half-open' | 'open';
const breakerValue: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

/** Feedback scores are in [0, 1]; ratings land on 0 (down) and 1 (up). */
const scoreBuckets = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];

/** Label value for a request that sent no x-tiermesh-task / x-tiermesh-feature, and for an undeclared one. */
export const NO_LABEL = 'none';
export const OTHER_LABEL = 'other';

/**
 * A header value as a bounded metric label: only values the route declares (taskTypes keys, monitoring.features)
 * become labels, anything else is "other", so a client cannot blow up cardinality or smuggle data into metrics.
 */
export function declaredLabel(value: string | undefined, declared: readonly string[] | undefined): string {
  if (value === undefined) return NO_LABEL;
  return declared?.includes(value) ? value : OTHER_LABEL;
}

/** Seconds; upstream LLM calls run from tens of milliseconds (cache hits, tiny prompts) to minutes (long generations). */
const durationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Time to first token: from tens of milliseconds (a small model nearby) to a minute (a reasoning model thinking). */
const ttftBuckets = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Time per output token after the first: ~1 ms (a fast small model) to ~0.5 s (an overloaded one), as vLLM buckets it. */
const tpotBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1];

/** Which spec.queue lane a queue metric is about. */
export interface QueueLabels {
  route: string;
  provider: string;
  model: string;
}

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
  private readonly timeToFirstToken = new HotHistogram(
    'tiermesh_time_to_first_token_seconds',
    'Streams: time from request received to the first chunk with output, as the client waits for it (failover, ' +
      'promotion and queue waits included).',
    ['route', 'provider', 'model'] as const,
    ttftBuckets,
    this.registry,
  );
  private readonly timePerOutputToken = new HotHistogram(
    'tiermesh_time_per_output_token_seconds',
    'Streams that ended cleanly with more than one output token: time after the first chunk per further output token.',
    ['route', 'provider', 'model'] as const,
    tpotBuckets,
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
    "USD saved against the route's baselineModel: per request, what the baseline would have cost for the answer served less everything the request spent, when positive.",
    ['route'] as const,
    this.registry,
  );
  private readonly fallbacks = new HotCounter(
    'tiermesh_fallbacks_total',
    'Failed upstream calls followed by another call (a retry, another target or tier), by route, the provider that failed and why.',
    ['route', 'from_provider', 'reason'] as const,
    this.registry,
  );
  private readonly breaker = new Gauge({
    name: 'tiermesh_breaker_state',
    help: 'Circuit breaker per route, provider and upstream model: 0 closed, 1 half-open, 2 open.',
    labelNames: ['route', 'provider', 'model'] as const,
    registers: [this.registry],
  });
  private budgetStatus: (() => ReadonlyArray<{ name: string; remainingUSD: number }>) | undefined;
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
    "Background requests to a route's spec.shadow model, by model and outcome (ok, error, or dropped: no free spec.queue slot).",
    ['model', 'outcome'] as const,
    this.registry,
  );
  private readonly promotions = new HotCounter(
    'tiermesh_promotions_total',
    'Requests moved to another tier because every target of the tier they were on failed, by route, from and to tier, and the failure reason.',
    ['route', 'from', 'to', 'reason'] as const,
    this.registry,
  );
  private readonly escalations = new HotCounter(
    'tiermesh_cascade_escalations_total',
    "Answers that failed a cascade check and were retried on a costlier tier, by route, the answer's tier and the check.",
    ['route', 'tier', 'check'] as const,
    this.registry,
  );
  private readonly strictRetries = new HotCounter(
    'tiermesh_strict_retries_total',
    'Answers that failed the json check and were asked again on the same tier with a stricter instruction (spec.cascade.strictRetry), by route, tier and outcome (passed, failed, error).',
    ['route', 'tier', 'outcome'] as const,
    this.registry,
  );
  private readonly judgeChecks = new HotCounter(
    'tiermesh_judge_checks_total',
    'Cascade judge calls, by route and outcome (pass, fail, timeout, error, unreadable); all but fail pass the answer.',
    ['route', 'outcome'] as const,
    this.registry,
  );
  private readonly hedgesStarted = new HotCounter(
    'tiermesh_hedges_started_total',
    'Requests for which a hedge (a second target after the spec.hedge delay) was started, by route.',
    ['route'] as const,
    this.registry,
  );
  private readonly hedgesWon = new HotCounter(
    'tiermesh_hedges_won_total',
    'Hedges that answered before the first target, by route.',
    ['route'] as const,
    this.registry,
  );
  private readonly reviews = new HotCounter(
    'tiermesh_review_required_total',
    'Answers sent with x-tiermesh-review: required (spec.review), by route and x-tiermesh-task (declared task types only).',
    ['route', 'task'] as const,
    this.registry,
  );
  private readonly queueDepthGauge = new Gauge({
    name: 'tiermesh_queue_depth',
    help: 'Requests waiting for a spec.queue slot, by route, provider, model and priority (interactive or batch).',
    labelNames: ['route', 'provider', 'model', 'priority'] as const,
    registers: [this.registry],
  });
  private readonly queueWaitSeconds = new HotHistogram(
    'tiermesh_queue_wait_seconds',
    'Time a request waited for a spec.queue slot before its call (0 when one was free), by route, provider, model and priority.',
    ['route', 'provider', 'model', 'priority'] as const,
    durationBuckets,
    this.registry,
  );
  private readonly queueRejections = new HotCounter(
    'tiermesh_queue_rejected_total',
    'Requests answered 429 by spec.queue, by route, provider, model, priority and reason (full, timeout).',
    ['route', 'provider', 'model', 'priority', 'reason'] as const,
    this.registry,
  );
  private readonly tierEscalations = new HotCounter(
    'tiermesh_escalations_total',
    'Requests moved up from the tier that answered first, by route, tiers and why (a cascade check, or a feedback retry).',
    ['route', 'from_tier', 'to_tier', 'reason'] as const,
    this.registry,
  );
  private readonly feedbacks = new HotCounter(
    'tiermesh_feedback_total',
    'Feedback accepted on POST /v1/feedback, by the route, tier and model that answered and its kind (up, down, score).',
    ['route', 'tier', 'model', 'kind'] as const,
    this.registry,
  );
  private readonly feedbackScores = new HotHistogram(
    'tiermesh_feedback_score',
    'Feedback scores in [0, 1] (up = 1, down = 0), by the route, tier and model that answered.',
    ['route', 'tier', 'model'] as const,
    scoreBuckets,
    this.registry,
  );
  private readonly taskCost = new HotCounter(
    'tiermesh_task_cost_usd_total',
    'Spend in USD by route and x-tiermesh-task (declared taskTypes only; "other" or "none" otherwise).',
    ['route', 'task'] as const,
    this.registry,
  );
  private readonly featureCost = new HotCounter(
    'tiermesh_feature_cost_usd_total',
    'Spend in USD by route and x-tiermesh-feature (spec.monitoring.features only; "other" or "none" otherwise).',
    ['route', 'feature'] as const,
    this.registry,
  );
  private readonly budgetLimit = new Gauge({
    name: 'tiermesh_budget_limit_usd',
    help: 'USD limit per window of each ModelBudget (spec.limit.usd), beside tiermesh_budget_remaining_usd.',
    labelNames: ['budget'] as const,
    registers: [this.registry],
  });
  private readonly maxEscalationRate = new Gauge({
    name: 'tiermesh_route_max_escalation_rate',
    help: "Each route's spec.monitoring.maxEscalationRate (default 0.1), for alerts that compare against it.",
    labelNames: ['route'] as const,
    registers: [this.registry],
  });
  private readonly calibrationOffset = new Gauge({
    name: 'tiermesh_route_premium_share_offset',
    help: "Premium share the operator's online calibration (spec.classifier.adapt) adds to each route, as applied here.",
    labelNames: ['route'] as const,
    registers: [this.registry],
  });
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

  /** A stream's first output reached the client `seconds` after the request arrived. */
  firstToken(route: string, provider: string, model: string, seconds: number): void {
    this.timeToFirstToken.observe({ route, provider, model }, seconds);
  }

  /** A clean stream's pace after its first chunk: `seconds` per further output token. */
  perOutputToken(route: string, provider: string, model: string, seconds: number): void {
    this.timePerOutputToken.observe({ route, provider, model }, seconds);
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
    this.requestSaved(route, savedUSD);
  }

  /** One request's (or cache hit's) saving against the baseline, counted once the request is over. */
  requestSaved(route: string, savedUSD: number): void {
    // A request that cost more than the baseline would have (cascade escalation) is negative savings; counters
    // cannot go down, so only real savings are counted.
    if (savedUSD > 0) this.saved.inc({ route }, savedUSD);
  }

  /** By route, as breakers are: another route's provider of the same name is another upstream. */
  fallback(route: string, fromProvider: string, reason: string): void {
    this.fallbacks.inc({ route, from_provider: fromProvider, reason });
  }

  /** One series per breaker: routes naming a provider alike have breakers (and series) of their own. */
  breakerState(id: BreakerId, state: BreakerState): void {
    this.breaker.set({ route: id.route, provider: id.provider, model: id.model }, breakerValue[state]);
  }

  /** A breaker dropped with its route/provider/model from the config: its series goes too, or it would stick. */
  breakerRemoved(id: BreakerId): void {
    this.breaker.remove({ route: id.route, provider: id.provider, model: id.model });
  }

  shadow(model: string, outcome: 'ok' | 'error' | 'dropped'): void {
    this.shadows.inc({ model, outcome });
  }

  private readonly budgetLocalMode = new Gauge({
    name: 'tiermesh_budget_local_mode',
    help: '1 while a budget is served on local knowledge because the operator cannot be asked for allowances.',
    labelNames: ['budget'] as const,
    registers: [this.registry],
  });
  private readonly budgetLocalSpend = new HotCounter(
    'tiermesh_budget_local_spend_usd_total',
    'USD spent beyond operator allowances while the operator was unreachable (counted when it answers again).',
    ['budget'] as const,
    this.registry,
  );

  budgetLocal(name: string, on: boolean): void {
    this.budgetLocalMode.set({ budget: name }, on ? 1 : 0);
  }

  budgetLocalSpent(name: string, usd: number): void {
    this.budgetLocalSpend.inc({ budget: name }, usd);
  }

  budget(name: string, remainingUSD: number): void {
    this.budgetRemaining.set({ budget: name }, remainingUSD);
  }

  /**
   * Where tiermesh_budget_remaining_usd is read from on each scrape and config apply (refreshBudgets): every budget
   * has its series from the start, and a window that rolled over or a budget that only saw rejected requests shows
   * without traffic. Budgets gone from the config lose theirs.
   */
  budgetsFrom(status: () => ReadonlyArray<{ name: string; remainingUSD: number }>): void {
    this.budgetStatus = status;
    this.refreshBudgets();
  }

  refreshBudgets(): void {
    if (!this.budgetStatus) return;
    this.budgetRemaining.reset();
    for (const b of this.budgetStatus()) this.budgetRemaining.set({ budget: b.name }, b.remainingUSD);
  }

  classified(route: string, tier: string, source: string): void {
    this.classifications.inc({ route, tier, source });
  }

  /** `reason` is a bounded enum (routing/promotion.ts PromotionReason); tiers are config names. */
  promotion(route: string, from: string, to: string, reason: string): void {
    this.promotions.inc({ route, from, to, reason });
  }

  /** `check` is a cascade check name (spec.cascade.checks): a bounded enum. */
  escalation(route: string, tier: string, check: string): void {
    this.escalations.inc({ route, tier, check });
  }

  /** A hedge started (counted then, whatever becomes of it), or a started hedge answered first. */
  hedge(route: string, event: 'started' | 'won'): void {
    (event === 'won' ? this.hedgesWon : this.hedgesStarted).inc({ route });
  }

  /** `outcome` is passed | failed | error; tiers are config names. */
  strictRetry(route: string, tier: string, outcome: string): void {
    this.strictRetries.inc({ route, tier, outcome });
  }

  judge(route: string, outcome: string): void {
    this.judgeChecks.inc({ route, outcome });
  }

  /** Queue labels are config names and fixed enums. */
  queueDepth(q: QueueLabels, priority: string, depth: number): void {
    this.queueDepthGauge.set({ ...q, priority }, depth);
  }

  queueWait(q: QueueLabels, priority: string, seconds: number): void {
    this.queueWaitSeconds.observe({ ...q, priority }, seconds);
  }

  queueRejected(q: QueueLabels, priority: string, reason: 'full' | 'timeout'): void {
    this.queueRejections.inc({ ...q, priority, reason });
  }

  /** `task` is a spec.taskTypes key (routing/review.ts only flags declared ones): bounded. */
  reviewRequired(route: string, task: string): void {
    this.reviews.inc({ route, task });
  }

  /** Moves up from the tier that answered: a cascade check or a feedback retry (`reason`), both bounded. */
  escalated(route: string, fromTier: string, toTier: string, reason: string): void {
    this.tierEscalations.inc({ route, from_tier: fromTier, to_tier: toTier, reason });
  }

  feedback(route: string, tier: string, model: string, kind: 'up' | 'down' | 'score', score: number): void {
    this.feedbacks.inc({ route, tier, model, kind });
    this.feedbackScores.observe({ route, tier, model }, score);
  }

  /** `task` and `feature` already bounded by declaredLabel. */
  allocated(route: string, task: string, feature: string, costUSD: number): void {
    if (!(costUSD > 0)) return;
    this.taskCost.inc({ route, task }, costUSD);
    this.featureCost.inc({ route, feature }, costUSD);
  }

  /** Replaces every budget's limit series, as routeTargets does for routes. */
  budgetLimits(budgets: ReadonlyArray<{ budget: string; limitUSD: number }>): void {
    this.budgetLimit.reset();
    for (const b of budgets) this.budgetLimit.set({ budget: b.budget }, b.limitUSD);
  }

  /** Replaces every route's series: a route dropped from the config must not keep its threshold. */
  routeTargets(
    routes: ReadonlyArray<{ route: string; maxEscalationRate: number; calibrationOffset?: number }>,
  ): void {
    this.maxEscalationRate.reset();
    this.calibrationOffset.reset();
    for (const r of routes) {
      this.maxEscalationRate.set({ route: r.route }, r.maxEscalationRate);
      this.calibrationOffset.set({ route: r.route }, r.calibrationOffset ?? 0);
    }
  }

  /** Exactly one version series at a time: the old one is removed so dashboards never sum two versions. */
  config(version: string): void {
    this.configVersion.reset();
    this.configVersion.set({ version }, 1);
  }

  async text(): Promise<{ contentType: string; body: string }> {
    this.refreshBudgets();
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
