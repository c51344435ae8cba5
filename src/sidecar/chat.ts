/**
 * POST /v1/chat/completions: body -> validation -> budget gate -> routing decision -> failover -> cascade checks
 * -> usage record + metrics + one log line -> response. JSON and SSE streaming.
 *
 * Streams: the x-tiermesh-* headers go out with the first chunk, when the serving model is known but the cost is
 * not. The final cost is sent twice at the end: as an SSE comment `: x-tiermesh-cost-usd <usd>` right before
 * `data: [DONE]` (OpenAI clients ignore comments), and as the HTTP trailer `x-tiermesh-cost-usd` (declared in the
 * `trailer` header). The upstream is always asked for usage; the usage chunk is forwarded only when the client
 * set `stream_options.include_usage`, as OpenAI does. Cascade checks do not apply to streams: once the first byte is
 * out there is no taking it back.
 *
 * Shadows (`spec.shadow`): a share of allowed (not downgraded) requests is also sent, in the background and as a
 * plain JSON call, to the shadow model; its cost is booked like any spend, its answer is dropped.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ModelEntry } from '../api/modelroute.js';
import type { ChatCompletionChunk, ChatCompletionRequest, Usage } from '../api/openai.js';
import { baselineCostUSD, costUSD, estimateCostUSD } from '../budget/cost.js';
import type { Reservation, UsageRecord } from '../budget/types.js';
import { type TiermeshError, TiermeshError as TmError, toTiermeshError } from '../errors.js';
import {
  ExecutionError,
  executeCompletion,
  executeStream,
  type FallbackEvent,
  midStreamErrorBody,
  type Served,
} from '../providers/failover.js';
import { SSE_DONE, sseData } from '../providers/sse.js';
import { checkAnswer } from '../routing/cascade.js';
import { decide, routingHeaders } from '../routing/decide.js';
import { promptText } from '../routing/features.js';
import { estimateTextTokens } from '../routing/tokens.js';
import type { RouteDecision } from '../routing/types.js';
import type { Logger } from '../telemetry/logger.js';
import type { SidecarMetrics } from '../telemetry/metrics.js';
import { readBody } from './body.js';
import type { ConfigStore } from './config-store.js';
import { parseChatRequest } from './parse-request.js';
import { formatUSD, type ServedBy, sendError, sendJson, servedByHeaders } from './respond.js';
import type { SidecarRuntime } from './runtime.js';
import { pickShadow, shadowBody } from './shadow.js';

export interface ChatDeps {
  store: ConfigStore<SidecarRuntime>;
  metrics: SidecarMetrics;
  logger: Logger;
  maxBodyBytes: number;
  logPrompts: boolean;
  now?: () => number;
  random?: () => number;
  /** Every usage record, after the local budget gate booked it (the operator link reports them). */
  onUsage?: (u: UsageRecord) => void;
}

/** What one request accumulates on its way through; becomes the log line, the metrics and the headers. */
interface RequestState {
  id: string;
  started: number;
  runtime: SidecarRuntime;
  request?: ChatCompletionRequest;
  user?: string | undefined;
  decision?: RouteDecision;
  served?: Served;
  tier: string;
  attempts: number;
  costUSD: number;
  inputTokens: number;
  outputTokens: number;
  stream: boolean;
  escalations: number;
  /** Allowance reservations from the gate, settled with the first usage record (or released). */
  reservations: Reservation[];
}

const NONE = 'none';

/** What one upstream answer spent, priced at the model that produced it. */
function usageRecord(
  route: string,
  model: ModelEntry,
  user: string | undefined,
  usage: Pick<Usage, 'prompt_tokens' | 'completion_tokens'>,
  baselineCostUSD: number,
  at: number,
): UsageRecord {
  return {
    route,
    model: model.name,
    user,
    inputTokens: usage.prompt_tokens,
    outputTokens: usage.completion_tokens,
    costUSD: costUSD(model.pricing, usage.prompt_tokens, usage.completion_tokens),
    baselineCostUSD,
    at,
  };
}

