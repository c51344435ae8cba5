/**
 * The routing decision for one request, pure: snapshot + request + headers in, RouteDecision out (or a TiermeshError).
 *
 *   decide(input: DecideInput): RouteDecision
 *     throws TM_MODEL_NOT_FOUND (param "model") and TM_CONTEXT_TOO_LONG (param "messages", or the max-tokens
 *     field when the prompt alone would fit)
 *   routingHeaders(headers): RoutingHeaders       picks x-tiermesh-task / x-tiermesh-user out of Node's header object
 *   resolveRoute(snapshot, model): ResolvedRoute
 *   fitsModel(model, promptTokens, maxTokens): boolean
 *   LearnedScorer = (text, route) => the prompt's difficulty percentile on the route's traffic, in [0, 1]
 *
 * `model` is "auto" (the snapshot's default route), a ModelRoute name (that route), or a model in some route's
 * registry (that model, failing over across its targets). A route name wins over a model of the same name.
 */

import { createHash } from 'node:crypto';
import type { ModelEntry, ModelRouteSpec } from '../api/modelroute.js';
import type { ChatCompletionRequest } from '../api/openai.js';
import type { CompiledRoute, Snapshot } from '../api/snapshot.js';
import { TiermeshError } from '../errors.js';
import { extractFeatures, promptText } from './features.js';
import { applyRules, compiledClassifier, type Scored, structuralScore } from './rules.js';
import { clamp01, escalate, scoreToTier, thresholdToScore, tierCenter } from './tiering.js';
import { estimateRequestTokens, requestedMaxTokens } from './tokens.js';
import type { Classification, DecisionSource, EscalationStep, RouteDecision } from './types.js';

export type LearnedScorer = (text: string, route: string) => number;

export interface RoutingHeaders {
  task?: string | undefined;
  user?: string | undefined;
}

export interface DecideInput {
  snapshot: Snapshot;
  request: ChatCompletionRequest;
  headers?: RoutingHeaders;
  /** Uniform in [0, 1), drawn by the caller, for `spec.split`. Absent: no split (explain shows the classifier's pick). */
  random?: number;
  /** The learned classifier, for `classifier.mode` learned/hybrid. Absent or failing: the rules decide. */
  learned?: LearnedScorer;
  /** The budget gate said downgrade: serve from the cheapest tier that fits, with no cascade upwards. */
  downgrade?: boolean;
}

export const TASK_HEADER = 'x-tiermesh-task';
export const USER_HEADER = 'x-tiermesh-user';

export function routingHeaders(headers: Record<string, string | string[] | undefined>): RoutingHeaders {
  const one = (v: string | string[] | undefined) => {
    const s = Array.isArray(v) ? v[0] : v;
    const t = s?.trim();
    return t ? t : undefined;
  };
  return { task: one(headers[TASK_HEADER]), user: one(headers[USER_HEADER]) };
}

export interface ResolvedRoute {
  route: CompiledRoute;
  /** Set when the request named a concrete model rather than a route. */
  model?: ModelEntry;
}

export function resolveRoute(snapshot: Snapshot, model: string): ResolvedRoute {
  if (model === 'auto') {
    const route = snapshot.routes.find((r) => r.name === snapshot.defaultRoute) ?? snapshot.routes[0];
    if (!route)
      throw new TiermeshError('TM_MODEL_NOT_FOUND', 'no route is configured for model "auto"', {
        param: 'model',
      });
    return { route };
  }
  const named = snapshot.routes.find((r) => r.name === model);
  if (named) return { route: named };
  // The default route's registry first: when two routes list the same model, "auto" users expect that one.
  const ordered = [
    ...snapshot.routes.filter((r) => r.name === snapshot.defaultRoute),
    ...snapshot.routes.filter((r) => r.name !== snapshot.defaultRoute),
  ];
  for (const route of ordered) {
    const entry = route.spec.models.find((m) => m.name === model);
    if (entry) return { route, model: entry };
  }
  // The client sees the name it sent; our logs only its length and a hash (a "model" may be anything, a prompt too).
  throw new TiermeshError(
    'TM_MODEL_NOT_FOUND',
    `The model \`${model}\` does not exist: use "auto", a route name or a model of a route`,
    { param: 'model', logMessage: `unknown model (${model.length} chars, sha256 ${shortHash(model)})` },
  );
}

