/**
 * Cascade: quality checks on a finished answer, and where to escalate when one fails.
 *
 *   checkAnswer(answer, request, checks): CheckResult          { ok: true } | { ok: false, check, detail }
 *   nextEscalation(decision, escalationsSoFar, maxEscalations): EscalationStep | undefined
 *   isRefusal(text): boolean
 *   validateJson(content, responseFormat): string | undefined   why the content is not the JSON asked for
 *
 * Details name the failed rule, never the answer text.
 */
import { z } from 'zod';
import type { ChatCompletionRequest, ResponseFormat } from '../api/openai.js';
import type { EscalationStep, RouteDecision } from './types.js';

export type CascadeCheck = 'empty' | 'refusal' | 'json';

export type CheckResult = { ok: true } | { ok: false; check: CascadeCheck; detail: string };

export interface Answer {
  content: string | null | undefined;
  tool_calls?: unknown[] | undefined;
  /** OpenAI's structured refusal field. */
  refusal?: string | null | undefined;
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
    }
  }
  return { ok: true };
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
