/**
 * The routing decision for one request, pure: snapshot + request + headers in, RouteDecision out (or a TiermeshError).
 *
 *   decide(input: DecideInput): RouteDecision
 *     throws TM_MODEL_NOT_FOUND (param "model") and TM_CONTEXT_TOO_LONG (param "messages", or the max-tokens
 *     field when the prompt alone would fit)
 *     throws TM_INVALID_REQUEST (param: the field asking for it) when no model can serve a capability the request needs
 *     throws TM_INVALID_REQUEST (param "x-tiermesh-priority") for a priority the route does not define
 *   routingHeaders(headers): RoutingHeaders       picks x-tiermesh-task / -user / -priority / -group out of Node's headers
 *   resolveRoute(snapshot, model): ResolvedRoute
 *   fitsModel(model, promptTokens, maxTokens): boolean
 *   stepsBelow(decision): EscalationStep[]       tiers below the chosen one that fit the request (tier promotion, down)
 *   LearnedScorer = (text, route) => the prompt's difficulty percentile on the route's traffic, in [0, 1]; its
 *     optional `tie` is the last call's tie run (a score shared with others: signal "learned-tie") and `gain` the
 *     model's own score; both land in `classification.learned`
 *
 * Context policy (spec.context, routing/context.ts): a prompt over maxInputTokens, or fitting no model of the tier the
 * classifier chose, is promoted (default), rejected, or truncated (oldest turns first; `decision.truncation` then
 * carries the request to send). A priority class (routing/priority.ts) bounds the tiers; a budget downgrade still
 * goes to the cheapest tier.
 *
 * `model` is "auto" (the snapshot's default route), a ModelRoute name (that route), or a model in some route's
 * registry (that model, failing over across its targets). A route name wins over a model of the same name.
 */

import { createHash } from 'node:crypto';
import { MAX_USER_LENGTH } from '../api/common.js';
import type { ModelEntry, ModelRouteSpec } from '../api/modelroute.js';
import type { ChatCompletionRequest } from '../api/openai.js';
import type { CompiledRoute, Snapshot } from '../api/snapshot.js';
import { TiermeshError } from '../errors.js';
import {
  canThink,
  capabilityError,
  lacking,
  type Need,
  requestNeeds,
  wantsThinking,
} from './capabilities.js';
import { overRouteLimit, tierTooSmall, truncateOldest } from './context.js';
import { extractFeatures, type Features, promptText } from './features.js';
import { GROUP_HEADER, PRIORITY_HEADER, priorityWindow } from './priority.js';
import { applyRules, compiledClassifier, type Scored, structuralScore } from './rules.js';
import { inToolLoop, SESSION_HEADER, type StickyState, stickyTier } from './sticky.js';
import { clamp01, escalate, scoreToTier, thresholdToScore, tierCenter } from './tiering.js';
import { estimateRequestTokens, requestedMaxTokens } from './tokens.js';
import type {
  Classification,
  DecisionSource,
  EscalationStep,
  LearnedScore,
  RouteDecision,
  SkippedModel,
} from './types.js';

export interface LearnedScorer {
  (text: string, route: string): number;
  /**
   * Set by each call when the scorer knows it: the percentile interval [lo, hi] the prompt's score shares with equal
   * scores (lo = hi when untied). A tied prompt's percentile is its place inside, from a hash of its text.
   */
  readonly tie?: { readonly lo: number; readonly hi: number };
  /** Set by each call when the scorer knows it: the model's own output for the prompt (its predicted gain). */
  readonly gain?: number;
  /**
   * The same scoring, remembering nothing (no sample added to the route's window): what /v1/explain asks, so an
   * explain predicts exactly what a real request would get and moves no real request's percentile. Absent: the
   * scorer itself remembers nothing.
   */
  readonly peek?: LearnedScorer;
}

export interface RoutingHeaders {
  task?: string | undefined;
  user?: string | undefined;
  /** x-tiermesh-priority: a class of the route's spec.priority. */
  priority?: string | undefined;
  /** x-tiermesh-group: looked up in spec.priority.groups. */
  group?: string | undefined;
  /** x-tiermesh-session: the conversation, for spec.stickiness. */
  session?: string | undefined;
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
  /** Where this conversation was served last (spec.stickiness; the sidecar's StickyMap), if it is remembered. */
  sticky?: StickyState | undefined;
}

export const TASK_HEADER = 'x-tiermesh-task';
export const USER_HEADER = 'x-tiermesh-user';