export function fitsModel(m: ModelEntry, promptTokens: number, maxTokens: number): boolean {
  return (
    m.contextWindow >= promptTokens + maxTokens &&
    (m.maxOutputTokens === undefined || maxTokens <= m.maxOutputTokens)
  );
}

/** Built once per spec object (one per config version), not once per tier of every request. */
const byNameCache = new WeakMap<ModelRouteSpec, Map<string, ModelEntry>>();
function modelsByName(spec: ModelRouteSpec): Map<string, ModelEntry> {
  let m = byNameCache.get(spec);
  if (!m) {
    m = new Map(spec.models.map((e) => [e.name, e]));
    byNameCache.set(spec, m);
  }
  return m;
}

function tierModels(
  spec: ModelRouteSpec,
  tierIndex: number,
  promptTokens: number,
  maxTokens: number,
): ModelEntry[] {
  const tier = spec.tiers[tierIndex];
  if (!tier) return [];
  const byName = modelsByName(spec);
  // A plain loop: flatMap with a one-element array per model showed up in the sidecar's profile.
  const out: ModelEntry[] = [];
  for (const n of tier.models) {
    const m = byName.get(n);
    if (m && fitsModel(m, promptTokens, maxTokens)) out.push(m);
  }
  return out;
}

function contextTooLong(
  route: string,
  request: ChatCompletionRequest,
  promptTokens: number,
  maxTokens: number,
  models: ModelEntry[],
): TiermeshError {
  const largest = Math.max(0, ...models.map((m) => m.contextWindow));
  // When some model holds the prompt without the requested completion, the completion length is what to change.
  const promptFits = maxTokens > 0 && models.some((m) => fitsModel(m, promptTokens, 0));
  const maxField = request.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens';
  return new TiermeshError(
    'TM_CONTEXT_TOO_LONG',
    `about ${promptTokens} prompt tokens plus ${maxTokens} completion tokens fit no model of route "${route}" ` +
      `(largest context window: ${largest} tokens)`,
    { param: promptFits ? maxField : 'messages' },
  );
}

/** Learned score as a Scored, or undefined when the learned classifier is absent or misbehaves. */
function learnedScored(
  route: string,
  spec: ModelRouteSpec,
  learned: LearnedScorer | undefined,
  text: string,
) {
  if (!learned) return undefined;
  let p: number;
  try {
    p = learned(text, route);
  } catch {
    return undefined;
  }
  if (!Number.isFinite(p)) return undefined;
  p = clamp01(p);
  // The band is passed so that no percentile below the threshold escalates: `premiumShare` is kept exactly.
  const score = thresholdToScore(
    p,
    spec.classifier.threshold,
    spec.tiers.length,
    spec.classifier.confidenceBand,
  );
  // Confidence is 0.5 at a coin flip and 1 at certainty; above the threshold the band still escalates.
  return { score, confidence: 0.5 + Math.abs(p - 0.5), signals: ['learned'] } satisfies Scored;
}

function classify(
  route: string,
  spec: ModelRouteSpec,
  req: ChatCompletionRequest,
  promptTokens: number,
  learned: LearnedScorer | undefined,
): { classification: Classification; escalated: boolean } {
  const compiled = compiledClassifier(spec);
  const text = promptText(req);
  const mode = spec.classifier.mode;
  // Learned mode needs no structural features when the model answers: they cost as much as the model itself.
  const l = mode !== 'rules' ? learnedScored(route, spec, learned, text) : undefined;
  let base: Scored;
  let source: Classification['source'] = 'rules';
  if (mode === 'learned' && l) {
    base = l;
    source = 'learned';
  } else {
    const structural = structuralScore(extractFeatures(req, text, promptTokens));
    if (mode === 'rules') base = structural;
    else if (!l) base = { ...structural, signals: [...structural.signals, 'learned-unavailable'] };
    else {
      base = {
        score: (structural.score + l.score) / 2,
        // Disagreement between the two classifiers is itself uncertainty.
        confidence: Math.min(l.confidence, 1 - Math.abs(structural.score - l.score)),
        signals: [...structural.signals, 'learned'],
      };
      source = 'hybrid';
    }
  }
  const scored = applyRules(compiled, text, base);
  const e = escalate(scored.score, scored.confidence, compiled.tiers, compiled.band);
  const signals = e.reason ? [...scored.signals, `escalated:${e.reason}`] : scored.signals;
  return {
    classification: {
      score: scored.score,
      confidence: scored.confidence,
      tierIndex: scoreToTier(scored.score, compiled.tiers),
      signals,
      source,
    },
    escalated: e.escalated,
  };
}

