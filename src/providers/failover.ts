/**
 * Runs one chat completion over an ordered list of provider targets: retries with backoff, deadlines, breakers, failover.
 *
 * Usage (the sidecar server):
 *
 *   const providers = buildRouteProviders(route, { breakers });   // registry.ts, once per config version
 *   const plan = providers.plan(decision.models);                 // each model of the tier, each of its targets
 *   const r = await executeCompletion(plan, body, { signal });    // r.completion, r.served, r.attempts, r.fallbacks
 *
 *   const s = await executeStream(plan, body, { signal });        // resolves once the first chunk has arrived
 *   try { for await (const chunk of s.chunks) write(chunk) }      // chunks include a final usage chunk (choices: [])
 *   catch (e) { ... }                                             // after the first chunk there is no failover
 *
 * Deadlines: each attempt has `timeoutMs` for a whole JSON answer, or for a stream's first chunk; `firstByteTimeoutMs`
 * for the first byte. Once a stream flows, `streamIdleTimeoutMs` bounds the wait for each next chunk and the optional
 * `streamTimeoutMs` the whole stream, so a long answer that keeps flowing is never cut at `timeoutMs`.
 *
 * Whose fault: a LocalError (the request could not be built or serialized) stops at once with a 400 or 500 and is
 * never the provider's; 429s move on to the next target but do not count against the breaker (the upstream is
 * healthy, only busy); an open breaker's error says when it half-opens (Retry-After).
 *
 * Both throw an ExecutionError (a TiermeshError, ready for `toBody()`) when no target answered, carrying the fallback
 * events so they can still be logged and counted. `body.model` is replaced by each target's upstream model id.
 * Decisions (retry, next target, stop; backoff) are the pure `afterFailure` in policy.ts; this is the loop around it.
 */
import type { EmbeddingsRequest, EmbeddingsResponse } from '../api/embeddings.js';
import type { ModelRouteSpec, RequestAdaptation } from '../api/modelroute.js';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from '../api/openai.js';
import { type ErrorCode, TiermeshError } from '../errors.js';
import { scrubRequestEcho } from '../telemetry/prompt-scrub.js';
import type { TraceContext } from '../telemetry/trace-context.js';
import type { Breaker } from './breaker.js';
import { answerRateLimits } from './chat-answer-text.js';
import { afterFailure, firstByteDeadlineMs } from './policy.js';
import { adaptRequest } from './request-adapt.js';
import {
  type FailureReason,
  LocalError,
  type ProviderAdapter,
  ProviderError,
  type UpstreamCall,
  type UpstreamRejection,
} from './types.js';
import { toProviderError } from './upstream-errors.js';

export type Resilience = ModelRouteSpec['resilience'];

/** One place a request can be sent: a registry model served by one provider under its upstream model id. */
export interface Target {
  /** Name of the model entry in the route. */
  model: string;
  provider: string;
  upstreamModel: string;
  adapter: ProviderAdapter;
  breaker: Breaker;
  /** The model entry's `request` adaptation, applied to the body this target is sent. */
  request?: RequestAdaptation;
}

export interface ExecutionPlan {
  /** In the order to try them. */
  targets: Target[];
  resilience: Resilience;
}

/** Who answered. */
export interface Served {
  provider: string;
  model: string;
  upstreamModel: string;
}

export interface FallbackEvent {
  /**
   * The route whose target failed (its breaker's route): routes naming a provider and model alike are other
   * upstreams, so their fallbacks are counted apart, as their breakers are.
   */
  route: string;
  from: Served;
  reason: FailureReason;
  /** Time the failed attempt took (0 for targets skipped without a call). */
  latencyMs: number;
  /** What the loop did next. */
  action: 'retry' | 'next-target' | 'stop';
  status?: number;
  /**
   * The failure in the upstream's own words where it gave any, already truncated and with keys redacted, and what it
   * echoed of the request replaced by "[prompt]": safe for any log.
   */
  detail?: string;
  /** The upstream's words with the echo left in, when `detail` had any scrubbed: for logs with --log-prompts only. */
  echoed?: string;
}

