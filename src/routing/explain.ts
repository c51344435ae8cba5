/**
 * A JSON-able account of a routing decision: what `tiermesh explain` prints and what debug endpoints may return.
 *
 *   explainDecision(decision, live?): Explanation     live: a running sidecar's latency observations and queues
 *
 * Offline (`tiermesh explain --config`), there is no live state: `live` is false, observations are empty and queue
 * figures null, and `notes` says where to get them (the sidecar's POST /v1/explain, `tiermesh explain --sidecar`).
 * Holds names, numbers and signal names only: never prompt text.
 */
import { DEFAULT_OUTPUT_ESTIMATE, estimateCostUSD } from '../budget/cost.js';
import { describeAdaptation } from '../providers/request-adapt.js';
import { hedgeDelayMs } from './hedge.js';
import { type LatencyView, latencyKey, sloFor } from './latency.js';
import { type QueueClass, queueClass } from './queue.js';
import { reviewTask } from './review.js';
import type { DecisionSource, RouteDecision } from './types.js';

/** What only a running sidecar knows; each part optional. */
export interface LiveState {
  /** Recent latency per target (spec.slo's board for the route). */
  latency?: ((key: string) => LatencyView | undefined) | undefined;
  /** A limited provider-model's slots in use and waiters now (spec.queue); undefined before its first request. */
  queue?:
    | ((
        provider: string,
        model: string,
      ) => { inFlight: number; waiting: Record<QueueClass, number> } | undefined)
    | undefined;
}

export interface Explanation {
  route: string;
  source: DecisionSource;
  tier: { index: number; name: string };
  model: string;
  /** Failover order after `model`, within the tier. */
  fallbacks: string[];
  classification: {
    source: DecisionSource;
    score: number;
    confidence: number;
    /** The tier the score alone maps to, before escalation and context fitting. */
    tier: { index: number; name: string };
    signals: string[];
  };
  escalated: boolean;
  contextBumped: boolean;
  /** Tiers the cascade may move up to, cheapest first. */
  cascade: string[];
  task: string | null;
  /** Capabilities the request needs, each with the field that asked for it. */
  needs: Array<{ capability: string; param: string }>;
  /** Models of the considered tiers passed over, and why (context, max_output_tokens or a missing capability). */
  skipped: Array<{ model: string; tier: string; reason: string }>;
  /** Conversation stickiness: whether the remembered tier/model was kept, and why. */
  sticky: { kept: boolean; reason: string; tier: string; model: string } | null;
  /** The priority class that bounded the tiers, and where it came from (header, user, group or default). */
  priority: { class: string; source: string; minTier: string; maxTier: string } | null;
  /** Old turns the context policy dropped (token counts before and after), when it did. */
  truncation: { droppedMessages: number; promptTokensBefore: number; promptTokensAfter: number } | null;
  /** The latency SLO that applies (spec.slo, or the task type's), when one does. */
  slo: { maxTTFTMs: number | null; maxLatencyMs: number | null; policy: string } | null;
  /** Observations of the chosen models' targets behind latency-aware selection (none outside a running sidecar). */
  observations: Array<{
    model: string;
    provider: string;
    ttftP95Ms: number | null;
    totalP95Ms: number;
    tokensPerSecond: number | null;
    samples: number;
  }>;
  /**
   * spec.queue: the priority class the request would wait in, that class's longest wait, and the in-flight limits of
   * the chosen models' targets; `inFlight` / `waiting` are null offline (or before the target's first request).
   */
  queue: {
    class: QueueClass;
    waitMs: number;
    limits: Array<{
      model: string;
      provider: string;
      maxInFlight: number;
      inFlight: number | null;
      waiting: Record<QueueClass, number> | null;
    }>;
  } | null;
  /**
   * spec.promotion: where the request goes when every target of its tier fails — the costlier tiers that have a
   * fitting model, cheapest first, of which at most `maxSteps` are tried (breakers and budgets decide at run time:
   * an open tier is skipped, a downgrade budget turns the promotion down).
   */
  promotion: { policy: string; maxSteps: number; candidates: string[] };
  /**
   * spec.hedge, when it applies to this request (enabled, the task listed, two targets or more): the delay before
   * the second target starts and where it comes from (`fixed`, or `p95` of the first target's live observations:
   * the whole answer for JSON, the first byte for a stream).
   */
  hedge: { delayMs: number; from: 'fixed' | 'p95'; firstTarget: string; stream: boolean } | null;
  /** spec.review: the request's task is marked requireHumanReview, so its answer says x-tiermesh-review: required. */
  review: { required: true; task: string } | null;
  /** True when explained by a running sidecar with its live observations and queues. */
  live: boolean;
  /** What this explanation could not show, and why (e.g. observations are live-only). */
  notes: string[];
  tokens: { estimatedPrompt: number; requestedMax: number; assumedOutput: number };
  cost: { estimatedUSD: number; baselineUSD: number | null; estimatedSavingsUSD: number | null };
  /** How each candidate model's request is adapted after routing (`models[].request`). */
  adaptations: Array<{ model: string; changes: string[] }>;
}

