/**
 * The execute and check stages. Execute sends the request to a tier's models with failover (providers/failover.ts);
 * check runs the cascade's quality checks on the answer and, when one fails, executes again one tier up.
 *
 * Nothing here books or answers: the stage returns every answer an upstream produced (each of them is spend, kept or
 * not) and the one to serve, or the error to answer with, and the pipeline accounts and responds.
 */
import type { ModelEntry } from '../api/modelroute.js';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from '../api/openai.js';
import {
  type CompletionResult,
  type ExecuteOptions,
  ExecutionError,
  type ExecutionInfo,
  type ExecutionPlan,
  executeCompletion,
  executeStream,
  type FallbackEvent,
  type Served,
  type StreamResult,
} from '../providers/failover.js';
import type { RouteProviders } from '../providers/registry.js';
import { answerOf, type CheckResult, checkAnswer, checkServedAnswer } from '../routing/cascade.js';
import { type Failed, hedgeDelayMs, type Raced, RaceFailed, race } from '../routing/hedge.js';
import { type JudgeOutcome, type JudgeVerdict, judgeRequest, judgeVerdict } from '../routing/judge.js';
import { type LatencyView, latencyKey, sloFor, sloOrder } from '../routing/latency.js';
import { strictRequest } from '../routing/strict-retry.js';
import { estimateRequestTokens } from '../routing/tokens.js';
import type { EscalationStep, RouteDecision } from '../routing/types.js';
import type { TraceContext } from '../telemetry/trace-context.js';
import { chunkText, completionText, estimateUsage, type TokenCounts, usableUsage } from './accounting.js';
import type { CascadeVerdict } from './decisions.js';
import {
  chosenStep,
  type PromotionEvent,
  type PromotionPlanner,
  type PromotionStop,
  withPromotion,
} from './promote.js';
import type { Admit } from './queues.js';

/** The verdict of a last answer whose checks were not run (nothing reads it: see the cascade's last step). */
const NOT_RECORDED = { ok: true, checked: false } as const;

/** Who hears about what happens during execution (logs, metrics); never decides anything. */
export interface ExecutionObserver {
  fallback(e: FallbackEvent): void;
  /** A cascade check failed on `from`'s answer; the request moves on to `to`. */
  escalate(check: string, detail: string, from: string, to: string): void;
  /** Every target of a tier failed and the request moved to another tier (tier promotion). */
  promoted(e: PromotionEvent): void;
  /** Every target of a tier failed and no promotion was made; the tier's error is answered. */
  promotionStopped(e: PromotionStop): void;
  /** The cascade's judge answered (or did not): its outcome, for the metric. */
  judged(outcome: JudgeVerdict['outcome']): void;
  /**
   * spec.cascade.strictRetry asked `tier` again after a json check failure: `passed` / `failed` by the new answer's
   * checks, `error` when the retry got no answer (the first answer then goes on to escalation).
   */
  strictRetried(tier: string, outcome: 'passed' | 'failed' | 'error'): void;
  /** A hedge was started for this request (`started`, whatever becomes of it), and later answered first (`won`). */
  hedge(event: 'started' | 'won'): void;
  /** spec.slo moved targets of `tier` out of its failover order. */
  sloSkipped(
    tier: string,
    skipped: Array<{ provider: string; model: string; why: string; p95Ms: number }>,
  ): void;
}

/**
 * The failover plan of a step, with spec.slo applied: targets whose recent p95 breaks the SLO are left out. When none
 * meets it and the policy is `fail`, the tier fails as a whole (no target to try), which tier promotion can act on.
 */
