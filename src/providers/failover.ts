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
 *   catch (e) { write(midStreamErrorBody(e)) }                    // after the first chunk there is no failover
 *
 * Both throw an ExecutionError (a TiermeshError, ready for `toBody()`) when no target answered, carrying the fallback
 * events so they can still be logged and counted. `body.model` is replaced by each target's upstream model id.
 * Decisions (retry, next target, stop; backoff) are the pure `afterFailure` in policy.ts; this is the loop around it.
 */
import type { ModelRouteSpec } from '../api/modelroute.js';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  OpenAIErrorBody,
} from '../api/openai.js';
import { type ErrorCode, TiermeshError } from '../errors.js';
import type { Breaker } from './breaker.js';
import { afterFailure } from './policy.js';
import { type FailureReason, type ProviderAdapter, ProviderError, type UpstreamCall } from './types.js';
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
  from: Served;
  reason: FailureReason;
  /** Time the failed attempt took (0 for targets skipped without a call). */
  latencyMs: number;
  /** What the loop did next. */
  action: 'retry' | 'next-target' | 'stop';
  status?: number;
}

export interface ExecutionInfo {
  served: Served;
  /** Upstream calls made, the successful one included; skipped targets do not count. */
  attempts: number;
  fallbacks: FallbackEvent[];
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
}

/** No target answered. `fallbacks` says what happened at each. */
export class ExecutionError extends TiermeshError {
  readonly fallbacks: FallbackEvent[];
  readonly attempts: number;
  readonly lastReason: FailureReason | undefined;
  /** The client went away; nothing should be written back. */
  readonly aborted: boolean;
  constructor(
    code: ErrorCode,
    message: string,
    info: {
      fallbacks: FallbackEvent[];
      attempts: number;
      lastReason?: FailureReason;
      aborted?: boolean;
      retryAfter?: number;
    },
  ) {
    super(code, message, info.retryAfter !== undefined ? { retryAfter: info.retryAfter } : {});
    this.name = 'ExecutionError';
    this.fallbacks = info.fallbacks;
    this.attempts = info.attempts;
    this.lastReason = info.lastReason;
    this.aborted = info.aborted ?? false;
  }
}

export async function executeCompletion(
  plan: ExecutionPlan,
  body: ChatCompletionRequest,
  opts: ExecuteOptions = {},
): Promise<CompletionResult> {
  const r = await run(
    plan,
    opts,
    async (t, call) => {
      const completion = await t.adapter.complete({
        ...call,
        body: { ...body, model: t.upstreamModel, stream: false },
      });
      call.done();
      return completion;
    },
    (t, fn, clientGone) => t.breaker.run(fn, clientGone),
  );
  return { completion: r.value, served: r.served, attempts: r.attempts, fallbacks: r.fallbacks };
}

export async function executeStream(
  plan: ExecutionPlan,
  body: ChatCompletionRequest,
  opts: ExecuteOptions = {},
): Promise<StreamResult> {
  const r = await run(
    plan,
    opts,
    async (t, call) => {
      const it = t.adapter
        .stream({ ...call, body: { ...body, model: t.upstreamModel, stream: true } })
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
      return { first: first.value, it, done: call.done, signal: call.signal, provider: t.provider };
    },
    (t, fn, clientGone) => t.breaker.runHeld(fn, clientGone),
  );
  const { value: s, settle } = r.value;
  // A deadline or disconnect ends the breaker call even if nobody ever reads the stream.
  const onAbort = () => settle(s.signal.reason ?? new Error('aborted'));
  if (s.signal.aborted) onAbort();
  else s.signal.addEventListener('abort', onAbort, { once: true });
  const end = (err?: unknown) => {
    s.signal.removeEventListener('abort', onAbort);
    settle(err);
    s.done();
  };
  return {
    chunks: relay(s.first, s.it, end, s.provider, opts.signal),
    served: r.served,
    attempts: r.attempts,
    fallbacks: r.fallbacks,
  };
}

/** The error event to send on an SSE stream that broke after its first chunk (OpenAI's error body shape). */
export function midStreamErrorBody(err: unknown): OpenAIErrorBody {
  const msg = err instanceof ProviderError ? err.message : 'upstream stream failed';
  return { error: { message: msg, type: 'api_error', param: null, code: 'TM_UPSTREAM_ERROR' } };
}

/** Yields the first chunk and the rest; `end` settles the breaker call (with the error if the stream broke). */
async function* relay(
  first: ChatCompletionChunk,
  it: AsyncIterator<ChatCompletionChunk>,
  end: (err?: unknown) => void,
  provider: string,
  signal: AbortSignal | undefined,
): AsyncGenerator<ChatCompletionChunk> {
  let finished = false;
  let failure: unknown;
  try {
    yield first;
    while (true) {
      let r: IteratorResult<ChatCompletionChunk>;
      try {
        r = await it.next();
      } catch (err) {
        finished = true;
        failure = err;
        if (signal?.aborted) throw err;
        const pe = toProviderError(err, provider);
        throw new ProviderError(
          'stream_broken',
          `provider "${provider}": stream broke after the first chunk (${pe.reason})`,
          {
            cause: pe,
          },
        );
      }
      if (r.done) {
        finished = true;
        return;
      }
      yield r.value;
    }
  } finally {
    // A consumer that stops early is not the upstream's fault: that ends the breaker call as a success.
    end(failure);
    if (!finished) await it.return?.();
  }
}

/** What `attempt` gets: the upstream call fields plus `done()` to disarm the attempt deadline. */
type AttemptCall = Omit<UpstreamCall, 'body'> & { done: () => void };

interface RunResult<T> extends ExecutionInfo {
  value: T;
}