/** Six significant digits: enough for fractions of a cent, stable in snapshots of the output. */
function round(x: number): number {
  return Number(x.toPrecision(6));
}

export function explainDecision(d: RouteDecision, live?: LiveState): Explanation {
  const first = d.models[0]!;
  const output = d.requestedMaxTokens > 0 ? d.requestedMaxTokens : DEFAULT_OUTPUT_ESTIMATE;
  const estimated = estimateCostUSD(first, d.estimatedPromptTokens, d.requestedMaxTokens);
  const baselineModel = d.spec.models.find((m) => m.name === d.spec.baselineModel);
  const baseline = baselineModel
    ? estimateCostUSD(baselineModel, d.estimatedPromptTokens, d.requestedMaxTokens)
    : null;
  const ci = d.classification.tierIndex;
  return {
    route: d.route,
    source: d.source,
    tier: { index: d.tierIndex, name: d.tierName },
    model: first.name,
    fallbacks: d.models.slice(1).map((m) => m.name),
    classification: {
      source: d.classification.source,
      score: round(d.classification.score),
      confidence: round(d.classification.confidence),
      tier: { index: ci, name: d.spec.tiers[ci]?.name ?? '' },
      signals: d.classification.signals,
    },
    escalated: d.escalated,
    contextBumped: d.contextBumped,
    cascade: d.escalation.map((s) => s.tierName),
    task: d.task ?? null,
    needs: d.needs.map((n) => ({ capability: n.capability, param: n.param })),
    skipped: d.skipped.map((x) => ({ model: x.model, tier: x.tier, reason: x.reason })),
    sticky: d.sticky
      ? {
          kept: d.sticky.kept,
          reason: d.sticky.reason,
          tier: d.spec.tiers[d.sticky.tierIndex]?.name ?? '',
          model: d.sticky.model,
        }
      : null,
    priority: d.priority
      ? {
          class: d.priority.name,
          source: d.priority.source,
          minTier: d.spec.tiers[d.priority.lo]?.name ?? '',
          maxTier: d.spec.tiers[d.priority.hi]?.name ?? '',
        }
      : null,
    truncation: d.truncation
      ? {
          droppedMessages: d.truncation.dropped,
          promptTokensBefore: d.truncation.promptTokensBefore,
          promptTokensAfter: d.truncation.promptTokensAfter,
        }
      : null,
    slo: sloJson(d),
    adaptations: d.models
      .filter((m) => m.request)
      .map((m) => ({ model: m.name, changes: describeAdaptation(m.request) })),
    observations: live?.latency ? observations(d, live.latency) : [],
    promotion: {
      policy: d.spec.promotion.policy,
      maxSteps: d.spec.promotion.maxSteps,
      candidates:
        d.spec.promotion.policy === 'none'
          ? []
          : d.escalation.filter((s) => s.tierIndex > d.tierIndex).map((s) => s.tierName),
    },
    hedge: hedgeJson(d, live),
    queue: queueJson(d, live),
    review: reviewJson(d),
    live: live !== undefined,
    notes: live ? [] : offlineNotes(d),
    tokens: {
      estimatedPrompt: d.estimatedPromptTokens,
      requestedMax: d.requestedMaxTokens,
      assumedOutput: output,
    },
    cost: {
      estimatedUSD: round(estimated),
      baselineUSD: baseline === null ? null : round(baseline),
      estimatedSavingsUSD: baseline === null ? null : round(baseline - estimated),
    },
  };
}

