/**
 * Cascade: quality checks on a finished answer, and where to escalate when one fails.
 *
 *   checkAnswer(answer, request, checks, thresholds?): CheckResult   { ok: true } | { ok: false, check, detail }
 *   answerOf(completion): Answer                               the first choice, as the checks read it
 *   canEscalate(cascade, escalation, tierIndex): boolean       whether a failed check could move the answer up
 *   checkForCache(completion, request, spec, tierIndex)        the checks an unchecked answer passes to be cached
 *   checkServedAnswer(completion, request, cascade): RecordedCheck   the verdict on an answer served anyway
 *   nextEscalation(decision, escalationsSoFar, maxEscalations): EscalationStep | undefined
 *   isRefusal(text): boolean
 *   isHedging(text): boolean                                   "I'm not sure", "I don't have enough information", ...
 *   logprobStats(logprobs): { mean, min, tokens } | undefined  from an OpenAI choice's `logprobs`
 *   validateJson(content, responseFormat): string | undefined   why the content is not the JSON asked for
 *
 * Details name the failed rule (and numbers), never the answer text. The `judge` check needs a model call, so it is
 * not run here: routing/judge.ts builds its request and reads its score, the execute stage calls it.
 */
import { z } from 'zod';
import type { cascadeChecks, ModelRouteSpec } from '../api/modelroute.js';
import type { ChatCompletion, ChatCompletionRequest, ResponseFormat } from '../api/openai.js';
import type { EscalationStep, RouteDecision } from './types.js';

export type CascadeCheck = (typeof cascadeChecks)[number];

/** Per-route thresholds of the checks that have them (`spec.cascade.logprobs`). */
export type CheckThresholds = Pick<ModelRouteSpec['cascade'], 'logprobs'>;

/** Used when a route lists the logprobs check without thresholds: a mean below e^-1 per token is a guess. */
export const DEFAULT_MIN_MEAN_LOGPROB = -1;

export type CheckResult = { ok: true } | { ok: false; check: CascadeCheck; detail: string };

export interface Answer {
  content: string | null | undefined;
  tool_calls?: unknown[] | undefined;
  /** OpenAI's structured refusal field. */
  refusal?: string | null | undefined;
  /** The choice's `logprobs` as the provider sent it (OpenAI: `{ content: [{ token, logprob }] }`), if it did. */
  logprobs?: unknown;
}

/**
 * Refusals and non-answers, anchored near the start of the answer (or making up a short answer): a long helpful
 * answer that quotes "I can't" in passing is not a refusal. Kept tight on purpose; false positives cost money.
 */
