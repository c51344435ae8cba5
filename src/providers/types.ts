/** The one interface every provider adapter implements: OpenAI-shaped requests in, OpenAI-shaped answers out. */

import type { EmbeddingsRequest, EmbeddingsResponse } from '../api/embeddings.js';
import type { Provider } from '../api/modelroute.js';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from '../api/openai.js';
import type { UpstreamFault } from '../errors.js';
import type { TraceContext } from '../telemetry/trace-context.js';

/** A request bound to one upstream model on one provider. `body.model` is already the upstream model id. */
export interface UpstreamCall {
  body: ChatCompletionRequest;
  /** Aborted on client disconnect or the attempt deadline. */
  signal: AbortSignal;
  /** Time allowed until the first byte (headers) of the upstream answer. */
  firstByteTimeoutMs: number;
  /**
   * Ends the call with `reason`, aborting `signal` (set by the failover loop, which owns the signal). Without it the
   * HTTP client links a controller of its own to `signal` for the first-byte deadline.
   */
  abort?: (reason: unknown) => void;
  /** The client's W3C trace context, sent on to the upstream (telemetry/trace-context.ts). */
  traceContext?: TraceContext | undefined;
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
  /** Embeddings, for providers that have them (POST /v1/embeddings); absent means the provider has none. */
  embed?(call: EmbedCall): Promise<EmbeddingsResponse>;
}

/** An embeddings request bound to one upstream model; `body.model` is already the upstream model id. */
export interface EmbedCall extends Omit<UpstreamCall, 'body'> {
  body: EmbeddingsRequest;
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

/** What an upstream said when it refused a request as the request's own fault, safe to pass on to the client. */
export interface UpstreamRejection {
  fault: UpstreamFault;
  /** Its rate-limit headers (x-ratelimit-*, anthropic-ratelimit-*), passed on as the upstream sent them. */
  headers: Record<string, string>;
}

export class ProviderError extends Error {
  readonly reason: FailureReason;
  readonly status: number | undefined;
  /** Seconds from the upstream's Retry-After (or retry-after-ms), when it sent one. */
  readonly retryAfter: number | undefined;
  /**
   * The call ended before its request left the process (aborted while waiting for a connection): the upstream got
   * nothing and can have billed nothing.
   */
  readonly unsent: boolean;
  /** An upstream's refusal of the request as invalid (a `client_error` answer): what the client is told of it. */
  readonly rejection: UpstreamRejection | undefined;
  /**
   * The upstream said it is overloaded or unavailable for now (Anthropic's 529 / overloaded_error, a 503, Gemini's
   * UNAVAILABLE), in an answer or in a stream. Still a provider failure (`reason` says which); what the client is
   * told when every target said so is Anthropic's overloaded_error, which clients retry.
   */
  readonly overloaded: boolean;
  constructor(
    reason: FailureReason,
    message: string,
    opts: {
      status?: number;
      retryAfter?: number;
      cause?: unknown;
      unsent?: boolean;
      rejection?: UpstreamRejection;
      overloaded?: boolean;
    } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = 'ProviderError';
    this.overloaded = opts.overloaded ?? false;
    this.reason = reason;
    this.status = opts.status;
    this.retryAfter = opts.retryAfter;
    this.unsent = opts.unsent ?? false;
    this.rejection = opts.rejection;
  }

  /** Worth another try on the same or another target. A 400 from one upstream is the caller's fault everywhere. */
  get retryable(): boolean {
    return this.reason !== 'client_error';
  }
}

/**
 * A failure on our side of the wire, before any byte reached the provider: the request could not be built or
 * serialized (the client's doing, e.g. nesting deep enough to overflow JSON.stringify) or our own code broke. It is
 * never the provider's fault, so it is never retried on another target and never counts against a breaker.
 */
export class LocalError extends Error {
  readonly blame: 'client' | 'sidecar';
  constructor(blame: 'client' | 'sidecar', message: string, opts: { cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = 'LocalError';
    this.blame = blame;
  }
}

/**
 * Runs a step that happens before anything is sent (building or serializing the upstream body) and turns whatever
 * it throws, other than a deliberate ProviderError, into a LocalError. A RangeError is the request's shape (too
 * deep, too large to serialize); anything else is a bug of ours.
 */
export function beforeSending<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ProviderError || e instanceof LocalError) throw e;
    const blame = e instanceof RangeError ? 'client' : 'sidecar';
    throw new LocalError(
      blame,
      blame === 'client'
        ? `the request cannot be sent on: ${what} failed (${(e as Error).message})`
        : `${what} failed`,
      { cause: e },
    );
  }
}
