/**
 * When a stream has really started. Vendors open a stream with a chunk that only names the role (OpenAI's
 * `{"role":"assistant","content":""}`, the chunk translated from Anthropic's message_start) long before the model's
 * first token, and an upstream that fails right after it (Anthropic's overloaded_error after message_start) has sent
 * the client nothing. So the first chunk is the first one carrying output; until it arrives the stream can still fail
 * over, the first-byte deadline stays armed, and the time to first token is not yet measured.
 */
import type { ChatCompletionChunk } from '../api/openai.js';
import { withRateLimits } from './chat-answer-text.js';
import type { ResponseHeaders } from './http.js';

/** Delta fields some OpenAI-compatible servers (vLLM, DeepSeek, OpenRouter) stream a model's reasoning in. */
interface ReasoningDelta {
  reasoning_content?: unknown;
  reasoning?: unknown;
}

const said = (v: unknown): boolean => typeof v === 'string' && v !== '';

/** Whether a chunk carries output: text, tool calls, a refusal, reasoning or thinking blocks, a finish_reason, or usage. */
export function carriesOutput(chunk: ChatCompletionChunk): boolean {
  if (chunk.usage) return true;
  for (const c of chunk.choices) {
    if (c.finish_reason != null) return true;
    const d = c.delta as ChatCompletionChunk['choices'][number]['delta'] & ReasoningDelta;
    if (said(d.content) || said(d.refusal) || said(d.reasoning_content) || said(d.reasoning)) return true;
    if (Array.isArray(d.tool_calls) && d.tool_calls.length > 0) return true;
    // A redacted_thinking block (or a thinking block with no text) is output with no text at all.
    if (Array.isArray(d.thinking_blocks) && d.thinking_blocks.length > 0) return true;
  }
  return false;
}

/**
 * Holds a stream's leading role-only chunks back and hands them on ahead of the first chunk with output, calling
 * `started` (the first-byte deadline's disarm) then. Once started, chunks pass straight through (`started` is true).
 * The first chunk handed on carries the rate-limit headers of the response (`headers`) to the stream's head
 * (answerRateLimits, read by failover's executeStream), whichever adapter translated it.
 */
export class FirstOutput {
  started = false;
  private held: ChatCompletionChunk[] = [];

  constructor(
    private readonly onStart: () => void,
    private readonly headers?: ResponseHeaders,
  ) {}

  /** The chunks to send on now that `chunk` arrived: none while only roles came, else the held ones and it. */
  take(chunk: ChatCompletionChunk): ChatCompletionChunk[] {
    if (this.started) return [chunk];
    if (!carriesOutput(chunk)) {
      this.held.push(chunk);
      return [];
    }
    this.started = true;
    this.onStart();
    const out = this.held;
    this.held = [];
    out.push(chunk);
    this.tagFirst(out);
    return out;
  }

  /** At a legitimate end: whatever is still held (a stream that named a role and ended without output). */
  rest(): ChatCompletionChunk[] {
    const out = this.held;
    this.held = [];
    if (!this.started) this.tagFirst(out);
    return out;
  }

  private tagFirst(out: ChatCompletionChunk[]): void {
    if (this.headers && out.length > 0) withRateLimits(out[0]!, this.headers);
  }
}