export function sloPlan(input: ExecuteInput, step: EscalationStep): ExecutionPlan {
  const base = input.providers.plan(step.models);
  const d = input.decision;
  const slo = input.latency ? sloFor(d.spec, d.task) : undefined;
  if (!slo || !input.latency) return base;
  const price = new Map(step.models.map((m) => [m.name, m.pricing.outputPerMTok] as const));
  const targets = base.targets.map((t) => ({
    t,
    key: latencyKey(t.provider, t.upstreamModel),
    outputPerMTok: price.get(t.model) ?? 0,
  }));
  const r = sloOrder(targets, slo, input.latency, d.spec.slo?.minSamples ?? 5);
  if (r.skipped.length === 0) return base;
  input.observer.sloSkipped(
    step.tierName,
    r.skipped.map((x) => ({
      provider: x.target.t.provider,
      model: x.target.t.model,
      why: x.why,
      p95Ms: x.p95Ms,
    })),
  );
  if (r.order.length === 0)
    throw new ExecutionError(
      'TM_ALL_TARGETS_FAILED',
      `no target of tier "${step.tierName}" meets the route's slo`,
      {
        fallbacks: [],
        attempts: 0,
      },
    );
  return { targets: r.order.map((x) => x.t), resilience: base.resilience };
}

/** One answer an upstream produced: what it cost is booked whether or not it is served. */
export interface ProducedAnswer {
  model: ModelEntry;
  served: Served;
  tier: string;
  usage: TokenCounts;
  /** The whole step's time (failover, retries and queue waits included): tiermesh_upstream_duration_seconds. */
  upstreamSeconds: number;
  /**
   * The answering attempt's own time (failover.ts `elapsedMs`): what spec.slo observes of its target. Absent: no
   * observation (a hedge's loser).
   */
  attemptMs?: number;
  /**
   * Booked, but `upstreamSeconds` is no latency observation of its target: a hedge's loser (its time says when it
   * was stopped) or a hedge that won (timed from its step's start, so the delay would count as the target's).
   */
  untimed?: boolean;
}

export interface ExecuteInput {
  providers: RouteProviders;
  request: ChatCompletionRequest;
  decision: RouteDecision;
  signal: AbortSignal;
  observer: ExecutionObserver;
  /** Where to go when a whole tier fails (sidecar/promote.ts). */
  planner: PromotionPlanner;
  /** Recent latency per target, for spec.slo; absent: failover order as configured. */
  latency?: ((key: string) => LatencyView | undefined) | undefined;
  /** spec.queue: waits for a target's in-flight slot before its call (sidecar/queues.ts); absent: no limits. */
  admit?: Admit | undefined;
  /** The client's W3C trace context, sent on with every upstream call (telemetry/trace-context.ts). */
  traceContext?: TraceContext | undefined;
}

export interface CascadeOutcome {
  /** Every answer produced (the judge's and a hedge's loser's included), in order. */
  produced: ProducedAnswer[];
  /**
   * What the cascade made of each answer of a tier step, in order: the decision log's `cascade`. Kept here, where the
   * checks run, because `produced` also holds answers nobody checked (a hedge's loser, the judge's reply).
   */
  verdicts: CascadeVerdict[];
  /** The answer to send; absent when `error` is set. */
  answer: ChatCompletion | undefined;
  /**
   * No check sent the answer up (false: an earlier check-failed answer served because the escalation failed). The
   * last step's answer is served as passed even when a check recorded against it failed: nothing was above it.
   */
  passed: boolean;
  error: unknown;
  /** Upstream calls made over all steps. */
  attempts: number;
  escalations: number;
  /** Tier of the last step tried. */
  tier: string;
  served: Served | undefined;
  /** The decision's tier, when tier promotion moved the request off it. */
  promotedFrom: string | undefined;
  /** Set when a hedge was started: `won` when the hedge answered, `lost` when the first target did. */
  hedged: 'won' | 'lost' | undefined;
}

/** What a hedged step adds to the request's tally: the loser's upstream calls and spend, and which side won. */
interface HedgeTally {
  attempts: number;
  produced: ProducedAnswer[];
  hedged: 'won' | 'lost' | undefined;
}

/**
 * How one kind of call (a JSON answer, a stream up to its first chunk) runs under a hedge: `hedgedStep` is the same
 * race for both, and only these three differ.
 */