const CANT = "(?:can(?:no|')t|cannot|am unable to|won't be able to|am not able to)";
/** "I can't help but notice ..." is not a refusal. */
const DO = '(?:help(?! but)|assist|answer|comply|do that|fulfil)';
const REFUSAL_OPENERS = new RegExp(
  '^\\W{0,3}(?:' +
    [
      `(?:i'm |i am )?sorry,? (?:but )?i ${CANT} ${DO}`,
      `i ${CANT} ${DO}`,
      `as an ai(?: language model| assistant)?,? i ${CANT}`,
      `unfortunately,? i ${CANT} ${DO}`,
    ].join('|') +
    ')',
  'i',
);
/** "I don't know" counts only as the whole answer: "I don't know the exact figure, but roughly ..." is an answer. */
const NON_ANSWER =
  /^\W{0,3}(?:i do(?:n't| not) know|i'm not sure|i am not sure|no idea|i have no (?:idea|information))\b/i;
const NON_ANSWER_MAX = 100;
/** Only the opening of an answer decides: a refusal that comes after 200 characters of help is not one. */
const HEAD = 200;

const NORMALIZE_QUOTES = /[\u2018\u2019\u02bc]/g;

export function isRefusal(text: string): boolean {
  const head = text.trimStart().slice(0, HEAD).replace(NORMALIZE_QUOTES, "'");
  if (REFUSAL_OPENERS.test(head)) return true;
  return text.trim().length <= NON_ANSWER_MAX && NON_ANSWER.test(head);
}

/**
 * Hedges: the model says it does not know, cannot be sure or lacks information, in other words than a refusal. Like
 * refusals they count only near the start of a short answer, or when a short answer is made of several of them: a
 * long answer with one "I'm not certain, but" in it is an answer with a caveat.
 */
const HEDGES = [
  "i'?m not (?:entirely |completely |totally |100% )?(?:sure|certain)",
  'i am not (?:entirely |completely |totally )?(?:sure|certain)',
  "i (?:do(?:n't| not)|can(?:no|')t|cannot) (?:really )?(?:know|tell|say) for (?:sure|certain)",
  "i (?:do(?:n't| not)) have (?:enough |sufficient |any |the )?(?:information|data|context|details|access)",
  "i (?:can(?:no|')t|cannot) (?:be (?:sure|certain)|verify|confirm|determine)",
  "i'?m (?:unable|not able) to (?:verify|confirm|determine|say)",
  "it'?s (?:hard|difficult|impossible) to (?:say|know|tell|determine)",
  'it is (?:hard|difficult|impossible) to (?:say|know|tell|determine)',
  'i (?:would )?need more (?:information|context|details)',
  'without more (?:information|context|details)',
  'as of my (?:last )?(?:knowledge )?(?:update|cutoff|training)',
  'i (?:may|might|could) be (?:wrong|mistaken)',
  'i (?:think|believe|guess) (?:it )?(?:might|may|could) be',
];
const HEDGE_OPENER = new RegExp(`^\\W{0,3}(?:${HEDGES.join('|')})`, 'i');
const HEDGE_ANY = new RegExp(`\\b(?:${HEDGES.join('|')})`, 'gi');
/** An answer this short that opens with a hedge has not answered. */
const HEDGE_SHORT = 300;
/** An answer this short made of two or more hedges has not either. */
const HEDGE_MULTI = 600;

export function isHedging(text: string): boolean {
  const t = text.trim().replace(NORMALIZE_QUOTES, "'");
  if (t.length === 0) return false;
  if (t.length <= HEDGE_SHORT && HEDGE_OPENER.test(t)) return true;
  if (t.length > HEDGE_MULTI) return false;
  return (t.match(HEDGE_ANY)?.length ?? 0) >= 2;
}

export interface LogprobStats {
  mean: number;
  min: number;
  tokens: number;
}

/** Mean and minimum token logprob of an OpenAI choice's `logprobs.content`; undefined when there are none. */
export function logprobStats(logprobs: unknown): LogprobStats | undefined {
  const content = (logprobs as { content?: unknown } | null | undefined)?.content;
  if (!Array.isArray(content)) return undefined;
  let sum = 0;
  let min = 0;
  let tokens = 0;
  for (const t of content) {
    const lp = (t as { logprob?: unknown } | null)?.logprob;
    if (typeof lp !== 'number' || !Number.isFinite(lp)) continue;
    sum += lp;
    min = tokens === 0 ? lp : Math.min(min, lp);
    tokens++;
  }
  return tokens === 0 ? undefined : { mean: sum / tokens, min, tokens };
}

/** Two decimals: enough to read a threshold decision in a log line. */
const fmt = (x: number) => x.toFixed(2);

/** Compiled response schemas, keyed by their JSON text; bounded so varied client schemas cannot grow memory. */
const schemaCache = new Map<string, z.ZodType | null>();
const SCHEMA_CACHE_MAX = 256;

function compiledSchema(schema: Record<string, unknown>): z.ZodType | null {
  const key = JSON.stringify(schema);
  let s = schemaCache.get(key);
  if (s === undefined) {
    try {
      s = z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
    } catch {
      // A schema the converter does not support is checked as "a JSON value" only, not failed.
      s = null;
    }
    if (schemaCache.size >= SCHEMA_CACHE_MAX) schemaCache.delete(schemaCache.keys().next().value as string);
    schemaCache.set(key, s);
  }
  return s;
}

/** Undefined when `content` is what `format` asked for; otherwise why not (field paths and rules only). */
export function validateJson(content: string, format: ResponseFormat | null | undefined): string | undefined {
  if (!format || format.type === 'text') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(content);
  } catch {
    return 'content is not valid JSON';
  }
  if (format.type === 'json_object') {
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? undefined
      : 'content is not a JSON object';
  }
  const schema = format.json_schema.schema;
  if (!schema) return undefined;
  const zs = compiledSchema(schema);
  if (!zs) return undefined;
  const r = zs.safeParse(value);
  if (r.success) return undefined;
  const first = r.error.issues[0];
  const path = first && first.path.length > 0 ? first.path.map(String).join('.') : '(root)';
  return `content does not match schema "${format.json_schema.name}": ${path}: ${first?.code ?? 'invalid'}`;
}

export function checkAnswer(
  answer: Answer,
  request: Pick<ChatCompletionRequest, 'response_format'>,
  checks: readonly CascadeCheck[],
  thresholds: CheckThresholds = {},
): CheckResult {
  const content = answer.content ?? '';
  const hasTools = (answer.tool_calls?.length ?? 0) > 0;
  for (const check of checks) {
    if (check === 'empty') {
      if (!hasTools && content.trim() === '' && !answer.refusal)
        return { ok: false, check, detail: 'no content and no tool calls' };
    } else if (check === 'refusal') {
      if (answer.refusal) return { ok: false, check, detail: 'model returned a refusal' };
      if (!hasTools && isRefusal(content))
        return { ok: false, check, detail: 'answer reads as a refusal or non-answer' };
    } else if (check === 'json') {
      // Tool calls carry their own arguments; the response format governs message content only.
      if (hasTools && content.trim() === '') continue;
      const why = validateJson(content, request.response_format);
      if (why) return { ok: false, check, detail: why };
    } else if (check === 'hedging') {
      if (!hasTools && isHedging(content))
        return { ok: false, check, detail: 'answer hedges instead of answering' };
    } else if (check === 'logprobs') {
      // No logprobs (the provider does not return them, or they were not asked for): nothing to judge by.
      const stats = logprobStats(answer.logprobs);
      if (!stats) continue;
      const minMean = thresholds.logprobs?.minMean ?? DEFAULT_MIN_MEAN_LOGPROB;
      if (stats.mean < minMean)
        return {
          ok: false,
          check,
          detail: `mean token logprob ${fmt(stats.mean)} below ${fmt(minMean)} over ${stats.tokens} tokens`,
        };
      const minToken = thresholds.logprobs?.minToken;
      if (minToken !== undefined && stats.min < minToken)
        return { ok: false, check, detail: `a token logprob of ${fmt(stats.min)} is below ${fmt(minToken)}` };
    }
    // 'judge' needs a model call: the execute stage runs it after these (routing/judge.ts).
  }
  return { ok: true };
}