export interface ExecutionInfo {
  served: Served;
  /** Upstream calls made, the successful one included; skipped targets do not count. */
  attempts: number;
  fallbacks: FallbackEvent[];
  /**
   * The answering attempt's own time in ms: from its start (after its queue slot, after the targets and tries that
   * failed before it) to its answer, or for a stream to its first chunk. What a latency observation of `served`
   * may use; the time of the whole call would charge earlier targets' failures and waits to it.
   */
  elapsedMs: number;
  /** Set by a hedge race on the hedge that won: it started after the delay, so its step's time is not its own. */
  wonHedge?: true;
}

export interface CompletionResult extends ExecutionInfo {
  completion: ChatCompletion;
}

export interface StreamResult extends ExecutionInfo {
  /**
   * The answer's chunks, the already-received first one included. Iteration throws a `stream_broken` ProviderError
   * when the upstream fails after the first chunk; stopping early (break) closes the upstream call.
   */
  chunks: AsyncIterable<ChatCompletionChunk>;
  /** The answering upstream's rate-limit headers, from its response (answerRateLimits of the first chunk). */
  rateLimits: Record<string, string> | undefined;
}

export interface ExecuteOptions {
  /** The client's request: aborting it stops everything and is never counted against a breaker. */
  signal?: AbortSignal;
  /** Deadline for the whole request, all attempts and waits included. Default: twice resilience.timeoutMs. */
  deadlineMs?: number;
  /** Called as each failure happens (the events are also returned). */
  onFallback?: (e: FallbackEvent) => void;
  now?: () => number;
  random?: () => number;
  /**
   * Waits for a slot on the target before its first try (spec.queue, sidecar/queues.ts) and returns what frees it:
   * held over the target's retries, for a stream until it ends. Its errors (queue full, wait deadline) are answered
   * as they are: no other target, no breaker.
   */
  admit?: (target: Served, signal?: AbortSignal) => Promise<() => void>;
  /** The client's W3C trace context, sent on with every upstream call (telemetry/trace-context.ts). */
  traceContext?: TraceContext | undefined;
}

/** A provider's refusal of the request as invalid: its status, its own code/param/type and rate limits, who it was. */
export interface Rejected {
  status: number | undefined;
  rejection: UpstreamRejection;
  by: Served;
}

/** No target answered. `fallbacks` says what happened at each. */
export class ExecutionError extends TiermeshError {
  readonly fallbacks: FallbackEvent[];
  readonly attempts: number;
  readonly lastReason: FailureReason | undefined;
  /** The client went away; nothing should be written back. */
  readonly aborted: boolean;
  /**
   * With `aborted`: the target whose call was under way when it happened, which may bill the prompt it was sent.
   * Undefined when no call was (the request was waiting for a queue slot, between tries, or had made none).
   */
  readonly inFlight: Served | undefined;
  /**
   * For TM_UPSTREAM_REJECTED: the provider's refusal, and `by` the target whose provider it was (x-tiermesh-provider
   * says so). Also what a copy of this error (a merged hedge failure) needs to say the same refusal.
   */
  readonly rejected: Rejected | undefined;
  constructor(
    code: ErrorCode,
    message: string,
    info: {
      fallbacks: FallbackEvent[];
      attempts: number;
      lastReason?: FailureReason;
      aborted?: boolean;
      inFlight?: Served;
      retryAfter?: number;
      cause?: unknown;
      /** The message for logs, when `message` holds upstream text that may echo the request. */
      logMessage?: string;
      /** A provider's refusal passed on: its status, its own code/param/type, its rate limits, who it was. */
      rejected?: Rejected;
    },
  ) {
    const r = info.rejected;
    super(code, message, {
      ...(info.retryAfter !== undefined ? { retryAfter: info.retryAfter } : {}),
      ...(info.cause !== undefined ? { cause: info.cause } : {}),
      ...(info.logMessage !== undefined ? { logMessage: info.logMessage } : {}),
      ...(r
        ? {
            ...(r.status !== undefined ? { status: r.status } : {}),
            upstream: r.rejection.fault,
            headers: r.rejection.headers,
          }
        : {}),
    });
    this.rejected = r;
    this.name = 'ExecutionError';
    this.fallbacks = info.fallbacks;
    this.attempts = info.attempts;
    this.lastReason = info.lastReason;
    this.aborted = info.aborted ?? false;
    this.inFlight = info.inFlight;
  }
}

/** The guard of a whole-answer call: the target's breaker (one function for every call, not a closure each). */
function underBreaker<T>(t: Target, fn: () => Promise<T>, clientGone: () => boolean): Promise<T> {
  return t.breaker.run(fn, clientGone);
}

