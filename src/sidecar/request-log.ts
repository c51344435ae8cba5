/**
 * What one request leaves behind besides its answer: the one log line and the request metrics, whatever the
 * outcome, and the fallback lines on the way. Log lines hold names, numbers and codes, never what the client sent
 * (the prompt only with --log-prompts).
 */
import type { ChatCompletionRequest } from '../api/openai.js';
import type { TiermeshError } from '../errors.js';
import type { FallbackEvent, Served } from '../providers/failover.js';
import { promptText } from '../routing/features.js';
import { reviewTask } from '../routing/review.js';
import type { RouteDecision } from '../routing/types.js';
import type { Logger } from '../telemetry/logger.js';
import type { SidecarMetrics } from '../telemetry/metrics.js';
import type { Spent } from './accounting.js';
import type { ServedBy } from './respond.js';

const NONE = 'none';
const NOTHING_SPENT: Spent = { costUSD: 0, inputTokens: 0, outputTokens: 0 };

/** What the stages found out about one request, filled in as they run; becomes the log line and the headers. */
export interface RequestTrace {
  readonly id: string;
  readonly started: number;
  stream: boolean;
  request: ChatCompletionRequest | undefined;
  decision: RouteDecision | undefined;
  tier: string;
  served: Served | undefined;
  attempts: number;
  escalations: number;
  spent: Spent;
  /** The decision's tier when tier promotion served the request from another. */
  promotedFrom: string | undefined;
  /** spec.hedge: whether the hedge won or lost, when one was started. */
  hedged?: 'won' | 'lost' | undefined;
  /**
   * The last failed upstream call that another may follow: counted as a fallback once another call is made (the
   * next failure, or the answer that served the request), never when the request ends on it.
   */
  abandoning: FallbackEvent | undefined;
  /** Why tier promotion did not happen, logged with the request's outcome (a warning only if it then failed). */
  promotionStop: Record<string, unknown> | undefined;
  /** The client's W3C trace id (telemetry/trace-context.ts), so the line can be found from its trace. */
  traceId?: string | undefined;
}

export function newTrace(id: string): RequestTrace {
  return {
    id,
    started: performance.now(),
    stream: false,
    request: undefined,
    decision: undefined,
    tier: '',
    served: undefined,
    attempts: 0,
    escalations: 0,
    spent: NOTHING_SPENT,
    promotedFrom: undefined,
    abandoning: undefined,
    promotionStop: undefined,
  };
}

/** The x-tiermesh-* facts, once there is a decision. */
export function servedBy(t: RequestTrace): ServedBy | undefined {
  const d = t.decision;
  if (!d) return undefined;
  const s: ServedBy = {
    // Nothing served: the decided tier's first model, unless promotion moved the request off that tier (its model
    // would then name a tier the request was not on).
    model: t.served?.model ?? (t.promotedFrom === undefined ? d.models[0]?.name : undefined) ?? NONE,
    provider: t.served?.provider ?? NONE,
    tier: t.tier || NONE,
    attempts: t.attempts,
    costUSD: t.spent.costUSD,
  };
  // Only the keys that apply (no throwaway objects to spread, on every request).
  if (t.promotedFrom !== undefined) s.promotedFrom = t.promotedFrom;
  if (d.truncation) s.truncatedMessages = d.truncation.dropped;
  if (t.hedged !== undefined) s.hedged = t.hedged;
  const review = reviewTask(d.spec, d.task);
  if (review !== undefined) s.review = review;
  return s;
}

export interface RequestLogDeps {
  metrics: SidecarMetrics;
  logger: Logger;
  logPrompts: boolean;
}

/** The one log line and the request metrics. */
export function logRequest(deps: RequestLogDeps, t: RequestTrace, status: number, err?: TiermeshError): void {
  const seconds = (performance.now() - t.started) / 1000;
  // An answer served the request after the last failure: that attempt was abandoned for another.
  if (t.abandoning && !err && t.served)
    deps.metrics.fallback(t.abandoning.route, t.abandoning.from.provider, t.abandoning.reason);
  t.abandoning = undefined;
  if (t.promotionStop)
    deps.logger[err ? 'warn' : 'info']({ requestId: t.id, ...t.promotionStop }, 'no promotion');
  const route = t.decision?.route ?? NONE;
  const tier = t.tier || NONE;
  const model = t.served?.model ?? NONE;
  const provider = t.served?.provider ?? NONE;
  deps.metrics.request({ route, tier, model, provider, status, durationSeconds: seconds });
  // An answer went out with x-tiermesh-review: required (a stream that broke later still sent it).
  const review = t.decision && status === 200 ? reviewTask(t.decision.spec, t.decision.task) : undefined;
  if (review !== undefined) deps.metrics.reviewRequired(route, review);
  // Filled in field by field rather than with conditional spreads (a throwaway object each, on every request);
  // the fields keep their order.
  const line: Record<string, unknown> = {
    requestId: t.id,
    route,
    tier,
    model,
    provider,
    source: t.decision?.source,
    stream: t.stream,
    attempts: t.attempts,
    escalations: t.escalations,
  };
  if (t.traceId !== undefined) line['traceId'] = t.traceId;
  if (t.promotedFrom !== undefined) line['promotedFrom'] = t.promotedFrom;
  if (t.decision?.truncation) line['truncatedMessages'] = t.decision.truncation.dropped;
  if (t.hedged !== undefined) line['hedged'] = t.hedged;
  if (review !== undefined) line['review'] = 'required';
  line['status'] = status;
  line['latencyMs'] = Math.round(seconds * 1000);
  line['inputTokens'] = t.spent.inputTokens;
  line['outputTokens'] = t.spent.outputTokens;
  line['costUSD'] = t.spent.costUSD;
  // With --log-prompts the log may hold what the client sent, upstream echoes of it included.
  if (err) line['error'] = deps.logPrompts ? { code: err.code, message: err.message } : err.toLog();
  if (deps.logPrompts && t.request) line['prompt'] = promptText(t.request);
  deps.logger.info(line, 'request');
}

/** Reasons that are no call at all: the target was skipped. */
const SKIPPED = new Set<FallbackEvent['reason']>(['unavailable', 'breaker_open']);

/**
 * A fallback line, and the metric for the failed call before it (see `abandoning`). `detail` is the upstream's own
 * error text, truncated, redacted and without what it echoed of the request (it is what an operator needs to act).
 * Skipped targets (no key, breaker open: every request says so while it lasts) and a client's own bad request are
 * expected, so debug only.
 */
export function logFallback(deps: RequestLogDeps, t: RequestTrace, e: FallbackEvent): void {
  const skipped = SKIPPED.has(e.reason);
  if (!skipped) {
    if (t.abandoning)
      deps.metrics.fallback(t.abandoning.route, t.abandoning.from.provider, t.abandoning.reason);
    t.abandoning = e.action === 'stop' ? undefined : e;
  }
  deps.logger[skipped || e.reason === 'client_error' ? 'debug' : 'warn'](
    {
      requestId: t.id,
      route: e.route,
      from: e.from.provider,
      model: e.from.model,
      reason: e.reason,
      status: e.status,
      latencyMs: e.latencyMs,
      action: e.action,
      ...(e.detail !== undefined
        ? { detail: deps.logPrompts && e.echoed !== undefined ? e.echoed : e.detail }
        : {}),
    },
    'fallback',
  );
}
