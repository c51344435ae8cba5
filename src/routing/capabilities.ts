/**
 * Capability checks before dispatch: what a request needs (from its fields, never its text) and which models lack it.
 *
 *   requestNeeds(request): Need[]                         vision, tools, legacy_functions, json_schema, streaming, ...
 *   lacking(spec, model, needs): Capability | undefined   the first need the model cannot serve
 *   capabilityError(subject, needs): TiermeshError        400 when no model of the route (or the named model) serves them
 *   providerDecline(type, request): string | undefined    for the adapters: the first need their provider cannot carry
 *   thinkingStyle(type, upstreamModel)                    how a target thinks (anthropic budget, OpenAI effort, Gemini)
 *   wantsThinking(request), canThink(spec, model)         routing's preference for a model that can think
 *
 * A model's `capabilities` are what the config declares; an absent field means supported, so routes that declare
 * nothing behave as before. Some limits follow from the provider instead (PROVIDER_LIMITS): what the Anthropic or
 * Gemini translation cannot carry without answering a different question (n > 1, logprobs, a whitespace-only stop
 * sequence, an image URL Gemini would have to fetch, ...). A model served only by such targets lacks those whatever it
 * declares, and the adapters decline the same requests (`providerDecline`) so failover within a model reaches a
 * capable target: one table decides both.
 */
import type { ModelEntry, ModelRouteSpec, ProviderType } from '../api/modelroute.js';
import type { ChatCompletionRequest } from '../api/openai.js';
import { TiermeshError } from '../errors.js';
import { isOpenAIReasoningModel } from '../providers/request-adapt.js';
import { requestedThinking } from '../providers/thinking.js';

export type Capability =
  | 'vision'
  | 'tools'
  | 'legacy_functions'
  | 'json_schema'
  | 'streaming'
  | 'other_parts'
  /** n > 1: several choices in one answer. */
  | 'choices'
  /** n > 8: more candidates than Gemini returns. */
  | 'many_choices'
  | 'logprobs'
  /** A stop sequence of whitespace only ("\n"): Anthropic refuses them. */
  | 'blank_stop'
  /** An http(s) image URL, which the provider would have to fetch. */
  | 'image_urls'
  /** Image parts in a `tool` message. */
  | 'tool_images'
  /** `modalities: ["audio"]` or `audio`: a spoken answer. */
  | 'audio_output';

export interface Need {
  capability: Capability;
  /** The request field that asks for it, for explain and for a 400's `param`. */
  param: string;
}

/** Content part types that are images, in the OpenAI chat format and its newer variants. */
const IMAGE_PARTS = new Set(['image_url', 'input_image', 'image']);

/** Capabilities each provider type cannot carry, whatever the model declares. */
const PROVIDER_LIMITS: Partial<Record<ProviderType, ReadonlySet<Capability>>> = {
  anthropic: new Set<Capability>([
    'legacy_functions',
    'other_parts',
    'choices',
    'many_choices',
    'logprobs',
    'blank_stop',
    'audio_output',
  ]),
  gemini: new Set<Capability>([
    'legacy_functions',
    'many_choices',
    'logprobs',
    'image_urls',
    'tool_images',
    'audio_output',
  ]),
};

const VENDOR: Partial<Record<ProviderType, string>> = { anthropic: 'Anthropic', gemini: 'Gemini' };

/**
 * Needs a model's `request.drop` takes away before any target sees them: dropping every field that asks for one
 * means the model no longer needs it (an operator who drops `n` for a Claude model wants one choice from it).
 */
const DROPPED_BY: Partial<Record<Capability, readonly string[]>> = {
  choices: ['n'],
  many_choices: ['n'],
  logprobs: ['logprobs', 'top_logprobs'],
  blank_stop: ['stop'],
};

/** Declared capability field per need; needs without one are decided by the providers only. */
const DECLARED: Partial<Record<Capability, keyof NonNullable<ModelEntry['capabilities']>>> = {
  vision: 'vision',
  tools: 'tools',
  legacy_functions: 'tools',
  json_schema: 'jsonSchema',
  streaming: 'streaming',
};