export async function executeCompletion(
  plan: ExecutionPlan,
  body: ChatCompletionRequest,
  opts: ExecuteOptions = {},
): Promise<CompletionResult> {
  const r = await run(
    plan,
    opts,
    body,
    // Not async: withDeadline disarms the attempt once the answer is in (DONE_ON_ANSWER), one async step fewer.
    (t, call) =>
      t.adapter.complete(
        upstreamCall(call, { ...adaptRequest(body, t.request), model: t.upstreamModel, stream: false }),
      ),
    underBreaker,
    DONE_ON_ANSWER,
  );
  r.release?.();
  return {
    completion: r.value,
    served: r.served,
    attempts: r.attempts,
    fallbacks: r.fallbacks,
    elapsedMs: r.elapsedMs,
  };
}

/**
 * Embeddings with the same failover, retries and breakers as completions. Targets whose provider has no embeddings
 * endpoint are skipped as `unavailable` (never counted against their breaker).
 */
export async function executeEmbedding(
  plan: ExecutionPlan,
  body: EmbeddingsRequest,
  opts: ExecuteOptions = {},
): Promise<ExecutionInfo & { embeddings: EmbeddingsResponse }> {
  const targets = plan.targets.map((t) =>
    t.adapter.embed
      ? t
      : {
          ...t,
          adapter: { ...t.adapter, unavailable: () => `provider "${t.provider}" has no embeddings endpoint` },
        },
  );
  const r = await run(
    { ...plan, targets },
    opts,
    body,
    (t, call) => t.adapter.embed!(upstreamCall(call, { ...body, model: t.upstreamModel })),
    underBreaker,
    DONE_ON_ANSWER,
  );
  return {
    embeddings: r.value,
    served: r.served,
    attempts: r.attempts,
    fallbacks: r.fallbacks,
    elapsedMs: r.elapsedMs,
  };
}

export async function executeStream(
  plan: ExecutionPlan,
  body: ChatCompletionRequest,
  opts: ExecuteOptions = {},
): Promise<StreamResult> {
  const r = await run(
    plan,
    opts,
    body,
    async (t, call) => {
      const it = t.adapter
        .stream(
          upstreamCall(call, { ...adaptRequest(body, t.request), model: t.upstreamModel, stream: true }),
        )
        [Symbol.asyncIterator]();
      let first: IteratorResult<ChatCompletionChunk>;
      try {
        first = await it.next();
      } catch (err) {
        call.done();
        throw err;
      }
      if (first.done) {
        call.done();
        throw new ProviderError(
          'stream_broken',
          `provider "${t.provider}": stream ended before the first chunk`,
        );
      }
      // Flowing now: the whole-call deadline gives way to the stream's idle and total deadlines (in relay).
      call.flowing();
      return { first: first.value, it, call, provider: t.provider };
    },
    (t, fn, clientGone) => t.breaker.runHeld(fn, clientGone),
  );
  const { value: s, settle } = r.value;
  const signal = s.call.signal;
  // A deadline or disconnect ends the breaker call even if nobody ever reads the stream.
  const onAbort = () => settle(signal.reason ?? new Error('aborted'));
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  const end = (err?: unknown) => {
    signal.removeEventListener('abort', onAbort);
    settle(err);
    s.call.done();
    r.release?.();
  };
  return {
    chunks: relay(s.first, s.it, end, s.provider, s.call, plan.resilience, opts.signal),
    rateLimits: answerRateLimits(s.first),
    served: r.served,
    attempts: r.attempts,
    fallbacks: r.fallbacks,
    elapsedMs: r.elapsedMs,
  };
}

/**
 * Yields the first chunk and the rest; `end` settles the breaker call (with the error if the stream broke). The
 * idle deadline runs only while we wait on the upstream: a client reading slowly (backpressure) is not an upstream
 * that stalled.
 */