interface HedgeCall<R extends ExecutionInfo> {
  run(plan: ExecutionPlan, signal: AbortSignal): Promise<R>;
  /** What a loser that did get an answer spent; a loser stream is closed here, so none of it goes anywhere. */
  spent(r: R): Promise<TokenCounts> | TokenCounts;
  /** The observed p95 a `delay: p95` hedge waits: the whole answer for JSON, the first byte for a stream. */
  p95(v: LatencyView): number | undefined;
  /** The winner, with `release` (race's) called once it is over: at once for JSON, at a stream's end. */
  hold(r: R, release: () => void): R;
}

/** Failover options of one call of this request, under `signal` (the request's, or a hedge race's). */
function executeOptions(input: ExecuteInput, signal: AbortSignal): ExecuteOptions {
  const o: ExecuteOptions = { signal, onFallback: input.observer.fallback };
  if (input.admit) o.admit = input.admit;
  if (input.traceContext) o.traceContext = input.traceContext;
  return o;
}

/** A tier step as a JSON call (hedgedStep's `call`). */
function jsonCall(input: ExecuteInput): HedgeCall<CompletionResult> {
  return {
    run: (plan, signal) => executeCompletion(plan, input.request, executeOptions(input, signal)),
    spent: (r) =>
      usableUsage(r.completion.usage, () =>
        estimateUsage(input.decision.estimatedPromptTokens, completionText(r.completion)),
      ),
    p95: (v) => v.totalP95Ms,
    hold: (r, release) => {
      release();
      return r;
    },
  };
}

/**
 * A tier step as a stream up to its first chunk (hedgedStep's `call`): the race is over once a side has its first
 * chunk. A loser that opened too is closed unread; it spent the prompt and what it had sent.
 */
function streamCall(input: ExecuteInput, body: ChatCompletionRequest): HedgeCall<StreamResult> {
  return {
    run: (plan, signal) => executeStream(plan, body, executeOptions(input, signal)),
    spent: async (r) => estimateUsage(input.decision.estimatedPromptTokens, await closeUnread(r.chunks)),
    p95: (v) => v.ttftP95Ms,
    // The client's abort must keep reaching the winner's upstream call while its stream runs.
    hold: (r, release) => ({ ...r, chunks: releasing(r.chunks, release) }),
  };
}

/**
 * Closes a stream nobody will relay: reading its first chunk (already received) and stopping runs the stream's
 * cleanup (breaker, queue slot, upstream socket), which a generator never started would skip. Returns that chunk's
 * text, for an estimate of what was spent.
 */
export async function closeUnread(chunks: AsyncIterable<ChatCompletionChunk>): Promise<string> {
  let text = '';
  for await (const chunk of chunks) {
    text = chunkText(chunk);
    break;
  }
  return text;
}

async function* releasing<T>(chunks: AsyncIterable<T>, release: () => void): AsyncGenerator<T> {
  try {
    yield* chunks;
  } finally {
    release();
  }
}

/**
 * One tier step: plain failover, or with spec.hedge a race between the plan's first target and, after the delay, the
 * plan from its second target on. The loser is aborted and what it spent is booked in `tally`: its usage when it got
 * an answer, else the prompt it was sent (an aborted upstream call may still bill its input). With hedging off this is
 * one property read and the plain call.
 */
function hedgedStep<R extends ExecutionInfo>(
  input: ExecuteInput,
  tally: HedgeTally,
  step: EscalationStep,
  plan: ExecutionPlan,
  call: HedgeCall<R>,
): Promise<R> {
  const d = input.decision;
  // Not async up to here: without a hedge the plain call's own promise is returned, with no extra await.
  if (!d.spec.hedge?.enabled || plan.targets.length < 2) return call.run(plan, input.signal);
  const first = plan.targets[0]!;
  const seen = input.latency?.(latencyKey(first.provider, first.upstreamModel));
  const delay = hedgeDelayMs(d.spec, d.task, seen ? call.p95(seen) : undefined);
  if (delay === undefined) return call.run(plan, input.signal);
  return raceStep(input, tally, step, plan, call, delay);
}