/** Each capability once, with the first field that asked for it. A plain loop: this runs on every request. */
export function requestNeeds(req: ChatCompletionRequest): Need[] {
  const needs: Need[] = [];
  const seen = new Set<Capability>();
  const add = (capability: Capability, param: string) => {
    if (seen.has(capability)) return;
    seen.add(capability);
    needs.push({ capability, param });
  };
  const r = req as ChatCompletionRequest & { tools?: unknown; functions?: unknown; function_call?: unknown };
  if (Array.isArray(r.tools) && r.tools.length > 0) add('tools', 'tools');
  if ((Array.isArray(r.functions) && r.functions.length > 0) || r.function_call != null) {
    add('legacy_functions', Array.isArray(r.functions) ? 'functions' : 'function_call');
  }
  if (req.response_format?.type === 'json_schema') add('json_schema', 'response_format');
  if (req.stream === true) add('streaming', 'stream');
  if (typeof req.n === 'number' && req.n > 1) {
    add('choices', 'n');
    if (req.n > 8) add('many_choices', 'n');
  }
  const lp = req as { logprobs?: unknown; top_logprobs?: unknown; modalities?: unknown; audio?: unknown };
  if (lp.logprobs === true) add('logprobs', 'logprobs');
  else if (typeof lp.top_logprobs === 'number' && lp.top_logprobs > 0) add('logprobs', 'top_logprobs');
  if (req.stop != null) {
    const stops = typeof req.stop === 'string' ? [req.stop] : req.stop;
    if (stops.some((s) => s !== '' && s.trim() === '')) add('blank_stop', 'stop');
  }
  if (Array.isArray(lp.modalities) && lp.modalities.includes('audio')) add('audio_output', 'modalities');
  else if (lp.audio != null) add('audio_output', 'audio');
  for (let i = 0; i < req.messages.length; i++) {
    const m = req.messages[i]!;
    // A conversation already in a tool loop can only be continued by a model that speaks tools.
    if (m.role === 'tool' || (m.tool_calls?.length ?? 0) > 0) add('tools', `messages[${i}]`);
    if (m.role === 'function') add('legacy_functions', `messages[${i}]`);
    const c = m.content;
    if (!Array.isArray(c)) continue;
    for (let j = 0; j < c.length; j++) {
      const t = c[j]!.type;
      if (t === 'text') continue;
      const param = `messages[${i}].content[${j}]`;
      if (!IMAGE_PARTS.has(t)) {
        add('other_parts', param);
        continue;
      }
      add('vision', param);
      if (m.role === 'tool') add('tool_images', param);
      if (t === 'image_url' && /^https?:\/\//i.test(imageUrl(c[j]))) add('image_urls', param);
    }
  }
  return needs;
}

function imageUrl(part: unknown): string {
  const iu = (part as { image_url?: unknown }).image_url;
  const url = typeof iu === 'string' ? iu : (iu as { url?: unknown } | undefined)?.url;
  return typeof url === 'string' ? url : '';
}

const EMPTY: ReadonlySet<Capability> = new Set();

/** Capabilities every target's provider type lacks, per model; built once per spec (config version). */
const providerLimitCache = new WeakMap<ModelRouteSpec, Map<string, ReadonlySet<Capability>>>();
function providerLimits(spec: ModelRouteSpec, model: ModelEntry): ReadonlySet<Capability> {
  let byModel = providerLimitCache.get(spec);
  if (!byModel) {
    byModel = new Map();
    const types = new Map(spec.providers.map((p) => [p.name, p.type] as const));
    for (const m of spec.models) {
      // A capability is missing only when no target can carry it: one capable target means failover reaches it.
      let common: Set<Capability> | undefined;
      for (const t of m.targets) {
        const type = types.get(t.provider);
        const limits = (type && PROVIDER_LIMITS[type]) || EMPTY;
        common = new Set(common === undefined ? limits : [...common].filter((c) => limits.has(c)));
        if (common.size === 0) break;
      }
      byModel.set(m.name, common ?? new Set());
    }
    providerLimitCache.set(spec, byModel);
  }
  return byModel.get(model.name) ?? EMPTY;
}

/** The first need `model` cannot serve, or undefined when it serves them all. */
export function lacking(
  spec: ModelRouteSpec,
  model: ModelEntry,
  needs: readonly Need[],
): Capability | undefined {
  if (needs.length === 0) return undefined;
  const declared = model.capabilities;
  const limits = providerLimits(spec, model);
  for (const n of needs) {
    const field = DECLARED[n.capability];
    if (field && declared?.[field] === false) return n.capability;
    if (limits.has(n.capability) && !droppedFor(model, n.capability)) return n.capability;
  }
  return undefined;
}

function droppedFor(model: ModelEntry, c: Capability): boolean {
  const fields = DROPPED_BY[c];
  const drop = model.request?.drop;
  return fields !== undefined && drop !== undefined && fields.every((f) => (drop as string[]).includes(f));
}

/**
 * For the adapters of `type`: why they decline `request` (the first need their translation cannot carry), or
 * undefined. The same table as `lacking`, so routing never sends a model's only targets what they would decline.
 */
export function providerDecline(type: ProviderType, request: ChatCompletionRequest): string | undefined {
  const limits = PROVIDER_LIMITS[type];
  if (!limits) return undefined;
  for (const n of requestNeeds(request))
    if (limits.has(n.capability))
      return `${WHAT[n.capability]} (asked for by ${n.param}) is not translated to ${VENDOR[type] ?? type}`;
  return undefined;
}

const WHAT: Record<Capability, string> = {
  vision: 'image input',
  tools: 'tool calling',
  legacy_functions: 'the legacy functions API',
  json_schema: 'response_format json_schema',
  streaming: 'streaming',
  other_parts: 'content parts other than text and images',
  choices: 'more than one choice (n > 1)',
  many_choices: 'more than 8 choices (n > 8)',
  logprobs: 'logprobs',
  blank_stop: 'whitespace-only stop sequences',
  image_urls: 'image URLs (send the image as a base64 data URL)',
  tool_images: 'images in tool messages',
  audio_output: 'audio output',
};

/**
 * No model of the route (or the requested model) can serve what the request asks for: the client must change it.
 * `needs` is the one need nothing serves, or every need when only their combination is unserved.
 */
export function capabilityError(
  subject: { route: string } | { model: string },
  needs: readonly Need[],
): TiermeshError {
  const what = needs.map((n) => `${WHAT[n.capability]} (asked for by ${n.param})`).join(', ');
  const message =
    'route' in subject
      ? `no model of route "${subject.route}" supports ${needs.length > 1 ? 'all of: ' : ''}${what}`
      : `model "${subject.model}" does not support ${what}`;
  return new TiermeshError('TM_INVALID_REQUEST', message, { param: needs[0]!.param });
}

/**
 * How a target reasons, by provider type and upstream model id: `anthropic` takes `thinking` (Claude 3.7 and every
 * Claude 4 and later; Claude 3.5 and older refuse it), `effort` takes `reasoning_effort` (OpenAI's o-series and gpt-5
 * families on openai or azure-openai), `gemini` takes `thinkingConfig` (2.5 and later). Undefined: the target cannot
 * be asked to think (OpenAI-compatible servers, whose models are unknown; a client's own `reasoning_effort` still
 * reaches them as sent). Thinking is a preference, never a need: a request asking for it is served without it by a
 * target that cannot think (docs/providers.md, "Extended thinking").
 */
export type ThinkingStyle = 'anthropic' | 'effort' | 'gemini';

const CLAUDE_WITHOUT_THINKING = /claude-(?:instant|2|3-(?!7))/;
const GEMINI_THINKING = /gemini-(?:2\.5|[3-9])/;

export function thinkingStyle(type: ProviderType, upstreamModel: string): ThinkingStyle | undefined {
  const id = upstreamModel.toLowerCase();
  switch (type) {
    case 'anthropic':
      return CLAUDE_WITHOUT_THINKING.test(id) ? undefined : 'anthropic';
    case 'openai':
    case 'azure-openai':
      return isOpenAIReasoningModel(id) ? 'effort' : undefined;
    case 'gemini':
      return GEMINI_THINKING.test(id) ? 'gemini' : undefined;
    default:
      return undefined;
  }
}

/** Whether the request asks for thinking: Anthropic's `thinking` config other than `disabled`. */
export function wantsThinking(req: ChatCompletionRequest): boolean {
  return requestedThinking(req) !== undefined;
}

/** Models with a target that can think, per spec (config version). */
const thinkerCache = new WeakMap<ModelRouteSpec, Set<string>>();

/** Whether some target of `model` can think: routing puts such models first in a tier for a request that wants it. */
export function canThink(spec: ModelRouteSpec, model: ModelEntry): boolean {
  let thinkers = thinkerCache.get(spec);
  if (!thinkers) {
    thinkers = new Set();
    const types = new Map(spec.providers.map((p) => [p.name, p.type] as const));
    for (const m of spec.models)
      for (const t of m.targets) {
        const type = types.get(t.provider);
        if (type && thinkingStyle(type, t.model ?? m.name)) {
          thinkers.add(m.name);
          break;
        }
      }
    thinkerCache.set(spec, thinkers);
  }
  return thinkers.has(model.name);
}