export function chatHandler(deps: ChatDeps) {
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;

  /** Books spent tokens against budgets and metrics. Called for every answer an upstream produced, kept or not. */
  const spend = (
    st: RequestState,
    model: ModelEntry,
    usage: Pick<Usage, 'prompt_tokens' | 'completion_tokens'>,
  ) => {
    const d = st.decision!;
    const baseline = baselineCostUSD(d.spec, usage.prompt_tokens, usage.completion_tokens);
    const record: UsageRecord = {
      ...usageRecord(d.route, model, st.user, usage, baseline, now()),
      reservations: st.reservations,
    };
    st.costUSD += record.costUSD;
    st.inputTokens += usage.prompt_tokens;
    st.outputTokens += usage.completion_tokens;
    st.reservations = [];
    book(st.runtime, record, d.spec.baselineModel ? baseline - record.costUSD : 0);
  };

  /** Budgets, the operator link and the usage metrics, for one answer an upstream produced. */
  const book = (runtime: SidecarRuntime, record: UsageRecord, savedUSD: number) => {
    const alerts = runtime.budget.record(record);
    deps.onUsage?.(record);
    for (const a of alerts) deps.logger.warn({ ...a }, 'budget threshold crossed');
    deps.metrics.usage(
      record.route,
      record.model,
      record.inputTokens,
      record.outputTokens,
      record.costUSD,
      savedUSD,
    );
  };

  /** Aborted when the sidecar stops: background shadow calls must not outlive it. */
  const stopping = new AbortController();
  const shadowsInFlight = new Set<Promise<void>>();

  /**
   * Sends the request to the route's shadow model in the background and books what it cost: it is real spend,
   * saving nothing (baseline 0). The answer is discarded; failures are counted and logged (never the prompt),
   * never surfaced to the client, whose request does not wait for it and whose disconnect does not stop it.
   */
  const shadow = (st: RequestState, request: ChatCompletionRequest, d: RouteDecision, model: ModelEntry) => {
    const runtime = st.runtime;
    const registry = runtime.providers.get(d.route)!;
    const t0 = performance.now();
    const run = Promise.resolve()
      .then(() => executeCompletion(registry.plan([model]), shadowBody(request), { signal: stopping.signal }))
      .then((r) => {
        const usage = r.completion.usage ?? {
          prompt_tokens: d.estimatedPromptTokens,
          completion_tokens: estimateTextTokens(r.completion.choices[0]?.message.content ?? ''),
        };
        const at = now();
        const record = usageRecord(d.route, model, st.user, usage, 0, at);
        const cost = record.costUSD;
        // Into the budget gate serving now: a reload since the request started carried the totals over to a new one.
        const current = deps.store.current ?? runtime;
        book(current, record, 0);
        for (const b of current.budget.status(at)) deps.metrics.budget(b.name, b.remainingUSD);
        deps.metrics.shadow(model.name, 'ok');
        deps.logger.info(
          {
            requestId: st.id,
            route: d.route,
            model: model.name,
            provider: r.served.provider,
            attempts: r.attempts,
            latencyMs: Math.round(performance.now() - t0),
            inputTokens: usage.prompt_tokens,
            outputTokens: usage.completion_tokens,
            costUSD: cost,
          },
          'shadow',
        );
      })
      .catch((e: unknown) => {
        deps.metrics.shadow(model.name, 'error');
        const err = toTiermeshError(e);
        deps.logger.warn(
          {
            requestId: st.id,
            route: d.route,
            model: model.name,
            latencyMs: Math.round(performance.now() - t0),
            error: { code: err.code, message: err.message },
            ...(e instanceof ExecutionError ? { attempts: e.attempts, reason: e.lastReason } : {}),
          },
          'shadow failed',
        );
      })
      .finally(() => shadowsInFlight.delete(run));
    shadowsInFlight.add(run);
  };

  const onFallback = (st: RequestState) => (e: FallbackEvent) => {
    // A provider without a resolvable key (standalone without that vendor's key) is skipped on every request by
    // design; counting it as a fallback would drown the real ones.
    const skipped = e.reason === 'unavailable';
    if (!skipped) deps.metrics.fallback(e.from.provider, e.reason);
    deps.logger[skipped ? 'debug' : 'warn'](
      {
        requestId: st.id,
        route: st.decision?.route,
        from: e.from.provider,
        model: e.from.model,
        reason: e.reason,
        status: e.status,
        latencyMs: e.latencyMs,
        action: e.action,
      },
      'fallback',
    );
  };

  const servedBy = (st: RequestState): ServedBy | undefined => {
    const d = st.decision;
    if (!d) return undefined;
    return {
      model: st.served?.model ?? d.models[0]?.name ?? NONE,
      provider: st.served?.provider ?? NONE,
      tier: st.tier || NONE,
      attempts: st.attempts,
      costUSD: st.costUSD,
    };
  };

  /** The one log line and the request metrics, whatever the outcome. */
  const finish = (st: RequestState, status: number, err?: TiermeshError) => {
    const seconds = (performance.now() - st.started) / 1000;
    const d = st.decision;
    const labels = {
      route: d?.route ?? NONE,
      tier: st.tier || NONE,
      model: st.served?.model ?? NONE,
      provider: st.served?.provider ?? NONE,
    };
    deps.metrics.request({ ...labels, status, durationSeconds: seconds });
    if (st.reservations.length > 0) st.runtime.budget.release(st.reservations, now());
    if (d) for (const b of st.runtime.budget.status(now())) deps.metrics.budget(b.name, b.remainingUSD);
    const line: Record<string, unknown> = {
      requestId: st.id,
      ...labels,
      source: d?.source,
      stream: st.stream,
      attempts: st.attempts,
      escalations: st.escalations,
      status,
      latencyMs: Math.round(seconds * 1000),
      inputTokens: st.inputTokens,
      outputTokens: st.outputTokens,
      costUSD: st.costUSD,
    };
    if (err) line['error'] = { code: err.code, message: err.message };
    if (deps.logPrompts && st.request) line['prompt'] = promptText(st.request);
    deps.logger.info(line, 'request');
  };

  const fail = (st: RequestState, res: ServerResponse, e: unknown) => {
    const err = toTiermeshError(e);
    if (err.code === 'TM_INTERNAL') deps.logger.error({ requestId: st.id, err: e }, 'internal error');
    if (err.code === 'TM_BODY_TOO_LARGE') res.setHeader('connection', 'close');
    if (e instanceof ExecutionError && e.aborted) {
      // The client is gone; there is nobody to answer. 499 is the de facto "client closed request" status.
      finish(st, 499, err);
      res.destroy();
      return;
    }
    sendError(res, err, servedByHeaders(servedBy(st)));
    finish(st, err.status, err);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const runtime = deps.store.current;
    const incomingId = req.headers['x-request-id'];
    const id =
      typeof incomingId === 'string' && /^[\w.:-]{1,128}$/.test(incomingId) ? incomingId : randomUUID();
    res.setHeader('x-request-id', id);
    if (!runtime) {
      sendError(res, new TmError('TM_NOT_READY', 'no config loaded yet', { retryAfter: 1 }));
      return;
    }
    const st: RequestState = {
      id,
      started: performance.now(),
      runtime,
      tier: '',
      attempts: 0,
      costUSD: 0,
      inputTokens: 0,
      outputTokens: 0,
      stream: false,
      escalations: 0,
      reservations: [],
    };
    const abort = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    try {
      const body = await readBody(req, deps.maxBodyBytes);
      const request = parseChatRequest(req.headers['content-type'], body);
      st.request = request;
      st.stream = request.stream === true;
      const headers = routingHeaders(req.headers);
      st.user = headers.user ?? (request.user || undefined);
      // Decide first (the gate needs the route and a cost estimate); a downgrade verdict decides again.
      const learned = runtime.learned ? { learned: runtime.learned } : {};
      let decision = decide({ snapshot: runtime.snapshot, request, headers, random: random(), ...learned });
      const verdict = runtime.budget.check({
        route: decision.route,
        user: st.user,
        estimatedUSD: preCallEstimateUSD(decision),
        now: now(),
      });
      if (verdict.kind === 'reject') {
        st.decision = decision;
        st.tier = decision.tierName;
        throw new TmError(verdict.code, verdict.message, { retryAfter: verdict.retryAfterSeconds });
      }
      st.reservations = verdict.reservations;
      if (verdict.kind === 'downgrade')
        decision = decide({ snapshot: runtime.snapshot, request, headers, downgrade: true, ...learned });
      st.decision = decision;
      st.tier = decision.tierName;
      deps.metrics.classified(decision.route, decision.tierName || NONE, decision.source);
      // Not under a downgrade: the budget is tight, and a shadow is optional spend.
      const shadowModel =
        decision.spec.shadow && verdict.kind === 'allow' ? pickShadow(decision.spec, random()) : undefined;
      if (shadowModel) {
        const d = decision;
        // After this turn of the event loop, so the client's own upstream call is on its way first.
        setImmediate(() => shadow(st, request, d, shadowModel));
      }
      if (st.stream) await streamAnswer(st, request, decision, res, abort.signal);
      else await completeAnswer(st, request, decision, res, abort.signal);
    } catch (e) {
      fail(st, res, e);
    }
  };

  return Object.assign(handle, {
    /** Stops every background shadow call still running and waits for them to settle (their failure is logged). */
    async closeShadows(): Promise<void> {
      stopping.abort();
      await Promise.all([...shadowsInFlight]);
    },
  });

  async function completeAnswer(
    st: RequestState,
    request: ChatCompletionRequest,
    d: RouteDecision,
    res: ServerResponse,
    signal: AbortSignal,
  ): Promise<void> {
    const cascade = d.spec.cascade;
    const steps = [
      { tierName: d.tierName, models: d.models },
      ...(cascade.enabled ? d.escalation.slice(0, cascade.maxEscalations) : []),
    ];
    const registry = st.runtime.providers.get(d.route)!;
    for (const [i, step] of steps.entries()) {
      st.tier = step.tierName;
      const t0 = performance.now();
      let r: Awaited<ReturnType<typeof executeCompletion>>;
      try {
        r = await executeCompletion(registry.plan(step.models), request, {
          signal,
          onFallback: onFallback(st),
        });
      } catch (e) {
        if (e instanceof ExecutionError) st.attempts += e.attempts;
        throw e;
      }
      st.attempts += r.attempts;
      st.served = r.served;
      deps.metrics.upstream(r.served.provider, r.served.model, (performance.now() - t0) / 1000);
      const model = step.models.find((m) => m.name === r.served.model)!;
      const usage =
        r.completion.usage ?? estimateUsage(st, request, r.completion.choices[0]?.message.content ?? '');
      spend(st, model, usage);
      const last = i === steps.length - 1;
      const verdict =
        cascade.enabled && !last
          ? checkAnswer(r.completion.choices[0]?.message ?? { content: '' }, request, cascade.checks)
          : { ok: true };
      if (verdict.ok) {
        sendJson(res, 200, r.completion, servedByHeaders(servedBy(st)));
        finish(st, 200);
        return;
      }
      st.escalations++;
      const v = verdict as { check: string; detail: string };
      onFallback(st)({
        from: r.served,
        reason: 'quality',
        latencyMs: Math.round(performance.now() - t0),
        action: 'next-target',
      });
      deps.logger.info(
        { requestId: st.id, check: v.check, detail: v.detail, to: steps[i + 1]!.tierName },
        'cascade',
      );
    }
  }

  async function streamAnswer(
    st: RequestState,
    request: ChatCompletionRequest,
    d: RouteDecision,
    res: ServerResponse,
    signal: AbortSignal,
  ): Promise<void> {
    const clientWantsUsage = request.stream_options?.include_usage === true;
    const upstreamBody: ChatCompletionRequest = {
      ...request,
      stream: true,
      stream_options: { ...(request.stream_options ?? {}), include_usage: true },
    };
    const registry = st.runtime.providers.get(d.route)!;
    const t0 = performance.now();
    let s: Awaited<ReturnType<typeof executeStream>>;
    try {
      s = await executeStream(registry.plan(d.models), upstreamBody, { signal, onFallback: onFallback(st) });
    } catch (e) {
      if (e instanceof ExecutionError) st.attempts += e.attempts;
      throw e;
    }
    st.attempts += s.attempts;
    st.served = s.served;
    const model = d.models.find((m) => m.name === s.served.model)!;
    const { 'x-tiermesh-cost-usd': _, ...headers } = servedByHeaders(servedBy(st));
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      trailer: 'x-tiermesh-cost-usd',
      ...headers,
    });
    let usage: Usage | undefined;
    let text = '';
    let broken: unknown;
    try {
      for await (const chunk of s.chunks) {
        if (chunk.usage) usage = chunk.usage;
        for (const c of chunk.choices) if (typeof c.delta.content === 'string') text += c.delta.content;
        const out = forClient(chunk, clientWantsUsage);
        if (out && !res.write(sseData(out))) await drained(res, signal);
      }
    } catch (e) {
      broken = e;
    }
    deps.metrics.upstream(s.served.provider, s.served.model, (performance.now() - t0) / 1000);
    // Spent is spent: a broken or abandoned stream still books what the upstream reported, or an estimate.
    spend(st, model, usage ?? estimateUsage(st, request, text));
    if (signal.aborted) {
      finish(st, 499, toTiermeshError(new TmError('TM_UPSTREAM_ERROR', 'client closed the stream')));
      return;
    }
    if (broken !== undefined) {
      res.end(sseData(midStreamErrorBody(broken)));
      const err = new TmError('TM_UPSTREAM_ERROR', (broken as Error).message ?? 'stream broke');
      onFallback(st)({
        from: s.served,
        reason: 'stream_broken',
        latencyMs: Math.round(performance.now() - t0),
        action: 'stop',
      });
      finish(st, 200, err);
      return;
    }
    const cost = formatUSD(st.costUSD);
    res.write(`: x-tiermesh-cost-usd ${cost}\n\n`);
    res.write(SSE_DONE);
    res.addTrailers({ 'x-tiermesh-cost-usd': cost });
    res.end();
    finish(st, 200);
  }

  /** Token counts for an answer the upstream did not count (aborted, or a provider without usage). */
  function estimateUsage(st: RequestState, _request: ChatCompletionRequest, answer: string): Usage {
    const prompt = st.decision?.estimatedPromptTokens ?? 0;
    const completion = estimateTextTokens(answer);
    return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  }
}

/**
 * What the gate reserves before the call: the first model's price for the estimated prompt plus the completion the
 * client asked for (`max_completion_tokens`/`max_tokens`, else a default), capped by the model's `maxOutputTokens`.
 */
export function preCallEstimateUSD(d: RouteDecision): number {
  const model = d.models[0];
  return model ? estimateCostUSD(model, d.estimatedPromptTokens, d.requestedMaxTokens) : 0;
}

/**
 * The chunk as the client should see it: the usage-only chunk (no choices) and the `usage` field exist because we
 * asked for them; a client that did not ask gets neither, exactly as from OpenAI.
 */
export function forClient(
  chunk: ChatCompletionChunk,
  clientWantsUsage: boolean,
): ChatCompletionChunk | undefined {
  if (clientWantsUsage) return chunk;
  if (chunk.choices.length === 0 && chunk.usage) return undefined;
  if (!('usage' in chunk)) return chunk;
  const { usage: _, ...rest } = chunk;
  return rest;
}

function drained(res: ServerResponse, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
    signal.addEventListener('abort', done, { once: true });
  });
}
