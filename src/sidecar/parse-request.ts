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
    throw new TiermeshError('TM_INVALID_JSON', `request body is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new TiermeshError('TM_INVALID_REQUEST', 'request body must be a JSON object');
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const param = fieldPath(issue.path);
    // A missing required field reads better as "model is required" than zod's type-level message.
    const missing = issue.code === 'invalid_type' && issue.input === undefined;
    throw new TiermeshError(
      'TM_INVALID_REQUEST',
      missing ? `${param}: required field is missing` : `${param}: ${issue.message}`,
      {
        param,
      },
    );
  }
  return parsed.data;
}
