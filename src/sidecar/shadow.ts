/** `spec.shadow`: which requests also go to the shadow model, the (non-streaming) body it gets, and the runner. */
import type { ModelEntry, ModelRouteSpec } from '../api/modelroute.js';
import type { ChatCompletionRequest } from '../api/openai.js';
import type { UsageRecord } from '../budget/types.js';
import { toTiermeshError } from '../errors.js';
import { type ExecuteOptions, ExecutionError, executeCompletion } from '../providers/failover.js';
import type { RouteDecision } from '../routing/types.js';
import {
  type Books,
  book,
  completionText,
  estimateUsage,
  type TokenCounts,
  usableUsage,
  usageRecord,
} from './accounting.js';
import { type Admit, NoFreeSlot } from './queues.js';
import type { SidecarRuntime } from './runtime.js';

/**
 * The shadow model for this request, or undefined. `random` is uniform in [0, 1), drawn by the caller: the request
 * is shadowed when `random * 100 < percent`, so 0 never shadows and 100 always does. Never a model among `serving`
 * (the decision's own): a shadow of the model that answers the request anyway compares nothing and pays twice.
 */
export function pickShadow(
  spec: ModelRouteSpec,
  random: number,
  serving: readonly ModelEntry[] = [],
): ModelEntry | undefined {
  const s = spec.shadow;
  if (!s || !(random * 100 < s.percent)) return undefined;
  if (serving.some((m) => m.name === s.model)) return undefined;
  return spec.models.find((m) => m.name === s.model);
}

/** The client's request as a plain JSON call: streaming options are dropped (OpenAI refuses them without `stream`). */
export function shadowBody(request: ChatCompletionRequest): ChatCompletionRequest {
  const { stream: _s, stream_options: _o, ...rest } = request;
  return { ...rest, stream: false };
}

/** One shadow call: the request it copies, the decision it was made under and the shadow model. */
export interface ShadowCall {
  requestId: string;
  runtime: SidecarRuntime;
  request: ChatCompletionRequest;
  decision: RouteDecision;
  model: ModelEntry;
  /**
   * spec.queue for the shadow's target: a free slot or none (TargetQueues.claimer). A shadow never waits, so it never
   * queues ahead of real traffic nor holds it up beyond one call; without a free slot it is dropped.
   */
  admit?: Admit | undefined;
}

export interface ShadowDeps {
  books: Books;
  /** The runtime serving now: a reload since the request started carried the budget totals over to a new one. */
  current: () => SidecarRuntime | undefined;
}

/**
 * Runs shadow calls in the background and books what they cost: real spend, saving nothing (baseline 0). The
 * answer is discarded; failures are counted and logged (never the prompt), never surfaced to the client, whose
 * request does not wait for it and whose disconnect does not stop it. A shadow whose target has no free spec.queue
 * slot is dropped (counted as `dropped`). `close` stops the ones still running.
 */
export class ShadowRunner {
  /** Aborted when the sidecar stops: background shadow calls must not outlive it. */
  private readonly stopping = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly deps: ShadowDeps) {}

  /** Starts after this turn of the event loop, so the client's own upstream call is on its way first. */
  start(call: ShadowCall): void {
    setImmediate(() => this.run(call));
  }

  private run({ requestId, runtime, request, decision: d, model, admit }: ShadowCall): void {
    const { books } = this.deps;
    const registry = runtime.providers.get(d.route)!;
    const t0 = performance.now();
    const opts: ExecuteOptions = { signal: this.stopping.signal };
    if (admit) opts.admit = admit;
    const run = Promise.resolve()
      .then(() => executeCompletion(registry.plan([model]), shadowBody(request), opts))
      .then((r) => {
        const usage = usableUsage(r.completion.usage, () =>
          estimateUsage(d.estimatedPromptTokens, completionText(r.completion)),
        );
        const record = this.spend(runtime, d, model, usage);
        books.metrics.shadow(model.name, 'ok');
        books.logger.info(
          {
            requestId,
            route: d.route,
            model: model.name,
            provider: r.served.provider,
            attempts: r.attempts,
            latencyMs: Math.round(performance.now() - t0),
            inputTokens: usage.prompt_tokens,
            outputTokens: usage.completion_tokens,
            costUSD: record.costUSD,
          },
          'shadow',
        );
      })
      .catch((e: unknown) => {
        if (e instanceof NoFreeSlot) {
          books.metrics.shadow(model.name, 'dropped');
          books.logger.debug(
            { requestId, route: d.route, model: model.name },
            'shadow dropped: no free slot',
          );
          return;
        }
        books.metrics.shadow(model.name, 'error');
        // Cut off while under way (the sidecar is stopping): the upstream may bill the prompt it was sent.
        const cut = e instanceof ExecutionError && e.aborted ? e.inFlight : undefined;
        const booked =
          cut &&
          this.spend(runtime, d, model, { prompt_tokens: d.estimatedPromptTokens, completion_tokens: 0 });
        books.logger.warn(
          {
            requestId,
            route: d.route,
            model: model.name,
            latencyMs: Math.round(performance.now() - t0),
            error: toTiermeshError(e).toLog(),
            ...(e instanceof ExecutionError ? { attempts: e.attempts, reason: e.lastReason } : {}),
            ...(booked ? { inputTokens: booked.inputTokens, costUSD: booked.costUSD } : {}),
          },
          'shadow failed',
        );
      })
      .finally(() => this.inFlight.delete(run));
    this.inFlight.add(run);
  }

  /**
   * Books what a shadow call spent (an answer's usage, or a cut-off call's estimated prompt) into the budget serving
   * now (a reload since the request started carried the totals over to a new one), saving nothing.
   */
  private spend(
    runtime: SidecarRuntime,
    d: RouteDecision,
    model: ModelEntry,
    usage: TokenCounts,
  ): UsageRecord {
    const { books } = this.deps;
    const at = books.now();
    const record = usageRecord(d.route, model, d.user, usage, 0, at);
    const current = this.deps.current() ?? runtime;
    book(books, current.budget, record, 0);
    for (const b of current.budget.status(at)) books.metrics.budget(b.name, b.remainingUSD);
    return record;
  }

  /** Stops every background shadow call still running and waits for them to settle (their failure is logged). */
  async close(): Promise<void> {
    this.stopping.abort();
    await Promise.all([...this.inFlight]);
  }
}
