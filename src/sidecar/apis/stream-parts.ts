/**
 * What one internal stream chunk says, as the parts every outbound stream format is built from: text, the start of
 * a tool call (the first fragment with its index), argument fragments, the finish reason and the usage. The
 * Anthropic and Responses stream writers differ only in how they frame these parts.
 */
import type { ChatCompletionChunk } from '../../api/openai.js';

export type StreamPart =
  | { kind: 'text'; text: string }
  | { kind: 'tool-start'; index: number; id: string; name: string }
  | { kind: 'tool-args'; index: number; args: string };

/**
 * Reads the first choice of each chunk (the only one the Messages and Responses APIs have). A tool call the upstream
 * sent without an id gets one from `newCallId`: both APIs require it, and the client sends it back with the result.
 */
export class StreamParts {
  finish: string | null = null;
  usage: ChatCompletionChunk['usage'] = null;
  private readonly started = new Set<number>();

  constructor(private readonly newCallId: () => string) {}

  read(chunk: ChatCompletionChunk): StreamPart[] {
    if (chunk.usage) this.usage = chunk.usage;
    const choice = chunk.choices.find((c) => c.index === 0);
    if (!choice) return [];
    const out: StreamPart[] = [];
    const delta = choice.delta;
    if (typeof delta.content === 'string' && delta.content !== '')
      out.push({ kind: 'text', text: delta.content });
    for (const raw of delta.tool_calls ?? []) {
      const tc = raw as { index?: number; id?: string; function?: { name?: string; arguments?: string } };
      const index = typeof tc.index === 'number' ? tc.index : 0;
      if (!this.started.has(index)) {
        this.started.add(index);
        out.push({ kind: 'tool-start', index, id: tc.id || this.newCallId(), name: tc.function?.name ?? '' });
      }
      const args = tc.function?.arguments;
      if (typeof args === 'string' && args !== '') out.push({ kind: 'tool-args', index, args });
    }
    if (choice.finish_reason) this.finish = choice.finish_reason;
    return out;
  }
}