async function* relay(
  first: ChatCompletionChunk,
  it: AsyncIterator<ChatCompletionChunk>,
  end: (err?: unknown) => void,
  provider: string,
  call: AttemptCall,
  res: Resilience,
  signal: AbortSignal | undefined,
): AsyncGenerator<ChatCompletionChunk> {
  let finished = false;
  let failure: unknown;
  let waiting = false;
  const idleMs = res.streamIdleTimeoutMs;
  // One timer re-armed per chunk (refresh) rather than a new one each time: this runs for every chunk of every stream.
  const idle = setTimeout(() => {
    if (waiting)
      call.abort(new ProviderError('timeout', `provider "${provider}": no stream chunk for ${idleMs}ms`));
  }, idleMs);
  const total =
    res.streamTimeoutMs !== undefined
      ? setTimeout(
          () => {
            const why = `provider "${provider}": stream still running after ${res.streamTimeoutMs}ms`;
            // Reached while the consumer held the stream (a client reading slowly): the cut is not the upstream's
            // fault, and its breaker does not count it.
            call.abort(
              waiting
                ? new ProviderError('timeout', why)
                : new LocalError('client', `${why}, while the client read slowly`),
            );
          },
          Math.max(0, res.streamTimeoutMs - call.elapsedMs()),
        )
      : undefined;
  try {
    yield first;
    while (true) {
      let r: IteratorResult<ChatCompletionChunk>;
      waiting = true;
      idle.refresh();
      try {
        r = await it.next();
      } catch (err) {
        finished = true;
        failure = err;
        if (signal?.aborted) throw err;
        // Our own cut while the client held the stream: said as it is (the breaker was settled without counting it).
        const cut: unknown = call.signal.aborted ? call.signal.reason : undefined;
        if (cut instanceof LocalError) throw new ProviderError('stream_broken', cut.message, { cause: cut });
        const pe = toProviderError(err, provider, call.signal);
        throw new ProviderError(
          'stream_broken',
          `provider "${provider}": stream broke after the first chunk (${pe.reason}: ${pe.message})`,
          { cause: pe },
        );
      } finally {
        waiting = false;
      }
      if (r.done) {
        finished = true;
        return;
      }
      yield r.value;
    }
  } finally {
    clearTimeout(idle);
    if (total) clearTimeout(total);
    // A consumer that stops early is not the upstream's fault: that ends the breaker call as a success.
    end(failure);
    if (!finished) await it.return?.();
  }
}

/** What `attempt` gets: the upstream call fields plus the attempt's deadline controls. */
interface AttemptCall extends Omit<UpstreamCall, 'body'> {
  /** The attempt is over: disarms every timer and stops forwarding the client's abort. */
  done(): void;
  /** A stream's first chunk arrived: disarms the whole-call deadline (the stream's own deadlines take over). */
  flowing(): void;
  /** Ends the attempt with `reason` (a ProviderError for our own deadlines). */
  abort(reason: unknown): void;
  /** Milliseconds since the attempt started. */
  elapsedMs(): number;
}

interface RunResult<T> extends ExecutionInfo {
  value: T;
  /** Frees the answering target's spec.queue slot, when `admit` gave one. */
  release?: (() => void) | undefined;
}

/**
 * `loop`, holding the current target's queue slot (opts.admit): freed on failure, handed to the caller on success.
 * Not async itself: without queues it is `loop` as it is, one promise and frame fewer per call.
 */
function run<T, R>(
  plan: ExecutionPlan,
  opts: ExecuteOptions,
  /** The client's request: what an upstream's error text may echo, scrubbed out of log messages. */
  body: unknown,
  attempt: (t: Target, call: AttemptCall) => Promise<T>,
  guard: (t: Target, fn: () => Promise<T>, clientGone: () => boolean) => Promise<R>,
  doneOnAnswer = false,
): Promise<RunResult<R>> {
  return opts.admit
    ? runAdmitted(plan, opts, body, attempt, guard, doneOnAnswer)
    : loop(plan, opts, body, attempt, guard, doneOnAnswer);
}

/** `run`'s last argument for a whole answer: the attempt is over (timers disarmed) once `attempt` resolves. */
const DONE_ON_ANSWER = true;

async function runAdmitted<T, R>(
  plan: ExecutionPlan,
  opts: ExecuteOptions,
  body: unknown,
  attempt: (t: Target, call: AttemptCall) => Promise<T>,
  guard: (t: Target, fn: () => Promise<T>, clientGone: () => boolean) => Promise<R>,
  doneOnAnswer: boolean,
): Promise<RunResult<R>> {
  const slot: Slot = { release: undefined };
  try {
    return { ...(await loop(plan, opts, body, attempt, guard, doneOnAnswer, slot)), release: slot.release };
  } catch (e) {
    slot.release?.();
    throw e;
  }
}