/**
 * hedgedStep's race: the plan's first target alone, and after `delayMs` the plan from its second target on. The two
 * never share a target: a first target that fails after the hedge started leaves the rest of the plan to the hedge
 * (failing over itself would call the hedge's own targets a second time), and one that fails before the delay hands
 * over to the rest at once, which is plain failover and no hedge.
 */
async function raceStep<R extends ExecutionInfo>(
  input: ExecuteInput,
  tally: HedgeTally,
  step: EscalationStep,
  plan: ExecutionPlan,
  call: HedgeCall<R>,
  delay: number,
): Promise<R> {
  const { decision: d, signal, observer } = input;
  const firstPlan: ExecutionPlan = { targets: plan.targets.slice(0, 1), resilience: plan.resilience };
  const restPlan: ExecutionPlan = { targets: plan.targets.slice(1), resilience: plan.resilience };
  const t0 = performance.now();
  const book = (served: Served, usage: TokenCounts) => {
    const p = producedBy(step.models, step.tierName, served, usage, (performance.now() - t0) / 1000);
    if (p) tally.produced.push(p);
  };
  let raced: Raced<R>;
  try {
    raced = await race(
      (sig) => call.run(firstPlan, sig),
      (sig) => call.run(restPlan, sig),
      delay,
      signal,
      { failsOver: failsOverToRest, onHedge: () => observer.hedge('started') },
    );
  } catch (e) {
    throw raceFailure(e, tally, signal, (f) => {
      const sent = cutOff(f);
      if (sent) book(sent, { prompt_tokens: d.estimatedPromptTokens, completion_tokens: 0 });
    });
  }
  const value = call.hold(raced.value, raced.release);
  if (raced.hedged) {
    tally.hedged = raced.winner === 'hedge' ? 'won' : 'lost';
    if (raced.winner === 'hedge') {
      value.wonHedge = true;
      observer.hedge('won');
    }
  }
  // The other side: a hedge's loser, or a first target that failed before the delay and handed over to the rest.
  if (!raced.loser) return value;
  const lost = await raced.loser;
  if (lost.ok) {
    tally.attempts += lost.value.attempts;
    book(lost.value.served, await call.spent(lost.value));
  } else if (lost.error instanceof ExecutionError) {
    tally.attempts += lost.error.attempts;
    const sent = cutOff(lost);
    if (sent) book(sent, { prompt_tokens: d.estimatedPromptTokens, completion_tokens: 0 });
  }
  return value;
}

/**
 * The target whose call an abort cut off while it was under way, which may bill the prompt it was sent. A side that
 * made no call (still waiting for a queue slot, refused by an open breaker, between tries) spent nothing.
 */
function cutOff(f: Failed): Served | undefined {
  return f.aborted && f.error instanceof ExecutionError ? f.error.inFlight : undefined;
}

/** An answer `served` produced on one of `models`, booked as spent but never a latency observation. */
function producedBy(
  models: ModelEntry[],
  tier: string,
  served: Served,
  usage: TokenCounts,
  upstreamSeconds: number,
): ProducedAnswer | undefined {
  const model = models.find((m) => m.name === served.model);
  return model && { model, served, tier, usage, upstreamSeconds, untimed: true };
}

const FAILS_OVER: ReadonlySet<string> = new Set([
  'TM_ALL_TARGETS_FAILED',
  'TM_BREAKER_OPEN',
  'TM_RATE_LIMITED',
  'TM_UPSTREAM_OVERLOADED',
  'TM_UPSTREAM_TIMEOUT',
]);

/**
 * Whether failover would move on from this failure of a plan's targets: every one of them failed or was refused. Not
 * for a request the upstream called invalid, one that could not be built, a queue refusal or a client that left.
 */
export function failsOverToRest(e: unknown): boolean {
  return e instanceof ExecutionError && !e.aborted && FAILS_OVER.has(e.code);
}

/**
 * The step's error when no side of its race answered. A first target that failed alone (no rest started) is its
 * own error, as without a hedge. Otherwise each side's cut-off call goes to `spent`, and the two failures become one
 * (mergeFailures); a side that failed with anything but an ExecutionError (a queue refusal) is answered as it is,
 * the other side's calls counted in `tally`.
 */
