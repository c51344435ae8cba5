/**
 * What the sidecar remembers of each answered request and each feedback: one call per finished request puts it in
 * the decision ring (for feedback), the decision log (when enabled) and the routing-quality metrics.
 *
 *   new DecisionRecorder({ ring, metrics, log?, logPrompts, now? })
 *     .finished(request: FinishedRequest)    after the answer went out (or failed); returns the ring record
 *     .feedback(event)                       an accepted POST /v1/feedback
 *     .retried(route, fromTier, toTier)      a feedback retry went one tier up
 *   decisionRecord(request, logPrompts): DecisionRecord    pure
 *   decisionEntry(record, request, logPrompts): DecisionEntry   pure: the log line (prompt only with logPrompts)
 *
 * Task and feature labels are bounded here (declaredLabel), so nothing a client sends becomes a free metric label.
 */
import { DECISION_LOG_VERSION, type DecisionEntry, type FeedbackEntry } from '../api/decision-log.js';
import type { ChatCompletionRequest } from '../api/openai.js';
import { promptText } from '../routing/features.js';
import type { RouteDecision } from '../routing/types.js';
import type { DecisionLog } from '../telemetry/decision-log.js';
import { declaredLabel, NO_LABEL, type SidecarMetrics } from '../telemetry/metrics.js';
import {
  type CascadeVerdict,
  type DecisionRecord,
  type DecisionRing,
  escalated,
  featuresFingerprint,
} from './decisions.js';
import type { FeedbackEvent } from './feedback.js';
import type { RoutingTally } from './routing-tally.js';

/** Header apps set to attribute spend to a product feature; only spec.monitoring.features values are kept. */
export const FEATURE_HEADER = 'x-tiermesh-feature';

/**
 * Bodies kept for a retry are capped (about 64 KiB of text): with a 4 MiB body limit and 10 000 ring entries an
 * uncapped ring could hold gigabytes. A longer request's retry must send its messages again.
 */
export const MAX_KEPT_PROMPT_TOKENS = 16_384;

export interface FinishedRequest {
  requestId: string;
  decision: RouteDecision;
  request: ChatCompletionRequest;
  /** Tier, model and provider of the answer the client got ("none" when nothing answered). */
  tier: string;
  model: string;
  provider: string;
  costUSD: number;
  /** One verdict per answer of a tier, in order; a failed one is an escalation to the next entry's tier. */
  cascade: CascadeVerdict[];
  /** Set when tier promotion moved the request off the decision's tier (every target of it failed). */
  promotedFrom?: string | undefined;
  status: number;
  stream: boolean;
  /** Raw x-tiermesh-feature header. */
  feature?: string | undefined;
  /** Set on the decision of a feedback retry: the request it re-ran. */
  retryOf?: string | undefined;
}

export function decisionRecord(f: FinishedRequest, at: number, logPrompts: boolean): DecisionRecord {
  const d = f.decision;
  const c = d.classification;
  // Read directly rather than through monitoringOf(): its default is a zod parse, on every request.
  const declaredFeatures = d.spec.monitoring?.features;
  return {
    requestId: f.requestId,
    at,
    route: d.route,
    initialTier: d.tierName || NO_LABEL,
    tier: f.tier || NO_LABEL,
    model: f.model,
    provider: f.provider,
    source: d.source,
    score: c.score,
    confidence: c.confidence,
    signals: c.signals,
    fingerprint: featuresFingerprint(c.features),
    features: c.features,
    learned: c.learned,
    task: d.task,
    feature: f.feature === undefined ? undefined : declaredLabel(f.feature, declaredFeatures),
    costUSD: f.costUSD,
    cascade: f.cascade,
    status: f.status,
    stream: f.stream,
    // Keeping the body is keeping the prompt: only where prompts may be kept at all, and only a bounded one.
    request: logPrompts && d.estimatedPromptTokens <= MAX_KEPT_PROMPT_TOKENS ? f.request : undefined,
  };
}

