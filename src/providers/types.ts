/** The one interface every provider adapter implements: OpenAI-shaped requests in, OpenAI-shaped answers out. */

import type { Provider } from '../api/modelroute.js';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from '../api/openai.js';

/** A request bound to one upstream model on one provider. `body.model` is already the upstream model id. */
export interface UpstreamCall {
  body: ChatCompletionRequest;
  /** Aborted on client disconnect or the attempt deadline. */
  signal: AbortSignal;
  /** Time allowed until the first byte (headers) of the upstream answer. */
  firstByteTimeoutMs: number;
}

export interface ProviderAdapter {
  readonly name: string;
  readonly type: Provider['type'];
  /** Whole answer. Throws ProviderError on any failure. */
  complete(call: UpstreamCall): Promise<ChatCompletion>;
  /**
   * Streamed answer as OpenAI chunks, usage included in the last chunk when the upstream reports it.
   * Failures before the first chunk throw from the first `next()`, so the caller can still fail over.
   */
  stream(call: UpstreamCall): AsyncIterable<ChatCompletionChunk>;
  /**
   * Why this adapter cannot be used right now (e.g. its API key cannot be resolved), or undefined when it can.
   * Failover checks it before calling, so an unconfigured provider is skipped without touching its breaker.
   */
  unavailable?(): string | undefined;
}

/** Why an upstream call failed; drives retry, failover and breaker decisions and the fallback metric label. */
export type FailureReason =
  | 'rate_limited'
  | 'server_error'
  | 'timeout'
  | 'connection'
  | 'bad_response'
  | 'client_error'
  | 'auth'
  | 'breaker_open'
  | 'unavailable'
  | 'stream_broken'
  | 'quality';

export class ProviderError extends Error {
  readonly reason: FailureReason;
  readonly status: number | undefined;
  /** Seconds from the upstream's Retry-After (or retry-after-ms), when it sent one. */
  readonly retryAfter: number | undefined;
  constructor(
    reason: FailureReason,
    message: string,
    opts: { status?: number; retryAfter?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = 'ProviderError';
    this.reason = reason;
    this.status = opts.status;
    this.retryAfter = opts.retryAfter;
  }

  /** Worth another try on the same or another target. A 400 from one upstream is the caller's fault everywhere. */
  get retryable(): boolean {
    return this.reason !== 'client_error';
  }
}
