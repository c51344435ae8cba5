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
  return parseJsonRequest(chatCompletionRequest, contentType, body);
}

/** A JSON request body validated by one of the accepted-request schemas of src/api (chat, Responses, Messages). */
export function parseJsonRequest<T>(schema: z.ZodType<T>, contentType: string | undefined, body: Buffer): T {
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
    const { path, message } = describeIssue(parsed.error.issues[0]!, value);
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
