/**
 * Prompt-cache breakpoints (`cache_control`) of the internal request, for the upstreams that do not take them: OpenAI
 * caches long prefixes by itself and OpenAI-compatible servers may refuse the unknown key, so the OpenAI wire sends
 * the request without them. The Anthropic translation carries them (anthropic-translate.ts); Gemini's builds its own
 * body, which has no place for them (Gemini caches only through explicit cachedContents).
 */
import type { CacheControl, ChatCompletionRequest, ChatMessage } from '../api/openai.js';

type Obj = Record<string, unknown>;

const marked = (o: unknown): boolean =>
  typeof o === 'object' && o !== null && (o as Obj)['cache_control'] !== undefined;

function without(o: Obj): Obj {
  const { cache_control: _, ...rest } = o;
  return rest;
}

/** Whether any message, content part, tool call or tool carries a breakpoint. */
export function hasCacheControl(body: ChatCompletionRequest): boolean {
  for (const m of body.messages) {
    if (marked(m)) return true;
    if (Array.isArray(m.content) && m.content.some(marked)) return true;
    if (Array.isArray(m.tool_calls) && m.tool_calls.some(marked)) return true;
  }
  return Array.isArray(body.tools) && body.tools.some(marked);
}

/**
 * The request without breakpoints; the same object when it has none (the common case costs one scan, no copy). The
 * input is never mutated.
 */
export function withoutCacheControl(body: ChatCompletionRequest): ChatCompletionRequest {
  if (!hasCacheControl(body)) return body;
  const messages = body.messages.map((m) => {
    let out = marked(m) ? (without(m) as typeof m) : m;
    if (Array.isArray(m.content) && m.content.some(marked))
      out = { ...out, content: m.content.map((p) => (marked(p) ? without(p) : p)) as typeof m.content };
    if (Array.isArray(m.tool_calls) && m.tool_calls.some(marked))
      out = { ...out, tool_calls: m.tool_calls.map((c) => (marked(c) ? without(c as Obj) : c)) };
    return out;
  });
  const out: ChatCompletionRequest = { ...body, messages };
  if (Array.isArray(body.tools) && body.tools.some(marked))
    out.tools = body.tools.map((t) => (marked(t) ? (without(t) as typeof t) : t));
  return out;
}

/**
 * Automatic caching on the internal request: a breakpoint on the last block of the last message (its last content
 * part, or its last tool call), unless that already has one. Moving forward with the conversation, it caches the
 * whole prompt so far, as Anthropic's top-level `cache_control` does. Mutates `messages`' last message.
 */
export function markLastBlock(messages: ChatMessage[], cc: CacheControl): void {
  const last = messages.at(-1);
  if (!last) return;
  const mark = <T extends object>(o: T): T => (marked(o) ? o : { ...o, cache_control: cc });
  const calls = last.tool_calls as object[] | undefined;
  if (calls && calls.length > 0) {
    last.tool_calls = [...calls.slice(0, -1), mark(calls.at(-1)!)] as typeof last.tool_calls;
    return;
  }
  if (typeof last.content === 'string')
    last.content = [{ type: 'text', text: last.content, cache_control: cc }] as ChatMessage['content'];
  else if (Array.isArray(last.content) && last.content.length > 0)
    last.content = [...last.content.slice(0, -1), mark(last.content.at(-1)!)] as typeof last.content;
}
