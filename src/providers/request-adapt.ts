/**
 * Per-model request adaptation (`models[].request`), applied after routing to the body one target is sent:
 * providers disagree on parameters (reasoning models refuse `temperature`, some cap output lower than the client
 * asks), so the route says once per model what to default, cap, drop or prefix, and routing stays model-agnostic.
 */
import type { RequestAdaptation } from '../api/modelroute.js';
import type { ChatCompletionRequest } from '../api/openai.js';

type Message = ChatCompletionRequest['messages'][number];

/** The body as this model should get it; the input is never mutated, and without an adaptation it is returned as is. */
export function adaptRequest(
  body: ChatCompletionRequest,
  a: RequestAdaptation | undefined,
): ChatCompletionRequest {
  if (!a) return body;
  const out: Record<string, unknown> = { ...body };
  for (const [k, v] of Object.entries(a.defaults ?? {})) {
    if (v !== undefined && (out[k] === undefined || out[k] === null)) out[k] = v;
  }
  if (a.maxTokensCap !== undefined) {
    for (const k of ['max_tokens', 'max_completion_tokens'] as const) {
      const v = out[k];
      if (typeof v === 'number' && v > a.maxTokensCap) out[k] = a.maxTokensCap;
    }
    // A client that set no limit gets the cap: the model's own default may be above it.
    if (out['max_tokens'] == null && out['max_completion_tokens'] == null) out['max_tokens'] = a.maxTokensCap;
  }
  for (const k of a.drop ?? []) delete out[k];
  if (a.systemPrefix) out['messages'] = withSystemPrefix(body.messages, a.systemPrefix);
  return out as ChatCompletionRequest;
}

function withSystemPrefix(messages: Message[], prefix: string): Message[] {
  const i = messages.findIndex((m) => m.role === 'system' || m.role === 'developer');
  if (i < 0) return [{ role: 'system', content: prefix } as Message, ...messages];
  const m = messages[i]!;
  const content =
    typeof m.content === 'string'
      ? `${prefix}\n\n${m.content}`
      : Array.isArray(m.content)
        ? [{ type: 'text', text: prefix }, ...m.content]
        : prefix;
  const copy = messages.slice();
  copy[i] = { ...m, content } as Message;
  return copy;
}

/** What an adaptation does, in words, for `tiermesh explain`. */
export function describeAdaptation(a: RequestAdaptation | undefined): string[] {
  if (!a) return [];
  const out: string[] = [];
  if (a.systemPrefix) out.push(`system prefix (${a.systemPrefix.length} chars)`);
  for (const [k, v] of Object.entries(a.defaults ?? {})) if (v !== undefined) out.push(`default ${k}=${v}`);
  if (a.maxTokensCap !== undefined) out.push(`cap max_tokens at ${a.maxTokensCap}`);
  for (const k of a.drop ?? []) out.push(`drop ${k}`);
  return out;
}