function raceFailure(
  e: unknown,
  tally: HedgeTally,
  signal: AbortSignal,
  spent: (f: Failed) => void,
): unknown {
  if (!(e instanceof RaceFailed)) return e;
  if (!e.hedge) return e.primary.error;
  spent(e.primary);
  spent(e.hedge);
  const [a, b] = [e.primary.error, e.hedge.error];
  if (a instanceof ExecutionError && b instanceof ExecutionError) return mergeFailures(a, b, signal.aborted);
  const other = a instanceof ExecutionError ? a : b instanceof ExecutionError ? b : undefined;
  if (other) tally.attempts += other.attempts;
  return other === a ? b : a;
}

/**
 * One error for a plan whose first target (`first`) and the rest (`rest`) both failed, as failover over the whole
 * plan would have said it: every call and fallback of both; a failure failover stops at (an upstream that called the
 * request invalid) is the answer; the same code on both keeps it (the soonest Retry-After); else all targets failed,
 * a timeout when the last one timed out. `clientGone`: the client left, which is all there is to say.
 */
export function mergeFailures(
  first: ExecutionError,
  rest: ExecutionError,
  clientGone: boolean,
): ExecutionError {
  const info = {
    fallbacks: [...first.fallbacks, ...rest.fallbacks],
    attempts: first.attempts + rest.attempts,
  };
  if (clientGone)
    return new ExecutionError('TM_UPSTREAM_ERROR', 'request aborted by the client', {
      ...info,
      aborted: true,
    });
  const stop = [first, rest].find((x) => !failsOverToRest(x));
  if (stop)
    return new ExecutionError(stop.code, stop.message, {
      ...info,
      lastReason: stop.lastReason,
      logMessage: stop.logMessage,
      ...(stop.rejected ? { rejected: stop.rejected } : {}),
    });
  // Overloaded on one side and open breakers on the other is still a busy provider, as failover() says it.
  const busy = (x: ExecutionError) => x.code === 'TM_UPSTREAM_OVERLOADED' || x.code === 'TM_BREAKER_OPEN';
  const overloaded =
    busy(first) && busy(rest) && [first, rest].some((x) => x.code === 'TM_UPSTREAM_OVERLOADED');
  if (first.code === rest.code || overloaded) {
    const after = [first.retryAfter, rest.retryAfter].filter((x) => x !== undefined);
    const said = overloaded && first.code === 'TM_UPSTREAM_OVERLOADED' ? first : rest;
    return new ExecutionError(said.code, said.message, {
      ...info,
      lastReason: said.lastReason,
      ...(after.length > 0 ? { retryAfter: Math.min(...after) } : {}),
    });
  }
  const last = rest.fallbacks.at(-1)?.detail ?? first.fallbacks.at(-1)?.detail;
  return new ExecutionError(
    rest.code === 'TM_UPSTREAM_TIMEOUT' ? 'TM_UPSTREAM_TIMEOUT' : 'TM_ALL_TARGETS_FAILED',
    `all targets failed${last !== undefined ? `; last: ${last}` : ''}`,
    { ...info, lastReason: rest.lastReason ?? first.lastReason },
  );
}

/**
 * Execute, then check, one tier after the other until an answer passes or the escalations run out. When every target
 * of the chosen tier fails, tier promotion picks another tier first (spec.promotion). When a later tier fails
 * outright, the earlier answer (which failed a check, but exists) is served rather than an error: the client is
 * better off with it than with a 5xx.
 */