interface Slot {
  release: (() => void) | undefined;
}

/** The loop: for each target, tries under its breaker, asking `afterFailure` what to do after each failure. */
async function loop<T, R>(
  plan: ExecutionPlan,
  opts: ExecuteOptions,
  body: unknown,
  attempt: (t: Target, call: AttemptCall) => Promise<T>,
  guard: (t: Target, fn: () => Promise<T>, clientGone: () => boolean) => Promise<R>,
  doneOnAnswer: boolean,
  slot?: Slot,
): Promise<RunResult<R>> {
  const now = opts.now ?? Date.now;
  const random = opts.random ?? Math.random;
  const res = plan.resilience;
  let deadline = now() + (opts.deadlineMs ?? res.timeoutMs * 2);
  const fallbacks: FallbackEvent[] = [];
  const failures: ProviderError[] = [];
  let attempts = 0;

  for (const [i, t] of plan.targets.entries()) {
    const served: Served = { provider: t.provider, model: t.model, upstreamModel: t.upstreamModel };
    const why = t.adapter.unavailable?.();
    if (why !== undefined) {
      failures.push(new ProviderError('unavailable', why));
      note(fallbacks, opts, {
        route: t.breaker.route,
        from: served,
        reason: 'unavailable',
        latencyMs: 0,
        action: 'next-target',
        detail: why,
      });
      continue;
    }
    if (slot && opts.admit) {
      // The previous target's slot goes before this one's is waited for.
      slot.release?.();
      slot.release = undefined;
      const waitStart = now();
      try {
        slot.release = await opts.admit(served, opts.signal);
        // Time in the queue has its own deadline (spec.queue); the upstream deadline starts when the slot does.
        deadline += now() - waitStart;
      } catch (err) {
        if (opts.signal?.aborted) throw abortedByClient(fallbacks, attempts);
        throw err;
      }
    }
    for (let tries = 1; ; tries++) {
      if (opts.signal?.aborted) throw abortedByClient(fallbacks, attempts);
      const remaining = deadline - now();
      if (remaining <= 0) return fail(fallbacks, attempts, failures, 'deadline', body);
      const started = now();
      let counted = false;
      try {
        const value = await guard(
          t,
          () => {
            counted = true;
            attempts++;
            return withDeadline(
              t,
              Math.min(res.timeoutMs, remaining),
              firstByteDeadlineMs(res, !doneOnAnswer),
              opts.signal,
              attempt,
              doneOnAnswer,
              opts.traceContext,
            );
          },
          () => opts.signal?.aborted === true,
        );
        return { value, served, attempts, fallbacks, elapsedMs: now() - started };
      } catch (err) {
        if (opts.signal?.aborted) {
          // A call aborted before its request left the process made no upstream call.
          const sent = counted && !(err instanceof ProviderError && err.unsent);
          if (counted && !sent) attempts--;
          throw abortedByClient(fallbacks, attempts, sent ? served : undefined);
        }
        if (err instanceof LocalError) {
          // Nothing reached the provider: not an attempt, not a fallback, not worth another target.
          if (counted) attempts--;
          throw localFailure(err, fallbacks, attempts);
        }
        const pe = toProviderError(err, t.provider);
        failures.push(pe);
        const step = afterFailure({
          reason: pe.reason,
          retryAfter: pe.retryAfter,
          triesOnTarget: tries,
          retries: res.retries,
          remainingMs: deadline - now(),
          hasNextTarget: i < plan.targets.length - 1,
          random: random(),
        });
        const detail = logText(pe, body);
        note(fallbacks, opts, {
          route: t.breaker.route,
          from: served,
          reason: pe.reason,
          latencyMs: counted ? now() - started : 0,
          action: step.kind,
          ...(pe.status !== undefined ? { status: pe.status } : {}),
          detail,
          ...(detail !== pe.message ? { echoed: pe.message } : {}),
        });
        if (step.kind === 'stop')
          // The client gets the upstream's words as they are (it sent the prompt); the log, without the echo. A
          // provider's answer keeps its status, code and param (TM_UPSTREAM_REJECTED); a refusal of our own making
          // (a translating adapter's check) is a plain TM_INVALID_REQUEST.
          throw new ExecutionError(pe.rejection ? 'TM_UPSTREAM_REJECTED' : 'TM_INVALID_REQUEST', pe.message, {
            fallbacks,
            attempts,
            lastReason: pe.reason,
            logMessage: detail,
            ...(pe.rejection ? { rejected: { status: pe.status, rejection: pe.rejection, by: served } } : {}),
          });
        if (step.kind === 'next-target') break;
        await sleep(step.delayMs, opts.signal);
      }
    }
  }
  return fail(fallbacks, attempts, failures, 'exhausted', body);
}

