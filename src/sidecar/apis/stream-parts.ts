/**
 * What one internal stream chunk says, as the parts every outbound stream format is built from: text, refusal
 * text, the start of a tool call (the first fragment with its index), argument fragments, the finish reason and the usage. The
 * Anthropic and Responses stream writers differ only in how they frame these parts.
 */
import type { ChatCompletionChunk, ThinkingBlock } from '../../api/openai.js';

export type StreamPart =
  | {
      kind: 'text';
      text: string /** The chunk's token logprobs, when the upstream sent them. */;
      logprobs?: unknown[];
    }
  | { kind: 'refusal'; text: string }
  /** `extra`: the call's `extra_content` (Gemini's thought signature), for writers that can carry it. */
  | { kind: 'tool-start'; index: number; id: string; name: string; extra?: unknown }
  | { kind: 'tool-args'; index: number; args: string };

/**
 * Reads the first choice of each chunk (the only one the Messages and Responses APIs have). A tool call the upstream
 * sent without an id gets one from `newCallId`: both APIs require it, and the client sends it back with the result.
 *
 * Tool calls are numbered here (`index` of the parts), not by the upstream's `index`: some servers leave it out
 * (every call at 0) or reuse one for the next call. A fragment belongs to a call already started when it carries
 * that call's id, or no id and that call's upstream index, or neither and no tool name (the last call started);
 * anything else starts the next call.
 */
export class StreamParts {
  finish: string | null = null;
  usage: ChatCompletionChunk['usage'] = null;
  /** The id of each call started, by our index. */
  private readonly ids: string[] = [];
  /** Our index of the call each upstream index last started. */
  private readonly byUpstream = new Map<number, number>();

  constructor(private readonly newCallId: () => string) {}

  read(chunk: ChatCompletionChunk): StreamPart[] {
    if (chunk.usage) this.usage = chunk.usage;
    const choice = chunk.choices.find((c) => c.index === 0);
    if (!choice) return [];
    const out: StreamPart[] = [];
    const delta = choice.delta;
    if (typeof delta.content === 'string' && delta.content !== '') {
      const lp = (choice.logprobs as { content?: unknown } | null | undefined)?.content;
      out.push(
        Array.isArray(lp) && lp.length > 0
          ? { kind: 'text', text: delta.content, logprobs: lp }
          : { kind: 'text', text: delta.content },
      );
    }
    if (typeof delta.refusal === 'string' && delta.refusal !== '')
      out.push({ kind: 'refusal', text: delta.refusal });
    for (const raw of delta.tool_calls ?? []) {
      const tc = raw as {
        index?: number;
        id?: string;
        function?: { name?: string; arguments?: string };
        extra_content?: unknown;
      };
      let index = this.callOf(tc);
      if (index === undefined) {
        index = this.ids.length;
        const id = tc.id || this.newCallId();
        this.ids.push(id);
        out.push({
          kind: 'tool-start',
          index,
          id,
          name: tc.function?.name ?? '',
          ...(tc.extra_content != null ? { extra: tc.extra_content } : {}),
        });
      }
      if (typeof tc.index === 'number') this.byUpstream.set(tc.index, index);
      const args = tc.function?.arguments;
      if (typeof args === 'string' && args !== '') out.push({ kind: 'tool-args', index, args });
    }
    if (choice.finish_reason) this.finish = choice.finish_reason;
    return out;
  }

  /** The call already started that this fragment continues, if any. */
  private callOf(tc: { index?: number; id?: string; function?: { name?: string } }): number | undefined {
    if (tc.id) {
      const known = this.ids.indexOf(tc.id);
      return known === -1 ? undefined : known;
    }
    if (typeof tc.index === 'number') return this.byUpstream.get(tc.index);
    // Neither id nor index: a fragment that names a tool starts a call, one that does not continues the last.
    if (tc.function?.name) return undefined;
    return this.ids.length > 0 ? this.ids.length - 1 : undefined;
  }
}

/** A chunk's reasoning (api/openai.ts), for the writers that show it, apart from StreamPart so others need not. */
export type ThinkingPart =
  /** A fragment of the current thinking block's text (`delta.reasoning_content`). */
  | { kind: 'thinking-text'; text: string }
  /** A whole thinking or redacted_thinking block (`delta.thinking_blocks`). */
  | { kind: 'thinking-block'; block: ThinkingBlock };

/** The reasoning of a chunk's first choice: read before its other parts, as reasoning precedes the answer. */
export function thinkingParts(chunk: ChatCompletionChunk): ThinkingPart[] {
  const delta = chunk.choices.find((c) => c.index === 0)?.delta;
  if (!delta || (delta.reasoning_content == null && delta.thinking_blocks == null)) return [];
  const out: ThinkingPart[] = [];
  if (typeof delta.reasoning_content === 'string' && delta.reasoning_content !== '')
    out.push({ kind: 'thinking-text', text: delta.reasoning_content });
  if (Array.isArray(delta.thinking_blocks))
    for (const block of delta.thinking_blocks) out.push({ kind: 'thinking-block', block });
  return out;
}

/**
 * Whether a tool call's arguments so far are a whole JSON value. Writers close an earlier call when the next one
 * starts only then: some servers interleave the fragments of parallel calls, and a call closed early loses the rest.
 */
export function wholeArguments(args: string): boolean {
  try {
    JSON.parse(args);
    return true;
  } catch {
    return false;
  }
}
