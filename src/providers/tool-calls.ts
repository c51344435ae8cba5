/**
 * What translating adapters (Anthropic, Gemini) share about the OpenAI requests they translate: the caller's-fault
 * error, and an assistant message's `tool_calls` read strictly, since both vendors take a tool call's input as a
 * JSON object and neither can carry a malformed one.
 */
import { ProviderError } from './types.js';

/** A request the caller got wrong in a way any upstream would reject: not retryable, answered as a 400. */
export function invalidRequest(message: string): ProviderError {
  return new ProviderError('client_error', message, { status: 400 });
}

export interface OpenAIToolCallIn {
  id: string;
  name: string;
  /** The decoded `function.arguments`: always a JSON object (`{}` when the arguments were empty). */
  args: Record<string, unknown>;
}

/** One `tool_calls[k]` entry at `at` (e.g. `messages.2.tool_calls.0`), validated; errors name the field. */
export function parseToolCall(raw: unknown, at: string): OpenAIToolCallIn {
  const tc = raw as { id?: unknown; type?: unknown; function?: { name?: unknown; arguments?: unknown } };
  if (typeof tc?.id !== 'string' || tc.id === '') throw invalidRequest(`${at}.id is required`);
  if (tc.type !== undefined && tc.type !== 'function') throw invalidRequest(`${at}.type must be "function"`);
  const name = tc.function?.name;
  if (typeof name !== 'string' || name === '') throw invalidRequest(`${at}.function.name is required`);
  const raw_args = tc.function?.arguments;
  let args: unknown = {};
  if (typeof raw_args === 'string' && raw_args.trim() !== '') {
    try {
      args = JSON.parse(raw_args);
    } catch {
      throw invalidRequest(`${at}.function.arguments is not valid JSON`);
    }
  } else if (raw_args !== undefined && typeof raw_args !== 'string') {
    throw invalidRequest(`${at}.function.arguments must be a string`);
  }
  // Both vendors' tool input is an object; a scalar or array here could not have come from a model.
  if (typeof args !== 'object' || args === null || Array.isArray(args))
    throw invalidRequest(`${at}.function.arguments must encode a JSON object`);
  return { id: tc.id, name, args: args as Record<string, unknown> };
}