/**
 * Skips, whose message is all our own words: nothing to scrub, though every request meets them while a breaker is
 * open. (A timeout or a broken stream may be an upstream's answer in its own words: a 408, an error event.)
 */
const OWN_WORDS = new Set<FailureReason>(['breaker_open', 'unavailable']);

/** A failure's message for logs: what the upstream echoed of the request scrubbed out (error path only). */
function logText(pe: ProviderError, body: unknown): string {
  return OWN_WORDS.has(pe.reason) ? pe.message : scrubRequestEcho(pe.message, body);
}

/** One failure as it happens: kept for the result and told to the caller. */
function note(fallbacks: FallbackEvent[], opts: ExecuteOptions, e: FallbackEvent): void {
  fallbacks.push(e);
  opts.onFallback?.(e);
}

function abortedByClient(fallbacks: FallbackEvent[], attempts: number, inFlight?: Served): ExecutionError {
  return new ExecutionError('TM_UPSTREAM_ERROR', 'request aborted by the client', {
    fallbacks,
    attempts,
    aborted: true,
    ...(inFlight ? { inFlight } : {}),
  });
}

/** A request that failed on our side of the wire: the client's (400) or ours (500, the cause kept for the log). */
function localFailure(err: LocalError, fallbacks: FallbackEvent[], attempts: number): ExecutionError {
  return new ExecutionError(
    err.blame === 'client' ? 'TM_INVALID_REQUEST' : 'TM_INTERNAL',
    err.blame === 'client' ? err.message : 'internal error',
    { fallbacks, attempts, cause: err },
  );
}

/**
 * Runs one attempt with its whole-call deadline armed. With `doneOnAnswer` the attempt is over (`done`) once it
 * resolved; otherwise (a stream) the attempt disarms it itself when it is over.
 */
async function withDeadline<T>(
  t: Target,
  timeoutMs: number,
  firstByteTimeoutMs: number,
  clientSignal: AbortSignal | undefined,
  attempt: (t: Target, call: AttemptCall) => Promise<T>,
  doneOnAnswer: boolean,
  traceContext?: TraceContext,
): Promise<T> {
  const call = new Attempt(t.provider, timeoutMs, firstByteTimeoutMs, clientSignal, traceContext);
  try {
    const value = await attempt(t, call);
    if (doneOnAnswer) call.done();
    return value;
  } catch (err) {
    call.done();
    if (err instanceof LocalError) throw err;
    throw toProviderError(err, t.provider, call.signal);
  }
}

/**
 * One attempt's deadline and abort wiring. A class rather than an object of closures: one is made for every upstream
 * call, and its methods are shared.
 */
class Attempt implements AttemptCall {
  readonly signal: AbortSignal;
  readonly firstByteTimeoutMs: number;
  /** An own (bound) property, so that the call's fields copied into an UpstreamCall carry it. */
  readonly abort: (reason: unknown) => void;
  private readonly ac = new AbortController();
  private readonly started = performance.now();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly provider: string,
    private readonly timeoutMs: number,
    firstByteTimeoutMs: number,
    private readonly clientSignal: AbortSignal | undefined,
    readonly traceContext?: TraceContext,
  ) {
    this.signal = this.ac.signal;
    this.abort = this.ac.abort.bind(this.ac);
    this.firstByteTimeoutMs = Math.min(firstByteTimeoutMs, timeoutMs);
    this.timer = setTimeout(attemptTimedOut, timeoutMs, this);
    // The client's abort is forwarded by hand: AbortSignal.any() costs more per call. See LISTENERS in http.ts for
    // why the listener is a function and not this object.
    if (clientSignal?.aborted) this.clientAborted();
    else clientSignal?.addEventListener('abort', this.clientAborted, { once: true });
  }

  private readonly clientAborted = (): void => {
    this.ac.abort(this.clientSignal?.reason);
  };

  timedOut(): void {
    this.ac.abort(
      new ProviderError(
        'timeout',
        `provider "${this.provider}": no complete answer within ${this.timeoutMs}ms`,
      ),
    );
  }

  done(): void {
    clearTimeout(this.timer);
    this.clientSignal?.removeEventListener('abort', this.clientAborted);
  }

  flowing(): void {
    clearTimeout(this.timer);
  }

  elapsedMs(): number {
    return performance.now() - this.started;
  }
}

