/** Turns a raw request body into a validated chat-completions request, or a 4xx error naming what is wrong. */
import type { z } from 'zod';
import { type ChatCompletionRequest, chatCompletionRequest } from '../api/openai.js';
import { fieldPath } from '../config/issues.js';
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
    throw new TiermeshError('TM_INVALID_JSON', `request body is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new TiermeshError('TM_INVALID_REQUEST', 'request body must be a JSON object');
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    // An unknown key's path is its parent; the key itself is the field to name.
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
    const param = fieldPath(keys.length > 0 ? [...issue.path, keys[0]!] : issue.path);
    // A missing required field reads better as "model is required" than zod's type-level message.
    const missing = issue.code === 'invalid_type' && issue.input === undefined;
    const message = missing ? 'required field is missing' : keys.length > 0 ? 'unknown field' : issue.message;
    throw new TiermeshError('TM_INVALID_REQUEST', `${param}: ${message}`, { param });
  }
  return parsed.data;
}