export function decisionEntry(
  r: DecisionRecord,
  f: Pick<FinishedRequest, 'decision' | 'request' | 'retryOf' | 'promotedFrom'>,
  logPrompts: boolean,
): DecisionEntry {
  const entry: DecisionEntry = {
    type: 'decision',
    v: DECISION_LOG_VERSION,
    at: new Date(r.at).toISOString(),
    requestId: r.requestId,
    route: r.route,
    initialTier: r.initialTier,
    // Where the first tier sits: only an answer first asked of the cheapest tier compares it with a stronger one.
    tierIndex: f.decision.tierIndex,
    tier: r.tier,
    model: r.model,
    provider: r.provider,
    source: r.source,
    score: r.score,
    confidence: r.confidence,
    signals: r.signals,
    fingerprint: r.fingerprint,
    costUSD: r.costUSD,
    cascade: r.cascade.map((v) => ({ ...v })),
    escalations: r.cascade.filter(escalated).length,
    bandEscalated: f.decision.escalated,
    status: r.status,
    stream: r.stream,
  };
  if (r.features) entry.features = { ...r.features };
  if (r.learned) entry.learned = { ...r.learned, ...(r.learned.tie ? { tie: { ...r.learned.tie } } : {}) };
  if (r.task !== undefined) entry.task = r.task;
  if (r.feature !== undefined) entry.feature = r.feature;
  if (f.promotedFrom !== undefined) entry.promotedFrom = f.promotedFrom;
  if (f.retryOf !== undefined) entry.retryOf = f.retryOf;
  if (logPrompts) entry.prompt = promptText(f.request);
  return entry;
}

export function feedbackEntry(e: FeedbackEvent): FeedbackEntry {
  const entry: FeedbackEntry = {
    type: 'feedback',
    at: new Date(e.at).toISOString(),
    requestId: e.requestId,
    route: e.route,
    tier: e.tier,
    initialTier: e.initialTier,
    model: e.model,
    score: e.score,
    retry: e.retry,
  };
  if (e.rating) entry.rating = e.rating;
  // FeedbackEvent carries a comment only when prompts may be logged (acceptFeedback drops it otherwise).
  if (e.comment !== undefined) entry.comment = e.comment;
  return entry;
}

export interface RecorderDeps {
  ring: DecisionRing;
  metrics: SidecarMetrics;
  log?: DecisionLog | undefined;
  /** Counts for the operator's status.routing, when linked to one. */
  tally?: RoutingTally | undefined;
  logPrompts: boolean;
  now?: () => number;
}

export class DecisionRecorder {
  private readonly now: () => number;
  constructor(private readonly deps: RecorderDeps) {
    this.now = deps.now ?? Date.now;
  }

  finished(f: FinishedRequest): DecisionRecord {
    const r = decisionRecord(f, this.now(), this.deps.logPrompts);
    this.deps.ring.add(r, r.at);
    this.deps.log?.write(decisionEntry(r, f, this.deps.logPrompts));
    const m = this.deps.metrics;
    // A retry's first tier is already one above the answer it replaces: counted once, by the feedback that asked.
    // A failed check recorded on the answer served last (no `to`) moved nothing: it is no escalation.
    if (f.retryOf === undefined)
      for (const v of f.cascade) if (escalated(v)) m.escalated(r.route, v.tier, v.to, v.check ?? 'quality');
    if (f.retryOf === undefined)
      this.deps.tally?.request(r.route, r.initialTier, f.cascade.filter(escalated).length);
    const spec = f.decision.spec;
    m.allocated(
      r.route,
      declaredLabel(r.task, spec.taskTypes ? Object.keys(spec.taskTypes) : undefined),
      r.feature ?? NO_LABEL,
      r.costUSD,
    );
    return r;
  }

  feedback(e: FeedbackEvent): void {
    this.deps.metrics.feedback(e.route, e.tier, e.model, e.rating ?? 'score', e.score);
    this.deps.log?.write(feedbackEntry(e));
    this.deps.tally?.feedback(e.route, e.score);
  }

  /** A feedback retry moved the request from `fromTier` up to `toTier`. */
  retried(route: string, fromTier: string, toTier: string): void {
    this.deps.metrics.escalated(route, fromTier, toTier, 'feedback-retry');
    this.deps.tally?.escalation(route);
  }
}