/** The loop: for each target, tries under its breaker, asking `afterFailure` what to do after each failure. */
async function run<T, R>(
  plan: ExecutionPlan,
  opts: ExecuteOptions,
  attempt: (t: Target, call: AttemptCall) => Promise<T>,
  guard: (t: Target, fn: () => Promise<T>, clientGone: () => boolean) => Promise<R>,
): Promise<RunResult<R>> {
  const now = opts.now ?? Date.now;
  const random = opts.random ?? Math.random;
  const res = plan.resilience;
  const deadline = now() + (opts.deadlineMs ?? res.timeoutMs * 2);
  const fallbacks: FallbackEvent[] = [];
  let attempts = 0;
  let last: ProviderError | undefined;
  const note = (e: FallbackEvent) => {
    fallbacks.push(e);
    opts.onFallback?.(e);
  };
  const aborted = () =>
    new ExecutionError('TM_UPSTREAM_ERROR', 'request aborted by the client', {
      fallbacks,
      attempts,
      aborted: true,
    });

  for (const [i, t] of plan.targets.entries()) {
    const served: Served = { provider: t.provider, model: t.model, upstreamModel: t.upstreamModel };
    const why = t.adapter.unavailable?.();
    if (why !== undefined) {
      last = new ProviderError('unavailable', why);
      note({ from: served, reason: 'unavailable', latencyMs: 0, action: 'next-target' });
      continue;
    }
    for (let tries = 1; ; tries++) {
      if (opts.signal?.aborted) throw aborted();
      const remaining = deadline - now();
      if (remaining <= 0) return fail(fallbacks, attempts, last, 'deadline');
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
              res.firstByteTimeoutMs,
              opts.signal,
              attempt,
            );
          },
          () => opts.signal?.aborted === true,
        );
        return { value, served, attempts, fallbacks };
      } catch (err) {
        if (opts.signal?.aborted) throw aborted();
        const pe = toProviderError(err, t.provider);
        last = pe;
        const step = afterFailure({
          reason: pe.reason,
          retryAfter: pe.retryAfter,
          triesOnTarget: tries,
          retries: res.retries,
          remainingMs: deadline - now(),
          hasNextTarget: i < plan.targets.length - 1,
          random: random(),
        });
        note({
          from: served,
          reason: pe.reason,
          latencyMs: counted ? now() - started : 0,
          action: step.kind,
          ...(pe.status !== undefined ? { status: pe.status } : {}),
        });
        if (step.kind === 'stop')
          throw new ExecutionError('TM_INVALID_REQUEST', pe.message, {
            fallbacks,
            attempts,
            lastReason: pe.reason,
          });
        if (step.kind === 'next-target') break;
        await sleep(step.delayMs, opts.signal);
      }
    }
  }
  return fail(fallbacks, attempts, last, 'exhausted');
}

/** Runs one attempt with its whole-call deadline armed; the attempt disarms it (`done`) when it is over. */
async function withDeadline<T>(
  t: Target,
  timeoutMs: number,
  firstByteTimeoutMs: number,
  clientSignal: AbortSignal | undefined,
  attempt: (t: Target, call: AttemptCall) => Promise<T>,
): Promise<T> {
  const ac = new AbortController();
  const timer = setTimeout(
    () =>
      ac.abort(
        new ProviderError('timeout', `provider "${t.provider}": no complete answer within ${timeoutMs}ms`),
      ),
    timeoutMs,
  );
  // The client's abort is forwarded by hand: AbortSignal.any() costs measurably more per call.
  const forward = () => ac.abort(clientSignal?.reason);
  if (clientSignal?.aborted) forward();
  else clientSignal?.addEventListener('abort', forward, { once: true });
  const signal = ac.signal;
  const done = () => {
    clearTimeout(timer);
    clientSignal?.removeEventListener('abort', forward);
  };
  try {
    return await attempt(t, { signal, firstByteTimeoutMs: Math.min(firstByteTimeoutMs, timeoutMs), done });
  } catch (err) {
    done();
    throw toProviderError(err, t.provider, signal);
  }
}

function fail(
  fallbacks: FallbackEvent[],
  attempts: number,
  last: ProviderError | undefined,
  why: 'deadline' | 'exhausted',
): never {
  const info = { fallbacks, attempts, ...(last ? { lastReason: last.reason } : {}) };
  const detail = last ? `; last: ${last.message}` : '';
  if (why === 'deadline')
    throw new ExecutionError(
      'TM_UPSTREAM_TIMEOUT',
      `request deadline passed after ${attempts} attempt(s)${detail}`,
      info,
    );
  const reasons = new Set(fallbacks.map((f) => f.reason));
  if (fallbacks.length === 0)
    throw new ExecutionError('TM_ALL_TARGETS_FAILED', 'no provider target to try', info);
  if (reasons.size === 1 && reasons.has('breaker_open'))
    throw new ExecutionError('TM_BREAKER_OPEN', `every target's circuit breaker is open${detail}`, info);
  if (reasons.size === 1 && reasons.has('rate_limited')) {
    const waits =
      fallbacks.length > 0 && last?.retryAfter !== undefined
        ? { retryAfter: Math.ceil(last.retryAfter) }
        : {};
    throw new ExecutionError('TM_RATE_LIMITED', `every target is rate limited${detail}`, {
      ...info,
      ...waits,
    });
  }
  if (last?.reason === 'timeout')
    throw new ExecutionError('TM_UPSTREAM_TIMEOUT', `all targets failed${detail}`, info);
  throw new ExecutionError('TM_ALL_TARGETS_FAILED', `all targets failed${detail}`, info);
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