export async function executeWithCascade(input: ExecuteInput): Promise<CascadeOutcome> {
  const { decision: d, request, observer } = input;
  const cascade = d.spec.cascade;
  const out: CascadeOutcome = {
    produced: [],
    verdicts: [],
    answer: undefined,
    passed: false,
    error: undefined,
    attempts: 0,
    escalations: 0,
    tier: d.tierName,
    served: undefined,
    promotedFrom: undefined,
    hedged: undefined,
  };
  const json = jsonCall(input);
  const call = async (step: EscalationStep) => {
    out.tier = step.tierName;
    const t0 = performance.now();
    try {
      const r = await hedgedStep(input, out, step, sloPlan(input, step), json);
      return { r, step, seconds: (performance.now() - t0) / 1000 };
    } catch (e) {
      if (e instanceof ExecutionError) out.attempts += e.attempts;
      throw e;
    }
  };
  let escalationsLeft = cascade.enabled ? cascade.maxEscalations : 0;
  let previous: { completion: ChatCompletion; tier: string } | undefined;
  let next: EscalationStep | undefined = chosenStep(d);
  while (next) {
    let done: Awaited<ReturnType<typeof call>>;
    try {
      if (previous) done = await call(next);
      else {
        const p = await withPromotion(input.planner, next, call, {
          promoted: observer.promoted,
          stopped: observer.promotionStopped,
        });
        done = p.value;
        out.promotedFrom = p.promotedFrom;
      }
    } catch (e) {
      if (previous && !(e instanceof ExecutionError && e.aborted)) {
        // The escalation failed; the answer we already have is what the client gets.
        out.answer = previous.completion;
        out.tier = previous.tier;
        return out;
      }
      out.error = e;
      return out;
    }
    const { step } = done;
    let r: { completion: ChatCompletion; served: Served } = done.r;
    out.attempts += done.r.attempts;
    out.served = r.served;
    const model = step.models.find((m) => m.name === r.served.model)!;
    out.produced.push({
      model,
      served: r.served,
      tier: step.tierName,
      usage: usableUsage(r.completion.usage, () =>
        estimateUsage(d.estimatedPromptTokens, completionText(r.completion)),
      ),
      upstreamSeconds: done.seconds,
      attemptMs: done.r.elapsedMs,
      untimed: done.r.wonHedge,
    });
    // The cascade's next tier: the first above the one that answered (promotion may have moved it).
    const above: EscalationStep | undefined =
      escalationsLeft > 0 ? d.escalation.find((s) => s.tierIndex > step.tierIndex) : undefined;
    if (!above) {
      // The cascade's last step: the answer is served whatever a check says. Its checks run only to record their
      // verdict (no strict retry, no judge, no escalation: routing/cascade.ts checkServedAnswer), for the one reader
      // of it, the outcomes export, which pairs only requests first sent to the cheapest tier and not promoted; for
      // the rest (a request routed straight up, about premiumShare of them) the checks would be work nobody reads.
      const recorded = d.tierIndex === 0 && out.promotedFrom === undefined;
      const v = recorded ? checkServedAnswer(r.completion, request, cascade) : NOT_RECORDED;
      out.verdicts.push({
        tier: step.tierName,
        model: r.served.model,
        ok: v.ok,
        checked: v.checked,
        ...(v.ok ? {} : { check: v.check }),
      });
      out.answer = r.completion;
      out.passed = true;
      return out;
    }
    const check = (c: ChatCompletion): CheckResult =>
      checkAnswer(answerOf(c), request, cascade.checks, { logprobs: cascade.logprobs });
    let verdict: CheckResult = check(r.completion);
    if (!verdict.ok && verdict.check === 'json' && cascade.strictRetry?.enabled) {
      // Once per tier step, before escalating: the same tier with a stricter instruction.
      const retried = await strictRetry(input, out, step, verdict.detail);
      if ('aborted' in retried) {
        out.error = retried.aborted;
        return out;
      }
      if ('completion' in retried) {
        out.verdicts.push({
          tier: step.tierName,
          model: r.served.model,
          ok: false,
          checked: true,
          check: 'json',
          to: step.tierName,
        });
        r = retried;
        verdict = check(r.completion);
        observer.strictRetried(step.tierName, verdict.ok ? 'passed' : 'failed');
      }
    }
    const choice = r.completion.choices[0];
    if (verdict.ok && cascade.checks.includes('judge') && cascade.judge)
      verdict = await judge(input, out, choice?.message.content ?? '');
    if (verdict.ok) {
      out.verdicts.push({ tier: step.tierName, model: r.served.model, ok: true, checked: true });
      out.answer = r.completion;
      out.passed = true;
      return out;
    }
    out.verdicts.push({
      tier: step.tierName,
      model: r.served.model,
      ok: false,
      checked: true,
      check: verdict.check,
      to: above.tierName,
    });
    previous = { completion: r.completion, tier: step.tierName };
    escalationsLeft--;
    out.escalations++;
    // Its own line and metric (cascade, tiermesh_cascade_escalations_total): not a failed call.
    observer.escalate(verdict.check, verdict.detail, step.tierName, above.tierName);
    next = above;
  }
  return out; // not reached: the step without a tier above returns in the loop
}

