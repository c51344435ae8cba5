/** Turns a raw request body into a validated chat-completions request, or a 4xx error naming what is wrong. */
import type { z } from 'zod';
import { MAX_USER_LENGTH } from '../api/common.js';
import { type ChatCompletionRequest, chatCompletionRequest } from '../api/openai.js';
import { describeIssue, fieldPath } from '../config/issues.js';
import { TiermeshError } from '../errors.js';

/** `application/json` with any parameters (charset); a missing content type is accepted, as OpenAI does. */
export function isJsonContentType(value: string | undefined): boolean {
  if (value === undefined || value === '') return true;
  const type = value.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

export function parseChatRequest(contentType: string | undefined, body: Buffer): ChatCompletionRequest {
  return parseJsonBody(chatCompletionRequest, contentType, body);
}

/** Any JSON-object body against its zod schema: 415/400 errors that name the first offending field. */
export function parseJsonBody<S extends z.ZodType>(
  schema: S,
  contentType: string | undefined,
  body: Buffer,
): z.infer<S> {
  if (!isJsonContentType(contentType))
    throw new TiermeshError(
      'TM_UNSUPPORTED_MEDIA_TYPE',
      `content-type must be application/json, got ${contentType}`,
    );
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new TiermeshError('TM_INVALID_JSON', `request body is not valid JSON${jsonErrorPlace(e)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new TiermeshError('TM_INVALID_REQUEST', 'request body must be a JSON object');
  if ((schema as z.ZodType) === chatCompletionRequest) {
    // The common chat request, checked by hand: taken only when zod would return the same object.
    const fast = commonChatRequest(value);
    if (fast) return fast as z.infer<S>;
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    // A strict schema's unknown key: its path is the parent object, the key itself is the field to name.
    const { path, message } =
      issue.code === 'unrecognized_keys' && issue.keys.length > 0
        ? { path: [...issue.path, issue.keys[0]!], message: 'unknown field' }
        : describeIssue(issue, value);
    const param = fieldPath(path);
    throw new TiermeshError('TM_INVALID_REQUEST', `${param}: ${message}`, { param });
  }
  return parsed.data;
}

/**
 * The request most clients send (model, text messages, a few numeric knobs), checked by hand: on the hot path zod's
 * parse cost a few microseconds per request. Answers the value itself only when it is valid under
 * `chatCompletionRequest` AND zod's output would be the same object (same keys, same values, same order: zod writes
 * the schema's fields first, so the keys must already come in the schema's order). Anything else, valid or not,
 * returns undefined and goes through zod, which gives the errors their wording.
 */
export function commonChatRequest(value: object): ChatCompletionRequest | undefined {
  const v = value as Record<string, unknown>;
  let last = -1;
  for (const key in v) {
    const at = FAST_FIELDS.indexOf(key);
    if (at <= last) return undefined;
    last = at;
    if (!FAST_CHECKS[at]!(v[key])) return undefined;
  }
  return last >= 1 && 'model' in v ? (v as ChatCompletionRequest) : undefined;
}

const nullOr = (check: (x: unknown) => boolean) => (x: unknown) => x === null || check(x);
const numberIn = (min: number, max: number) => (x: unknown) => typeof x === 'number' && x >= min && x <= max;
const intIn = (min: number, max: number) => (x: unknown) =>
  Number.isSafeInteger(x) && (x as number) >= min && (x as number) <= max;
const ROLES: ReadonlySet<unknown> = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);

/** `{ role, content: string }` in that order and nothing else. */
function isTextMessage(m: unknown): boolean {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return false;
  let n = 0;
  for (const key in m) {
    if (key !== (n === 0 ? 'role' : 'content') || ++n > 2) return false;
  }
  const { role, content } = m as { role?: unknown; content?: unknown };
  return n === 2 && ROLES.has(role) && typeof content === 'string';
}

/** Fields the fast path checks, in the schema's order, each with the schema's own rule. */
const FAST_FIELDS = [
  'model',
  'messages',
  'stream',
  'temperature',
  'top_p',
  'max_tokens',
  'max_completion_tokens',
  'n',
  'user',
];
const FAST_CHECKS: ReadonlyArray<(x: unknown) => boolean> = [
  (x) => typeof x === 'string' && x.length > 0,
  (x) => Array.isArray(x) && x.length > 0 && x.every(isTextMessage),
  nullOr((x) => typeof x === 'boolean'),
  nullOr(numberIn(0, 2)),
  nullOr(numberIn(0, 1)),
  nullOr(intIn(1, Number.MAX_SAFE_INTEGER)),
  nullOr(intIn(1, Number.MAX_SAFE_INTEGER)),
  nullOr(intIn(1, 128)),
  nullOr((x) => typeof x === 'string' && x.length <= MAX_USER_LENGTH),
];

/**
 * Where JSON.parse gave up, without its message: V8 quotes the text around the error, which is prompt text.
 */
export function jsonErrorPlace(e: unknown): string {
  const m = /at position (\d+)/.exec(e instanceof Error ? e.message : '');
  if (m) return ` (at character ${m[1]})`;
  return e instanceof Error && /end of JSON input/.test(e.message) ? ' (it ends too early)' : '';
}