/** The first choice of a completion as the checks read it (no choice: an empty answer). */
export function answerOf(c: ChatCompletion): Answer {
  const choice = c.choices[0];
  return { ...(choice?.message ?? { content: '' }), logprobs: choice?.logprobs };
}

/** Whether the cascade can move an answer of `tierIndex` up: it is on, allows an escalation, and has a tier above. */
export function canEscalate(
  cascade: Pick<ModelRouteSpec['cascade'], 'enabled' | 'maxEscalations'>,
  escalation: readonly EscalationStep[],
  tierIndex: number,
): boolean {
  return cascade.enabled && cascade.maxEscalations > 0 && escalation.some((s) => s.tierIndex > tierIndex);
}

/**
 * The checks an answer the cascade did not check must pass to be kept in the response cache: a stream's (assembled
 * after it was relayed; once the first byte is out there is no escalating) or one whose request could not escalate
 * (a priority class's maxTier, a budget downgrade). The cache serves it to every caller whose request has its key
 * (route, tier, request), among them JSON callers the cascade would check and escalate. So: the route's checks
 * whenever the route has a tier above `tierIndex` and the cascade is on, whatever this request's own window was. A
 * check that cannot be run here fails the answer: `judge` (a model call) and, when the request asked for logprobs,
 * `logprobs` (an answer assembled from a stream carries none).
 */
export function checkForCache(
  completion: ChatCompletion,
  request: Pick<ChatCompletionRequest, 'response_format'> & { logprobs?: unknown },
  spec: Pick<ModelRouteSpec, 'cascade' | 'tiers'>,
  tierIndex: number,
): CheckResult {
  const cascade = spec.cascade;
  const above = tierIndex >= 0 && tierIndex < spec.tiers.length - 1;
  if (!above || !cascade.enabled || cascade.maxEscalations === 0) return { ok: true };
  const r = checkAnswer(answerOf(completion), request, cascade.checks, { logprobs: cascade.logprobs });
  if (!r.ok) return r;
  if (cascade.checks.includes('judge'))
    return { ok: false, check: 'judge', detail: 'the judge was not asked about this answer' };
  if (cascade.checks.includes('logprobs') && request.logprobs === true)
    return { ok: false, check: 'logprobs', detail: 'the answer carries no logprobs to check' };
  return { ok: true };
}

/** What the decision log records of an answer no check could send anywhere: `checked` says whether a check ran. */
export type RecordedCheck = CheckResult & { checked: boolean };

/**
 * The verdict on an answer the cascade serves whatever a check says: the last step's, with no tier above or no
 * escalation left. The route's checks run on it only so that the decision log tells a refusal from the top tier from
 * a good answer (`tiermesh outcomes export` labels the strong tier by it); nothing is escalated or retried on it.
 * A cascade that is off or lists no checks runs nothing (so it costs those routes nothing): `checked: false`. So does
 * one whose local checks pass but that lists `judge`: the judge is another model call, on every such request, for a
 * verdict that changes nothing the client gets, so it is not asked, and the answer counts as unchecked.
 */
export function checkServedAnswer(
  completion: ChatCompletion,
  request: Pick<ChatCompletionRequest, 'response_format'>,
  cascade: Pick<ModelRouteSpec['cascade'], 'enabled' | 'checks' | 'logprobs'>,
): RecordedCheck {
  if (!cascade.enabled || cascade.checks.length === 0) return { ok: true, checked: false };
  const r = checkAnswer(answerOf(completion), request, cascade.checks, { logprobs: cascade.logprobs });
  if (!r.ok) return { ...r, checked: true };
  return { ok: true, checked: !cascade.checks.includes('judge') };
}

/**
 * The tier to retry on after a failed check: the next entry of the decision's escalation list, while fewer than
 * `maxEscalations` escalations have been made. Undefined means serve (or fail with) the answer in hand.
 */
export function nextEscalation(
  decision: Pick<RouteDecision, 'escalation'>,
  escalationsSoFar: number,
  maxEscalations: number,
): EscalationStep | undefined {
  if (escalationsSoFar >= maxEscalations) return undefined;
  return decision.escalation[escalationsSoFar];
}
