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
  ExecutionError,
  executeCompletion,
  executeStream,
  type FallbackEvent,
  type Served,
  type StreamResult,
} from '../providers/failover.js';
import type { RouteProviders } from '../providers/registry.js';
import { checkAnswer } from '../routing/cascade.js';
import type { RouteDecision } from '../routing/types.js';
import { estimateUsage, type TokenCounts } from './accounting.js';

/** Who hears about what happens during execution (logs, metrics); never decides anything. */
export interface ExecutionObserver {
  fallback(e: FallbackEvent): void;
  /** A cascade check failed on `tier`'s answer; the request moves on to `to`. */
  escalate(check: string, detail: string, to: string): void;
}

/** One answer an upstream produced: what it cost is booked whether or not it is served. */
export interface ProducedAnswer {
  model: ModelEntry;
  served: Served;
  tier: string;
  usage: TokenCounts;
  upstreamSeconds: number;
}

export interface ExecuteInput {
  providers: RouteProviders;
  request: ChatCompletionRequest;
  decision: RouteDecision;
  signal: AbortSignal;
  observer: ExecutionObserver;
}

export interface CascadeOutcome {
  /** Every answer produced, in order; the served one (if any) is last. */
  produced: ProducedAnswer[];
  /** The answer to send; absent when `error` is set. */
  answer: ChatCompletion | undefined;
  /** The answer passed its checks (false: an earlier check-failed answer served because the escalation failed). */
  passed: boolean;
  error: unknown;
  /** Upstream calls made over all steps. */
  attempts: number;
  escalations: number;
  /** Tier of the last step tried. */
  tier: string;
  served: Served | undefined;
}

/**
 * Execute, then check, one tier after the other until an answer passes or the escalations run out. When a later
 * tier fails outright, the earlier answer (which failed a check, but exists) is served rather than an error: the
 * client is better off with it than with a 5xx.
 */
export async function executeWithCascade(input: ExecuteInput): Promise<CascadeOutcome> {
  const { decision: d, request, providers, signal, observer } = input;
  const cascade = d.spec.cascade;
  const steps = [
    { tierName: d.tierName, models: d.models },
    ...(cascade.enabled ? d.escalation.slice(0, cascade.maxEscalations) : []),
  ];
  const out: CascadeOutcome = {
    produced: [],
    answer: undefined,
    passed: false,
    error: undefined,
    attempts: 0,
    escalations: 0,
    tier: d.tierName,
    served: undefined,
  };
  let previous: ChatCompletion | undefined;
  for (const [i, step] of steps.entries()) {
    out.tier = step.tierName;
    const t0 = performance.now();
    let r: Awaited<ReturnType<typeof executeCompletion>>;
    try {
      r = await executeCompletion(providers.plan(step.models), request, {
        signal,
        onFallback: observer.fallback,
      });
    } catch (e) {
      if (e instanceof ExecutionError) out.attempts += e.attempts;
      if (previous && !(e instanceof ExecutionError && e.aborted)) {
        // The escalation failed; the answer we already have is what the client gets.
        out.answer = previous;
        out.tier = steps[i - 1]!.tierName;
        return out;
      }
      out.error = e;
      return out;
    }
    out.attempts += r.attempts;
    out.served = r.served;
    const model = step.models.find((m) => m.name === r.served.model)!;
    const content = r.completion.choices[0]?.message.content;
    out.produced.push({
      model,
      served: r.served,
      tier: step.tierName,
      usage: r.completion.usage ?? estimateUsage(d.estimatedPromptTokens, content ?? ''),
      upstreamSeconds: (performance.now() - t0) / 1000,
    });
    const last = i === steps.length - 1;
    const verdict =
      cascade.enabled && !last
        ? checkAnswer(r.completion.choices[0]?.message ?? { content: '' }, request, cascade.checks)
        : { ok: true as const };
    if (verdict.ok) {
      out.answer = r.completion;
      out.passed = true;
      return out;
    }
    previous = r.completion;
    out.escalations++;
    observer.fallback({
      from: r.served,
      reason: 'quality',
      latencyMs: Math.round(performance.now() - t0),
      action: 'next-target',
    });
    observer.escalate(verdict.check, verdict.detail, steps[i + 1]!.tierName);
  }
  return out; // not reached: the last step always passes its (absent) check
}

/** Execute for a stream: failover until a target sent its first chunk. Throws ExecutionError when none did. */
export function openStream(input: ExecuteInput, body: ChatCompletionRequest): Promise<StreamResult> {
  return executeStream(input.providers.plan(input.decision.models), body, {
    signal: input.signal,
    onFallback: input.observer.fallback,
  });
}

export interface Relayed {
  /** Usage the upstream reported, if it did. */
  usage: TokenCounts | undefined;
  /** The answer text, for an estimate when there is no usage. */
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
      for (const c of chunk.choices) if (typeof c.delta.content === 'string') out.text += c.delta.content;
      if (!write(chunk)) await drained();
    }
  } catch (e) {
    out.broken = e;
  }
  return out;
}