/** A routing header's value: the first one sent, trimmed; undefined when absent or blank. */
function one(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  const t = s?.trim();
  return t ? t : undefined;
}

export function routingHeaders(headers: Record<string, string | string[] | undefined>): RoutingHeaders {
  const out: RoutingHeaders = { task: one(headers[TASK_HEADER]), user: one(headers[USER_HEADER]) };
  // Held per budget window and reported to the operator: the bound of the request body's `user`.
  if (out.user !== undefined && out.user.length > MAX_USER_LENGTH)
    throw new TiermeshError(
      'TM_INVALID_REQUEST',
      `${USER_HEADER} must be at most ${MAX_USER_LENGTH} characters`,
      {
        param: 'user',
      },
    );
  // Only when sent, so the common request's object keeps its shape.
  const priority = one(headers[PRIORITY_HEADER]);
  const group = one(headers[GROUP_HEADER]);
  const session = one(headers[SESSION_HEADER]);
  if (priority !== undefined) out.priority = priority;
  if (group !== undefined) out.group = group;
  if (session !== undefined) out.session = session;
  return out;
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

/** Why `m` cannot take the request, or undefined when it can. */
function unfit(
  spec: ModelRouteSpec,
  m: ModelEntry,
  promptTokens: number,
  maxTokens: number,
  needs: readonly Need[],
): SkippedModel['reason'] | undefined {
  if (!fitsModel(m, promptTokens, maxTokens)) {
    return m.maxOutputTokens !== undefined && maxTokens > m.maxOutputTokens ? 'max_output_tokens' : 'context';
  }
  return lacking(spec, m, needs);
}

function tierModels(
  spec: ModelRouteSpec,
  tierIndex: number,
  promptTokens: number,
  maxTokens: number,
  needs: readonly Need[] = [],
  skipped?: SkippedModel[],
): ModelEntry[] {
  const tier = spec.tiers[tierIndex];
  if (!tier) return [];
  const byName = modelsByName(spec);
  // A plain loop: flatMap with a one-element array per model showed up in the sidecar's profile.
  const out: ModelEntry[] = [];
  for (const n of tier.models) {
    const m = byName.get(n);
    if (!m) continue;
    const why = unfit(spec, m, promptTokens, maxTokens, needs);
    if (why === undefined) out.push(m);
    else skipped?.push({ model: m.name, tier: tier.name, reason: why });
  }
  return out;
}

/**
 * Tiers below the decision's with a model that fits the request, nearest first: where a tier promotion goes when the
 * budget says downgrade. Computed on demand, off the hot path.
 */
export function stepsBelow(d: RouteDecision): EscalationStep[] {
  const out: EscalationStep[] = [];
  for (let i = d.tierIndex - 1; i >= 0; i--) {
    const ms = tierModels(d.spec, i, d.estimatedPromptTokens, d.requestedMaxTokens, d.needs);
    if (ms.length > 0) out.push({ tierIndex: i, tierName: d.spec.tiers[i]!.name, models: ms });
  }
  return out;
}

/**
 * What to name in the 400 when capabilities left no model of `models` that fits: the first need none of them serves
 * on its own, else every need (only the combination is unserved). Undefined when capabilities are not the problem.
 */
function unservedNeeds(
  spec: ModelRouteSpec,
  models: readonly ModelEntry[],
  promptTokens: number,
  maxTokens: number,
  needs: readonly Need[],
): Need[] | undefined {
  const fitting = models.filter((m) => fitsModel(m, promptTokens, maxTokens));
  if (fitting.length === 0 || fitting.some((m) => lacking(spec, m, needs) === undefined)) return undefined;
  const one = needs.find((n) => fitting.every((m) => lacking(spec, m, [n]) !== undefined));
  return one ? [one] : [...needs];
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
  // A tied score's place in its run comes from the prompt's hash, not from the model: the model is only as sure
  // as the middle of the run, and the signal says a tie was split.
  const tie = learned.tie;
  const tied = tie !== undefined && tie.hi > tie.lo;
  const at = tied ? clamp01((tie.lo + tie.hi) / 2) : p;
  const gain = learned.gain;
  // What the model said and where that placed the prompt, apart from the tier-scale score derived from them.
  const said: LearnedScore =
    gain !== undefined && Number.isFinite(gain) ? { gain, percentile: p } : { percentile: p };
  if (tied) said.tie = { lo: tie.lo, hi: tie.hi };
  // Confidence is 0.5 at a coin flip and 1 at certainty; above the threshold the band still escalates.
  return {
    score,
    confidence: 0.5 + Math.abs(at - 0.5),
    signals: tied ? ['learned', 'learned-tie'] : ['learned'],
    learned: said,
  } satisfies Scored & { learned: LearnedScore };
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
  let features: Features | undefined;
  if (mode === 'learned' && l) {
    base = l;
    source = 'learned';
  } else {
    features = extractFeatures(req, text, promptTokens);
    const structural = structuralScore(features);
    if (mode === 'rules') base = structural;
    else if (!l) base = { ...structural, signals: [...structural.signals, 'learned-unavailable'] };
    else {
      base = {
        score: (structural.score + l.score) / 2,
        // Disagreement between the two classifiers is itself uncertainty.
        confidence: Math.min(l.confidence, 1 - Math.abs(structural.score - l.score)),
        signals: [...structural.signals, ...l.signals],
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
      ...(features ? { features } : {}),
      ...(l && source !== 'rules' ? { learned: l.learned } : {}),
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

/** Thrown inside decideOnce when the context policy says truncate; `error` is what to answer if truncating fails. */
class NeedsTruncation {
  constructor(
    readonly limitTokens: number,
    readonly error: TiermeshError,
  ) {}
}

export function decide(input: DecideInput): RouteDecision {
  try {
    return decideOnce(input, true);
  } catch (e) {
    if (!(e instanceof NeedsTruncation)) throw e;
    const t = truncateOldest(input.request, e.limitTokens);
    if (!t) throw e.error;
    // The truncated request is what the model will see: classify and fit that one.
    const d = decideOnce({ ...input, request: t.request }, false);
    return { ...d, truncation: t };
  }
}

function decideOnce(input: DecideInput, mayTruncate: boolean): RouteDecision {
  const { snapshot, request } = input;
  const { route, model: explicit } = resolveRoute(snapshot, request.model);
  const spec = route.spec;
  const tiers = spec.tiers.length;
  const promptTokens = estimateRequestTokens(request);
  const maxTokens = requestedMaxTokens(request);
  const user = input.headers?.user ?? (request.user || undefined);
  const task = input.headers?.task;
  const needs = requestNeeds(request);
  const skipped: SkippedModel[] = [];
  const ctx = spec.context;
  const truncates = mayTruncate && ctx.policy === 'truncate-oldest';
  if (ctx.maxInputTokens !== undefined && promptTokens > ctx.maxInputTokens) {
    const err = overRouteLimit(route.name, promptTokens, ctx.maxInputTokens);
    throw truncates ? new NeedsTruncation(ctx.maxInputTokens, err) : err;
  }
  const base = {
    route: route.name,
    spec,
    estimatedPromptTokens: promptTokens,
    requestedMaxTokens: maxTokens,
    user,
    task,
    needs,
    skipped,
  };

  if (explicit && !input.downgrade) {
    if (!fitsModel(explicit, promptTokens, maxTokens)) {
      const err = contextTooLong(route.name, request, promptTokens, maxTokens, [explicit]);
      const room = explicit.contextWindow - maxTokens;
      throw truncates && fitsModel(explicit, 0, maxTokens) ? new NeedsTruncation(room, err) : err;
    }
    const unserved = unservedNeeds(spec, [explicit], promptTokens, maxTokens, needs);
    if (unserved) throw capabilityError({ model: explicit.name }, unserved);
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

  // Under a budget downgrade the budget wins over a class's minTier: money is the harder limit.
  const window = priorityWindow(spec, {
    priority: input.headers?.priority,
    user,
    group: input.headers?.group,
  });
  const lo = window && !input.downgrade ? window.lo : 0;
  const hi = window ? window.hi : tiers - 1;
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
  let stuck: RouteDecision['sticky'];
  if (input.sticky && spec.stickiness?.enabled && !input.downgrade && source !== 'task') {
    const v = stickyTier(
      input.sticky,
      classification.score,
      tiers,
      spec.stickiness.margin,
      inToolLoop(request),
    );
    stuck = { kept: v.keep, reason: v.reason, tierIndex: input.sticky.tierIndex, model: input.sticky.model };
    if (v.keep && input.sticky.tierIndex < tiers) wanted = input.sticky.tierIndex;
  }
  wanted = Math.min(hi, Math.max(lo, wanted));

  let chosen = wanted;
  let models = tierModels(spec, chosen, promptTokens, maxTokens, needs, skipped);
  if (models.length === 0 && ctx.policy !== 'promote')
    contextPolicy(spec, route.name, chosen, truncates, {
      promptTokens,
      maxTokens,
      needs,
    });
  while (models.length === 0 && chosen < hi) {
    chosen++;
    models = tierModels(spec, chosen, promptTokens, maxTokens, needs, skipped);
  }
  // A capability only a cheaper tier has: serving it there beats failing (a context bump never helps downwards).
  if (models.length === 0 && needs.length > 0) {
    for (let i = wanted - 1; i >= lo; i--) {
      models = tierModels(spec, i, promptTokens, maxTokens, needs, skipped);
      if (models.length > 0) {
        chosen = i;
        break;
      }
    }
  }
  if (models.length === 0) {
    const unserved = unservedNeeds(spec, spec.models, promptTokens, maxTokens, needs);
    if (unserved) throw capabilityError({ route: route.name }, unserved);
    throw contextTooLong(route.name, request, promptTokens, maxTokens, spec.models);
  }
  // Thinking is a preference, not a need: the tier's models that can think go first, and a tier without one serves
  // the request without thinking rather than send it to another tier or refuse it (capabilities.ts).
  if (wantsThinking(request)) models = thinkersFirst(spec, models);

  if (!input.downgrade) {
    const split = pickSplit(spec, input.random);
    if (
      split &&
      unfit(spec, split, promptTokens, maxTokens, needs) === undefined &&
      inWindow(spec, split, window)
    ) {
      models = [split, ...models.filter((m) => m !== split)];
      source = 'split';
    }
  }

  // The model that asked for the tools reads their results; otherwise the conversation's model leads its tier.
  if (stuck?.kept && chosen === stuck.tierIndex) {
    const same = models.find((m) => m.name === stuck.model);
    if (same) models = [same, ...models.filter((m) => m !== same)];
  }

  const escalation: EscalationStep[] = [];
  if (!input.downgrade) {
    for (let i = chosen + 1; i <= hi; i++) {
      const ms = tierModels(spec, i, promptTokens, maxTokens, needs);
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
    ...(window ? { priority: window } : {}),
    ...(stuck ? { sticky: stuck } : {}),
  };
}

/**
 * The chosen tier has no model that fits: under `reject` that is a 400 naming the counts; under `truncate-oldest`,
 * truncate to what the tier's largest capable model holds. Returns when the tier is not too small, only incapable
 * (the capability search then applies), or when nothing can be cut to fit.
 */
function contextPolicy(
  spec: ModelRouteSpec,
  route: string,
  tierIndex: number,
  truncates: boolean,
  r: { promptTokens: number; maxTokens: number; needs: readonly Need[] },
): void {
  const tier = spec.tiers[tierIndex];
  if (!tier) return;
  const byName = modelsByName(spec);
  const capable = tier.models
    .map((n) => byName.get(n))
    .filter((m): m is ModelEntry => m !== undefined && fitsModel(m, 0, r.maxTokens))
    .filter((m) => lacking(spec, m, r.needs) === undefined);
  if (capable.length === 0) return;
  const largest = Math.max(...capable.map((m) => m.contextWindow));
  const err = tierTooSmall(route, tier.name, r.promptTokens, r.maxTokens, largest, spec.context.policy);
  if (!truncates) {
    if (spec.context.policy === 'reject') throw err;
    return;
  }
  const room = Math.min(largest - r.maxTokens, spec.context.maxInputTokens ?? Number.POSITIVE_INFINITY);
  throw new NeedsTruncation(room, err);
}

/** `models` with those that can think first, each group in its own order; the same array when nothing moves. */
function thinkersFirst(spec: ModelRouteSpec, models: ModelEntry[]): ModelEntry[] {
  const thinkers = models.filter((m) => canThink(spec, m));
  if (thinkers.length === 0 || thinkers.length === models.length) return models;
  return [...thinkers, ...models.filter((m) => !canThink(spec, m))];
}

/** A split model may serve a prioritised request only from a tier inside the class's window. */
function inWindow(spec: ModelRouteSpec, m: ModelEntry, w: ReturnType<typeof priorityWindow>): boolean {
  if (!w) return true;
  const i = spec.tiers.findIndex((t) => t.models.includes(m.name));
  return i >= w.lo && i <= w.hi;
}

/** 12 hex digits of SHA-256: enough to tell repeated unknown names apart in logs, nothing to read back. */
function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}