/**
 * spec.cascade.strictRetry: the request again on `step`'s tier with a stricter system instruction (routing/
 * strict-retry.ts). Its answer is spend like any other, so it joins `produced`; a retry whose upstream call fails
 * leaves the first answer to the cascade (counted as `error`); a client that left ends the request.
 */
async function strictRetry(
  input: ExecuteInput,
  out: CascadeOutcome,
  step: EscalationStep,
  detail: string,
): Promise<
  { completion: ChatCompletion; served: Served; seconds: number } | { aborted: unknown } | { failed: true }
> {
  const request = strictRequest(input.request, detail, input.decision.spec.cascade.strictRetry?.instruction);
  const t0 = performance.now();
  try {
    const retryInput = { ...input, request };
    const r = await hedgedStep(retryInput, out, step, sloPlan(input, step), jsonCall(retryInput));
    const seconds = (performance.now() - t0) / 1000;
    out.attempts += r.attempts;
    out.served = r.served;
    const model = step.models.find((m) => m.name === r.served.model)!;
    out.produced.push({
      model,
      served: r.served,
      tier: step.tierName,
      usage: usableUsage(r.completion.usage, () =>
        estimateUsage(estimateRequestTokens(request), completionText(r.completion)),
      ),
      upstreamSeconds: seconds,
      attemptMs: r.elapsedMs,
      untimed: r.wonHedge,
    });
    return { completion: r.completion, served: r.served, seconds };
  } catch (e) {
    if (e instanceof ExecutionError) {
      out.attempts += e.attempts;
      if (e.aborted) return { aborted: e };
    }
    input.observer.strictRetried(step.tierName, 'error');
    return { failed: true };
  }
}

/**
 * The judge check: the route's judge model rates the answer; below `minScore` fails. A judge that times out or fails
 * passes the answer (counted). Its answer is spend like any other, so it joins `produced`.
 */
async function judge(input: ExecuteInput, out: CascadeOutcome, answer: string): Promise<CheckResult> {
  const cfg = input.decision.spec.cascade.judge!;
  const model = input.decision.spec.models.find((m) => m.name === cfg.model);
  if (!model) return { ok: true };
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  input.signal.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => ac.abort(), cfg.timeoutMs);
  const t0 = performance.now();
  let outcome: JudgeOutcome;
  // The judge's call is the request's own traffic: it waits for a spec.queue slot like any other (within its timeout).
  const opts: ExecuteOptions = { signal: ac.signal, deadlineMs: cfg.timeoutMs };
  if (input.admit) opts.admit = input.admit;
  if (input.traceContext) opts.traceContext = input.traceContext;
  try {
    const r = await executeCompletion(
      input.providers.plan([model]),
      judgeRequest(model.name, input.request, answer),
      opts,
    );
    out.attempts += r.attempts;
    const text = r.completion.choices[0]?.message.content ?? '';
    out.produced.push({
      model,
      served: r.served,
      tier: 'judge',
      usage: usableUsage(r.completion.usage, () => estimateUsage(estimateRequestTokens(input.request), text)),
      upstreamSeconds: (performance.now() - t0) / 1000,
      attemptMs: r.elapsedMs,
    });
    outcome = { kind: 'reply', text };
  } catch (e) {
    if (e instanceof ExecutionError) {
      out.attempts += e.attempts;
      // Cut off by its timeout or the client leaving, the judge's call may still bill the prompt it was sent.
      const sent = e.aborted ? e.inFlight : undefined;
      const p =
        sent &&
        producedBy(
          [model],
          'judge',
          sent,
          { prompt_tokens: estimateRequestTokens(input.request), completion_tokens: 0 },
          (performance.now() - t0) / 1000,
        );
      if (p) out.produced.push(p);
    }
    outcome = ac.signal.aborted && !input.signal.aborted ? { kind: 'timeout' } : { kind: 'error' };
  } finally {
    clearTimeout(timer);
    input.signal.removeEventListener('abort', onAbort);
  }
  const v = judgeVerdict(outcome, cfg.minScore);
  input.observer.judged(v.outcome);
  if (!v.escalate) return { ok: true };
  return {
    ok: false,
    check: 'judge',
    detail: `judge score ${v.score!.toFixed(2)} below ${cfg.minScore.toFixed(2)}`,
  };
}