function sloJson(d: RouteDecision): Explanation['slo'] {
  const s = sloFor(d.spec, d.task);
  return s
    ? { maxTTFTMs: s.maxTTFTMs ?? null, maxLatencyMs: s.maxLatencyMs ?? null, policy: s.policy }
    : null;
}

function queueJson(d: RouteDecision, live: LiveState | undefined): Explanation['queue'] {
  const q = d.spec.queue;
  if (!q) return null;
  const cls = queueClass(d, q);
  const limits: NonNullable<Explanation['queue']>['limits'] = [];
  for (const m of d.models)
    for (const t of m.targets) {
      const limit = q.limits.find((l) => l.provider === t.provider && l.model === m.name);
      if (!limit) continue;
      const now = live?.queue?.(t.provider, m.name);
      limits.push({
        model: m.name,
        provider: t.provider,
        maxInFlight: limit.maxInFlight,
        inFlight: now?.inFlight ?? null,
        waiting: now ? { ...now.waiting } : null,
      });
    }
  return { class: cls, waitMs: cls === 'batch' ? q.batchWaitMs : q.waitMs, limits };
}

function hedgeJson(d: RouteDecision, live: LiveState | undefined): Explanation['hedge'] {
  const targets = d.models.flatMap((m) => m.targets.map((t) => ({ m, t })));
  const first = targets[0];
  if (!first || targets.length < 2) return null;
  // A stream is what needs `streaming` (routing/capabilities.ts reads it from `stream: true`).
  const stream = d.needs.some((n) => n.capability === 'streaming');
  const seen = live?.latency?.(latencyKey(first.t.provider, first.t.model ?? first.m.name));
  const p95 = seen ? (stream ? seen.ttftP95Ms : seen.totalP95Ms) : undefined;
  const delayMs = hedgeDelayMs(d.spec, d.task, p95);
  if (delayMs === undefined) return null;
  return {
    delayMs: round(delayMs),
    from: d.spec.hedge?.delay === 'p95' && p95 !== undefined ? 'p95' : 'fixed',
    firstTarget: `${first.t.provider}/${first.m.name}`,
    stream,
  };
}

function reviewJson(d: RouteDecision): Explanation['review'] {
  const task = reviewTask(d.spec, d.task);
  return task === undefined ? null : { required: true, task };
}

/** Offline there is no board and no queue: say so where the route would use them. */
function offlineNotes(d: RouteDecision): string[] {
  const notes: string[] = [];
  const where = 'explain against a running sidecar (POST /v1/explain, tiermesh explain --sidecar <url>)';
  if (sloFor(d.spec, d.task) || (d.spec.hedge?.enabled && d.spec.hedge.delay === 'p95'))
    notes.push(`latency observations are live-only: ${where} to see them`);
  if (d.spec.queue) notes.push(`queue occupancy is live-only: ${where} to see it`);
  return notes;
}

function observations(
  d: RouteDecision,
  latency: (key: string) => LatencyView | undefined,
): Explanation['observations'] {
  const out: Explanation['observations'] = [];
  for (const m of d.models) {
    for (const t of m.targets) {
      const v = latency(latencyKey(t.provider, t.model ?? m.name));
      if (!v) continue;
      out.push({
        model: m.name,
        provider: t.provider,
        ttftP95Ms: v.ttftP95Ms === undefined ? null : round(v.ttftP95Ms),
        totalP95Ms: round(v.totalP95Ms),
        tokensPerSecond: v.tokensPerSecond === undefined ? null : round(v.tokensPerSecond),
        samples: round(v.samples),
      });
    }
  }
  return out;
}