function pickSplit(spec: ModelRouteSpec, random: number | undefined): ModelEntry | undefined {
  if (random === undefined || !spec.split || spec.split.length === 0) return undefined;
  const r = clamp01(random) * 100;
  let cumulative = 0;
  for (const s of spec.split) {
    cumulative += s.percent;
    if (r < cumulative) return spec.models.find((m) => m.name === s.model);
  }
  return undefined;
}

export function decide(input: DecideInput): RouteDecision {
  const { snapshot, request } = input;
  const { route, model: explicit } = resolveRoute(snapshot, request.model);
  const spec = route.spec;
  const tiers = spec.tiers.length;
  const promptTokens = estimateRequestTokens(request);
  const maxTokens = requestedMaxTokens(request);
  const user = input.headers?.user ?? (request.user || undefined);
  const task = input.headers?.task;
  const base = {
    route: route.name,
    spec,
    estimatedPromptTokens: promptTokens,
    requestedMaxTokens: maxTokens,
    user,
    task,
  };

  if (explicit && !input.downgrade) {
    if (!fitsModel(explicit, promptTokens, maxTokens))
      throw contextTooLong(route.name, request, promptTokens, maxTokens, [explicit]);
    const tierIndex = spec.tiers.findIndex((t) => t.models.includes(explicit.name));
    return {
      ...base,
      source: 'explicit-model',
      tierIndex,
      tierName: spec.tiers[tierIndex]?.name ?? '',
      models: [explicit],
      escalation: [],
      classification: {
        score: tierIndex >= 0 ? tierCenter(tierIndex, tiers) : 0,
        confidence: 1,
        tierIndex,
        signals: ['explicit-model'],
        source: 'explicit-model',
      },
      escalated: false,
      contextBumped: false,
    };
  }

  let source: DecisionSource;
  let classification: Classification;
  let wanted: number;
  let escalated = false;
  const taskTier = task !== undefined && spec.taskTypes ? spec.taskTypes[task] : undefined;
  const taskIndex = taskTier !== undefined ? spec.tiers.findIndex((t) => t.name === taskTier) : -1;
  if (input.downgrade) {
    source = 'budget-downgrade';
    wanted = 0;
    classification = { score: 0, confidence: 1, tierIndex: 0, signals: ['budget-downgrade'], source };
  } else if (taskIndex >= 0) {
    source = 'task';
    wanted = taskIndex;
    classification = {
      score: tierCenter(taskIndex, tiers),
      confidence: 1,
      tierIndex: taskIndex,
      signals: [`task:${task}`],
      source,
    };
  } else {
    const c = classify(route.name, spec, request, promptTokens, input.learned);
    classification =
      task !== undefined
        ? { ...c.classification, signals: [...c.classification.signals, 'unknown-task'] }
        : c.classification;
    source = classification.source;
    escalated = c.escalated;
    wanted = Math.min(tiers - 1, classification.tierIndex + (escalated ? 1 : 0));
  }

  let chosen = wanted;
  let models = tierModels(spec, chosen, promptTokens, maxTokens);
  while (models.length === 0 && chosen < tiers - 1) {
    chosen++;
    models = tierModels(spec, chosen, promptTokens, maxTokens);
  }
  if (models.length === 0) throw contextTooLong(route.name, request, promptTokens, maxTokens, spec.models);

  if (!input.downgrade) {
    const split = pickSplit(spec, input.random);
    if (split && fitsModel(split, promptTokens, maxTokens)) {
      models = [split, ...models.filter((m) => m !== split)];
      source = 'split';
    }
  }

  const escalation: EscalationStep[] = [];
  if (!input.downgrade) {
    for (let i = chosen + 1; i < tiers; i++) {
      const ms = tierModels(spec, i, promptTokens, maxTokens);
      if (ms.length > 0) escalation.push({ tierIndex: i, tierName: spec.tiers[i]!.name, models: ms });
    }
  }

  return {
    ...base,
    source,
    tierIndex: chosen,
    tierName: spec.tiers[chosen]!.name,
    models,
    escalation,
    classification,
    escalated,
    contextBumped: chosen > wanted,
  };
}

/** 12 hex digits of SHA-256: enough to tell repeated unknown names apart in logs, nothing to read back. */
function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}