export interface OpenedStream extends StreamResult {
  /** The tier step whose target sent the first chunk. */
  step: EscalationStep;
  /** The decision's tier, when tier promotion moved the stream off it. */
  promotedFrom: string | undefined;
  /** Set when a hedge was started: `won` when the hedge sent the first chunk first, `lost` when the first target did. */
  hedged: 'won' | 'lost' | undefined;
}

/**
 * Execute for a stream: failover until a target sent its first chunk, with tier promotion before the first byte and,
 * with spec.hedge, a hedge on the first byte (the first side to send a chunk wins; the other is closed unread).
 * Throws the last tier's ExecutionError when none did. `countAttempts` hears the upstream calls of every tier;
 * `spent` gets what a hedge race's other side spent (a loser closed before any of its bytes were relayed, a call cut
 * off in flight), whether or not a stream opened: booked like any answer.
 */
export async function openStream(
  input: ExecuteInput,
  body: ChatCompletionRequest,
  countAttempts: (n: number) => void,
  spent: (p: ProducedAnswer) => void,
): Promise<OpenedStream> {
  const tally: HedgeTally = { attempts: 0, produced: [], hedged: undefined };
  const call = streamCall(input, body);
  try {
    const p = await withPromotion(
      input.planner,
      chosenStep(input.decision),
      async (step) => {
        try {
          return await hedgedStep(input, tally, step, sloPlan(input, step), call);
        } catch (e) {
          if (e instanceof ExecutionError) countAttempts(e.attempts);
          throw e;
        }
      },
      { promoted: input.observer.promoted, stopped: input.observer.promotionStopped },
    );
    countAttempts(p.value.attempts + tally.attempts);
    tally.attempts = 0;
    return Object.assign(p.value, { step: p.step, promotedFrom: p.promotedFrom, hedged: tally.hedged });
  } finally {
    if (tally.attempts > 0) countAttempts(tally.attempts);
    for (const p of tally.produced) spent(p);
  }
}

export interface Relayed {
  /** Usage the upstream reported, if it did. */
  usage: TokenCounts | undefined;
  /** What the answer generated (text, refusal, tool call arguments), for an estimate when there is no usage. */
  text: string;
  /** Set when the upstream failed after the first chunk. */
  broken: unknown;
}

/**
 * Hands each chunk to `write` (which answers false when the client's socket is full; then `drained` is awaited), and
 * keeps what accounting needs. Returns when the upstream ended, broke, or the client went away.
 */
export async function relayChunks(
  chunks: AsyncIterable<ChatCompletionChunk>,
  write: (chunk: ChatCompletionChunk) => boolean,
  drained: () => Promise<void>,
): Promise<Relayed> {
  const out: Relayed = { usage: undefined, text: '', broken: undefined };
  try {
    for await (const chunk of chunks) {
      if (chunk.usage) out.usage = chunk.usage;
      out.text += chunkText(chunk);
      if (!write(chunk)) await drained();
    }
  } catch (e) {
    out.broken = e;
  }
  return out;
}
