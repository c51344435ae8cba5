/**
 * A JSON-able account of a routing decision: what `tiermesh explain` prints and what debug endpoints may return.
 *
 *   explainDecision(decision, latency?): Explanation     latency: the sidecar's observations, when there are any
 *
 * Holds names, numbers and signal names only: never prompt text.
 */
import { DEFAULT_OUTPUT_ESTIMATE, estimateCostUSD } from '../budget/cost.js';
import { describeAdaptation } from '../providers/request-adapt.js';
import { type LatencyView, latencyKey, sloFor } from './latency.js';
import type { DecisionSource, RouteDecision } from './types.js';

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
  tokens: { estimatedPrompt: number; requestedMax: number; assumedOutput: number };
  cost: { estimatedUSD: number; baselineUSD: number | null; estimatedSavingsUSD: number | null };
  /** How each candidate model's request is adapted after routing (`models[].request`). */
  adaptations: Array<{ model: string; changes: string[] }>;
}

/** Six significant digits: enough for fractions of a cent, stable in snapshots of the output. */
function round(x: number): number {
  return Number(x.toPrecision(6));
}

export function explainDecision(
  d: RouteDecision,
  latency?: (key: string) => LatencyView | undefined,
): Explanation {
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
    observations: latency ? observations(d, latency) : [],
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