function attemptTimedOut(a: Attempt): void {
  a.timedOut();
}

/** The fields an adapter gets for one attempt, with the body it sends. */
function upstreamCall<B>(call: AttemptCall, body: B) {
  return {
    signal: call.signal,
    firstByteTimeoutMs: call.firstByteTimeoutMs,
    abort: call.abort,
    traceContext: call.traceContext,
    body,
  };
}

function fail(
  fallbacks: FallbackEvent[],
  attempts: number,
  failures: ProviderError[],
  why: 'deadline' | 'exhausted',
  body: unknown,
): never {
  const last = failures.at(-1);
  const info = { fallbacks, attempts, ...(last ? { lastReason: last.reason } : {}) };
  // The last failure's message is the upstream's own words, which may echo the request: the log gets it scrubbed.
  const failed = (code: ErrorCode, head: string, extra: { retryAfter?: number } = {}) =>
    new ExecutionError(code, last ? `${head}; last: ${last.message}` : head, {
      ...info,
      ...extra,
      ...(last ? { logMessage: `${head}; last: ${logText(last, body)}` } : {}),
    });
  if (why === 'deadline')
    throw failed('TM_UPSTREAM_TIMEOUT', `request deadline passed after ${attempts} attempt(s)`);
  if (fallbacks.length === 0)
    throw new ExecutionError('TM_ALL_TARGETS_FAILED', 'no provider target to try', info);
  // Targets without a key are skipped on every request; they say nothing about whether the others are busy.
  const tried = failures.filter((f) => f.reason !== 'unavailable');
  const all = (reason: FailureReason) => tried.length > 0 && tried.every((f) => f.reason === reason);
  if (all('breaker_open'))
    throw failed('TM_BREAKER_OPEN', "every target's circuit breaker is open", soonest(tried));
  if (all('rate_limited')) throw failed('TM_RATE_LIMITED', 'every target is rate limited', soonest(tried));
  // Overloaded (529, 503, UNAVAILABLE) everywhere, or open breakers where not: a busy provider, which Anthropic's
  // clients retry on overloaded_error, not a broken one. The soonest Retry-After any of them gave comes along.
  if (tried.some((f) => f.overloaded) && tried.every((f) => f.overloaded || f.reason === 'breaker_open'))
    throw failed('TM_UPSTREAM_OVERLOADED', 'every target is overloaded', soonest(tried));
  if (last?.reason === 'timeout') throw failed('TM_UPSTREAM_TIMEOUT', 'all targets failed');
  throw failed('TM_ALL_TARGETS_FAILED', 'all targets failed');
}

/**
 * What a client is told of a stream that broke after its first chunk, which no failover can mend: a rate limit or an
 * overload the upstream sent in the stream keeps its class (clients retry Anthropic's overloaded_error and
 * rate_limit_error), anything else is an upstream error.
 */
export function brokenStreamCode(broken: unknown): ErrorCode {
  if (!(broken instanceof ProviderError)) return 'TM_UPSTREAM_ERROR';
  // The stream's `stream_broken` wraps what the upstream said (relay).
  const said = broken.cause instanceof ProviderError ? broken.cause : broken;
  if (said.reason === 'rate_limited') return 'TM_RATE_LIMITED';
  return said.overloaded ? 'TM_UPSTREAM_OVERLOADED' : 'TM_UPSTREAM_ERROR';
}

/** The earliest time any of the failed targets said it could be tried again, as a Retry-After. */
function soonest(failures: ProviderError[]): { retryAfter?: number } {
  let min: number | undefined;
  for (const f of failures)
    if (f.retryAfter !== undefined && (min === undefined || f.retryAfter < min)) min = f.retryAfter;
  return min !== undefined ? { retryAfter: min } : {};
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
