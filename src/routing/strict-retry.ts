/**
 * The strict retry (spec.cascade.strictRetry): "if validation fails, ... re-try with stricter system prompts". When
 * an answer fails the `json` check, the same tier is asked once more with a system instruction that spells out the
 * format, before the cascade escalates. Pure: builds the stricter request; execute.ts decides when to send it.
 */
import type { ChatCompletionRequest } from '../api/openai.js';

/** The schema text is sent to the model; past this it is named, not quoted (a huge schema is the model's problem). */
const MAX_SCHEMA_CHARS = 4_000;

/** What the stricter system message says for the request's response_format. */
export function strictInstruction(request: ChatCompletionRequest, detail: string, custom?: string): string {
  const f = request.response_format;
  const lead =
    custom ??
    'Your previous reply was rejected because it was not valid output. Reply with JSON only: no prose, no ' +
      'markdown, no code fences, nothing before or after the JSON.';
  // `detail` comes from validateJson: rules and field paths, never the answer's text.
  const why = `The problem was: ${detail}.`;
  if (f?.type === 'json_schema') {
    const schema = f.json_schema.schema ? JSON.stringify(f.json_schema.schema) : undefined;
    const shape =
      schema !== undefined && schema.length <= MAX_SCHEMA_CHARS
        ? `It must be one JSON value that validates against the JSON schema "${f.json_schema.name}": ${schema}`
        : `It must be one JSON value that validates against the JSON schema "${f.json_schema.name}".`;
    return `${lead} ${why} ${shape}`;
  }
  return `${lead} ${why} It must be one JSON object.`;
}

/**
 * The request again with the stricter instruction as a system message right after the leading system/developer
 * messages (where every adapter reads system text), the conversation otherwise untouched.
 */
export function strictRequest(
  request: ChatCompletionRequest,
  detail: string,
  custom?: string,
): ChatCompletionRequest {
  const messages = request.messages;
  let at = 0;
  while (at < messages.length && (messages[at]!.role === 'system' || messages[at]!.role === 'developer'))
    at++;
  const instruction = { role: 'system' as const, content: strictInstruction(request, detail, custom) };
  return { ...request, messages: [...messages.slice(0, at), instruction, ...messages.slice(at)] };
}
