/** Turns a raw request body into a validated chat-completions request, or a 4xx error naming what is wrong. */
import type { z } from 'zod';
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
 * Where JSON.parse gave up, without its message: V8 quotes the text around the error, which is prompt text.
 */
export function jsonErrorPlace(e: unknown): string {
  const m = /at position (\d+)/.exec(e instanceof Error ? e.message : '');
  if (m) return ` (at character ${m[1]})`;
  return e instanceof Error && /end of JSON input/.test(e.message) ? ' (it ends too early)' : '';
}
