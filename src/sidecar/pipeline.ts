/**
 * Every inbound LLM API (chat completions, Anthropic Messages, Responses) as one sequence of stages, in the order
 * they run; an `InboundAdapter` (inbound.ts, apis/inbound-api.ts) supplies only stage 1 and the shape of stage 7:
 *
 *   1. parse    adapter      body -> UTF-8, JSON, depth and schema checks -> the internal request
 *   2. decide   route.ts     route, tier and models (classifier, split, explicit model)
 *   3. gate     route.ts     budgets and rate limits: allow, downgrade (decide again, cheapest tier) or reject
 *   4. execute  execute.ts   the tier's models with failover, retries and breakers (providers/failover.ts)
 *   5. check    execute.ts   cascade quality checks; a failed check executes again one tier up
 *   6. account  accounting.ts  every answer an upstream produced, served or not, booked against budgets
 *   7. respond  adapter      the answer in the client's API shape, or the error from the registry (src/errors.ts)
 *
 * Streams run 1-4, then respond (headers and each chunk as it arrives), account, and end the stream; the check
 * stage does not apply, since once the first byte is out there is no taking it back. Shadows (`spec.shadow`) start
 * after the gate, in the background (shadow.ts). Whatever happens, `logRequest` writes the one log line.
 *
 * Each stage is a function with explicit inputs and outputs; this module only runs them in order and records what
 * they returned in the request's trace. New behaviour is a new stage here (e.g. a cache lookup between gate and
 * execute, hedged execution, tier promotion after check) or a new inbound adapter beside inbound.ts that
 * translates another API into the same internal request.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChatCompletion, ChatCompletionRequest } from '../api/openai.js';
import type { UsageRecord } from '../budget/types.js';
import { type ErrorDialect, TiermeshError, toTiermeshError } from '../errors.js';
import { sendError } from '../http/reply.js';
import { carryAnthropicBetas } from '../providers/anthropic-beta.js';
import { answerRateLimits } from '../providers/chat-answer-text.js';
import { brokenStreamCode, ExecutionError, type FallbackEvent } from '../providers/failover.js';
import { ProviderError } from '../providers/types.js';
import { canEscalate, checkForCache } from '../routing/cascade.js';
import { routingHeaders } from '../routing/decide.js';
import type { JudgeVerdict } from '../routing/judge.js';
import { LatencyBoard, latencyKey } from '../routing/latency.js';
import { oneTierUp } from '../routing/retry.js';
import type { RouteDecision } from '../routing/types.js';
import { CacheMetrics } from '../telemetry/cache-metrics.js';
import type { Logger } from '../telemetry/logger.js';
import type { SidecarMetrics } from '../telemetry/metrics.js';
import { scrubRequestEcho } from '../telemetry/prompt-scrub.js';
import { traceContextOf, traceIdOf } from '../telemetry/trace-context.js';
import { type Books, estimateUsage, RequestAccount } from './accounting.js';
import { BodyAborted } from './body.js';
import { ResponseCache } from './cache.js';
import {
  answerFromCache,
  type CacheDeps,
  type CacheTurn,
  collectChunks,
  openCacheTurn,
  storeAnswer,
} from './cache-stage.js';
import type { ConfigStore } from './config-store.js';
import { Conversations } from './conversations.js';
import type { CascadeVerdict, DecisionRecord } from './decisions.js';
import { handleEmbeddings } from './embeddings-path.js';
import {
  closeUnread,
  type ExecuteInput,
  type ExecutionObserver,
  executeWithCascade,
  openStream,
  type Relayed,
  relayChunks,
} from './execute.js';
import { explainHandler } from './explain-live.js';
import {
  chatResponder,
  type InboundAdapter,
  type InboundRequest,
  openAIChatAdapter,
  type Responder,
  upstreamStreamBody,
} from './inbound.js';
import { type PromotionEvent, type PromotionStop, promotionPlanner } from './promote.js';
import { TargetQueues } from './queues.js';
import { type DecisionRecorder, FEATURE_HEADER } from './recorder.js';
import { logFallback, logRequest, newTrace, type RequestTrace, servedBy } from './request-log.js';
import { answeredByHeaders, drained, servedByHeaders } from './respond.js';
import { decideRoute, gate } from './route.js';
import type { SidecarRuntime } from './runtime.js';
import { ShadowRunner } from './shadow.js';

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
  /** Remembers each decision for feedback, the decision log and the routing-quality metrics (docs/feedback.md). */
  recorder?: DecisionRecorder;
}

/** How a request ended, for its log line: the status sent (499: the client left first) and the error, if any. */
interface Outcome {
  status: number;
  error?: TiermeshError;
}

/** 499 is the de facto "client closed request" status: there is nobody left to answer. */
const CLIENT_GONE = 499;

interface Sidecar {
  deps: ChatDeps;
  books: Books;
  random: () => number;
  shadows: ShadowRunner;
  cache: CacheDeps;
  /** Latency observations per route with a spec.slo (routes without one observe nothing). */
  latency: Map<string, LatencyBoard>;
  /** Where remembered conversations were served (spec.stickiness). */
  conversations: Conversations;
  /** In-flight limits and their priority queues (spec.queue). */
  queues: TargetQueues;
}

/** The route's observation board when it has an SLO; a changed half-life starts a new one. */
function latencyBoard(sc: Sidecar, d: RouteDecision): LatencyBoard | undefined {
  const slo = d.spec.slo;
  if (!slo) return undefined;
  const halfLifeMs = slo.halfLifeSeconds * 1000;
  let b = sc.latency.get(d.route);
  if (!b || b.halfLifeMs !== halfLifeMs) {
    b = new LatencyBoard({ halfLifeMs });
    sc.latency.set(d.route, b);
  }
  return b;
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse, requestId: string) => Promise<void>;

export interface ChatPipeline extends RequestHandler {
  /** The same pipeline behind another inbound API (Anthropic Messages, Responses): only parse and respond differ. */
  serve(adapter: InboundAdapter): RequestHandler;
  /** POST /v1/embeddings: routed by model name, with the same gate, failover and accounting. */
  embeddings: RequestHandler;
  /**
   * A feedback retry: `request` again, on its route, one tier above the one that served `record`; answers `res`
   * with the new completion under a new x-request-id. `req` is the feedback request (its routing headers apply).
   */
  retry(
    record: DecisionRecord,
    request: ChatCompletionRequest,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void>;
  /** Stops every background shadow call still running and waits for them to settle. */
  closeShadows(): Promise<void>;
  /** POST /v1/explain: the routing decision with this sidecar's live observations and queues (explain-live.ts). */
  explain(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

export function chatPipeline(deps: ChatDeps): ChatPipeline {
  const books: Books = {
    metrics: deps.metrics,
    logger: deps.logger,
    onUsage: deps.onUsage,
    now: deps.now ?? Date.now,
  };
  const sc: Sidecar = {
    deps,
    books,
    random: deps.random ?? Math.random,
    shadows: new ShadowRunner({ books, current: () => deps.store.current }),
    latency: new Map(),
    conversations: new Conversations(),
    cache: {
      cache: new ResponseCache(),
      metrics: new CacheMetrics(deps.metrics.registry),
      sidecarMetrics: deps.metrics,
    },
    queues: new TargetQueues(deps.metrics),
  };
  // A route that dropped its cache (or shrank it) frees the memory with the config that said so.
  deps.store.onApplied((rt) => {
    const specs = new Map(rt.snapshot.routes.map((r) => [r.name, r.spec.cache]));
    sc.cache.cache.retain(
      (scope) => (scope.namespace === rt.snapshot.namespace ? specs.get(scope.route) : undefined),
      books.now(),
    );
  });
  const serve =
    (adapter: InboundAdapter): RequestHandler =>
    (req, res, requestId) =>
      handleChat(
        sc,
        res,
        requestId,
        adapter.dialect,
        () => {
          const parsed = adapter.parse(req, sc.deps.maxBodyBytes);
          // The client's anthropic-beta values ride on the internal request to Anthropic upstreams (anthropic-beta.ts).
          const beta = req.headers['anthropic-beta'];
          if (beta === undefined) return parsed;
          return parsed.then((p) => {
            carryAnthropicBetas(p.inbound.request, beta);
            return p;
          });
        },
        featureOf(req),
        req,
      );
  const retry = (
    record: DecisionRecord,
    request: ChatCompletionRequest,
    req: IncomingMessage,
    res: ServerResponse,
  ) => {
    const id = randomUUID();
    res.setHeader('x-request-id', id);
    // No cache for a retry: it asks for a different answer than the one it had.
    return handleChat(
      sc,
      res,
      id,
      'openai',
      async () => {
        // Inside the parse stage: a bad routing header (an over-long user) is the request's 400.
        const headers = routingHeaders(req.headers);
        headers.task ??= record.task;
        const inbound: InboundRequest = {
          request,
          headers,
          stream: false,
          clientWantsUsage: false,
          dialect: 'openai',
        };
        return { inbound, responder: chatResponder(false) };
      },
      featureOf(req) ?? record.feature,
      undefined,
      record,
    );
  };
  return Object.assign(serve(openAIChatAdapter), {
    serve,
    retry,
    embeddings: (req: IncomingMessage, res: ServerResponse, requestId: string) =>
      handleEmbeddings(deps, books, req, res, requestId),
    closeShadows: () => sc.shadows.close(),
    explain: explainHandler({
      store: deps.store,
      maxBodyBytes: deps.maxBodyBytes,
      conversations: sc.conversations,
      latency: (route) => sc.latency.get(route),
      queues: sc.queues,
      now: books.now,
      random: sc.random,
    }),
  });
}

function featureOf(req: IncomingMessage): string | undefined {
  const v = req.headers[FEATURE_HEADER];
  const s = (Array.isArray(v) ? v[0] : v)?.trim();
  return s ? s : undefined;
}

/**
 * One request, start to end: the stages, then the error answer if one threw, then the log line and the decision
 * record. `cacheReq`: the request whose headers steer the cache (none for a feedback retry). `retryOf`: a feedback
 * retry of that decision, decided one tier above the tier that served it.
 */
async function handleChat(
  sc: Sidecar,
  res: ServerResponse,
  id: string,
  dialect: ErrorDialect,
  parse: () => Promise<{ inbound: InboundRequest; responder: Responder }>,
  feature: string | undefined,
  cacheReq: IncomingMessage | undefined,
  retryOf?: DecisionRecord,
): Promise<void> {
  const trace = newTrace(id);
  // The client's trace context, for the upstream calls and the log line (a feedback retry has none of its own).
  const traceContext = cacheReq && traceContextOf(cacheReq.headers);
  if (traceContext) trace.traceId = traceIdOf(traceContext);
  // What the cascade made of each answer of a tier, for the decision record.
  const verdicts: CascadeVerdict[] = [];
  const runtime = sc.deps.store.current;
  if (!runtime) {
    const err = new TiermeshError('TM_NOT_READY', 'no config loaded yet', { retryAfter: 1 });
    sendError(res, err, { dialect });
    return logRequest(sc.deps, trace, err.status, err);
  }
  const abort = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  let account: RequestAccount | undefined;
  let outcome: Outcome;
  try {
    const { inbound, responder } = await parse(); // 1. parse
    trace.stream = inbound.stream;
    trace.request = inbound.request;
    const conversation = sc.conversations.lookup(runtime, inbound, sc.books.now());
    let decided = decideRoute(runtime, inbound, sc.random(), conversation?.state); // 2. decide
    if (retryOf) decided = retryDecision(decided, retryOf);
    trace.decision = decided;
    trace.tier = decided.tierName;
    const turn =
      cacheReq &&
      openCacheTurn(
        sc.cache,
        cacheReq,
        res,
        runtime.snapshot.namespace,
        decided.route,
        decided.tierName,
        decided.spec,
        inbound.request,
        sc.books.now(),
      ); // 2b. cache: a hit is answered here, before the gate, and spends nothing
    const hit = turn?.lookup.hit;
    if (hit) {
      trace.served = { provider: hit.provider, model: hit.model, upstreamModel: hit.model };
      trace.tier = hit.tier;
      answerFromCache(hit, inbound.stream, responder, res, servedBy(trace)!, decided.estimatedPromptTokens);
      logRequest(sc.deps, trace, 200);
      return;
    }
    const gated = gate(runtime, inbound, decided, sc.books.now(), sc.random()); // 3. gate
    const d = gated.decision;
    if (retryOf && d !== decided) {
      // The budget says downgrade: the cheapest tier is the opposite of what the retry asked for.
      runtime.budget.release(gated.reservations, sc.books.now());
      throw new TiermeshError(
        'TM_BUDGET_EXCEEDED',
        `retry: a budget of route "${d.route}" serves only its cheapest tier now; no retry one tier up`,
      );
    }
    trace.decision = d;
    trace.tier = d.tierName;
    account = new RequestAccount(
      sc.books,
      runtime.budget,
      d.route,
      d.spec,
      d.user,
      gated.reservations,
      d.estimatedPromptTokens,
    );
    trace.spent = account.spent;
    sc.deps.metrics.classified(d.route, d.tierName || 'none', d.source);
    // The context policy may have dropped old turns: the shortened request is the one every upstream sees.
    const request = d.truncation?.request ?? inbound.request;
    if (gated.shadow)
      sc.shadows.start({
        requestId: id,
        runtime,
        request,
        decision: d,
        model: gated.shadow,
        admit: sc.queues.claimer(d),
      });
    const exec: ExecuteInput = {
      providers: runtime.providers.get(d.route)!,
      request,
      decision: d,
      signal: abort.signal,
      observer: new TraceObserver(sc, trace),
      planner: promotionPlanner(runtime, d, sc.books.now(), () => account?.held ?? []),
    };
    exec.admit = sc.queues.admitter(d);
    if (traceContext) exec.traceContext = traceContext;
    const board = latencyBoard(sc, d);
    if (board) exec.latency = (key) => board.view(key, sc.books.now());
    outcome = inbound.stream
      ? await streamAnswer(sc, exec, responder, account, trace, res, turn)
      : await jsonAnswer(sc, exec, responder, account, trace, res, verdicts, turn);
    if (outcome.status === 200 && !outcome.error && trace.served)
      conversation?.remember(d, trace.tier, trace.served.model, sc.books.now());
  } catch (e) {
    if (account) bookCutOff(account, trace, e);
    outcome = answerError(sc, trace, res, e, dialect);
  }
  account?.close();
  logRequest(sc.deps, trace, outcome.status, outcome.error);
  const recorder = sc.deps.recorder;
  if (recorder && trace.decision && trace.request) {
    recorder.finished({
      requestId: id,
      decision: trace.decision,
      request: trace.request,
      tier: trace.tier,
      model: trace.served?.model ?? 'none',
      provider: trace.served?.provider ?? 'none',
      costUSD: trace.spent.costUSD,
      // A stream is never checked: once its first byte is out there is no taking it back.
      cascade: trace.stream
        ? trace.served
          ? [{ tier: trace.tier, model: trace.served.model, ok: true, checked: false }]
          : []
        : verdicts,
      promotedFrom: trace.promotedFrom,
      status: outcome.status,
      stream: trace.stream,
      feature,
      retryOf: retryOf?.requestId,
    });
    if (retryOf && outcome.status === 200) recorder.retried(trace.decision.route, retryOf.tier, trace.tier);
  }
}

/** The decision moved above the tier that served `record`; a 400 naming `retry` when no tier above fits. */
function retryDecision(d: RouteDecision, record: DecisionRecord): RouteDecision {
  const up = oneTierUp(d, record.tier);
  if (!up)
    throw new TiermeshError('TM_INVALID_REQUEST', `retry: no tier above "${record.tier}" fits this request`, {
      param: 'retry',
    });
  return up;
}

/** 4-7 for a JSON answer. */
async function jsonAnswer(
  sc: Sidecar,
  exec: ExecuteInput,
  responder: Responder,
  account: RequestAccount,
  trace: RequestTrace,
  res: ServerResponse,
  verdicts: CascadeVerdict[],
  turn: CacheTurn | undefined,
): Promise<Outcome> {
  const result = await executeWithCascade(exec); // 4. execute + 5. check
  trace.attempts += result.attempts;
  trace.escalations += result.escalations;
  trace.tier = result.tier;
  trace.served = result.served;
  trace.hedged = result.hedged;
  const board = latencyBoard(sc, exec.decision);
  // The answer the client gets (the request's saving is against its baseline): the last its tier and model produced.
  const served = result.answer
    ? result.produced.findLast((p) => p.tier === result.tier && p.served.model === result.served?.model)
    : undefined;
  for (const p of result.produced) {
    // 6. account
    sc.deps.metrics.upstream(p.served.provider, p.served.model, p.upstreamSeconds);
    const booked = account.book(p.model, p.usage, '', p === served);
    // A latency observation is the answering attempt's own time: the targets that failed before it, its queue wait
    // and a hedge's delay are not its target's latency (neither is a hedge's loser or winner).
    if (p.untimed || p.attemptMs === undefined) continue;
    board?.observe(
      latencyKey(p.served.provider, p.served.upstreamModel),
      { totalMs: p.attemptMs, outputTokens: booked.outputTokens },
      sc.books.now(),
    );
  }
  verdicts.push(...result.verdicts);
  if (!result.answer) throw result.error;
  const by = servedBy(trace)!;
  const limits = answerRateLimits(result.answer);
  if (limits) by.rateLimits = limits;
  responder.json(res, result.answer, by); // 7. respond
  // An answer that failed a quality check is served (better than a 5xx) but not remembered.
  const d = exec.decision;
  const checked = result.tier === d.tierName && canEscalate(d.spec.cascade, d.escalation, d.tierIndex);
  if (result.passed) remember(sc, turn, result.answer, exec, trace, account, checked);
  return { status: 200 };
}

/** 4, then respond, account and end, for a stream. */
async function streamAnswer(
  sc: Sidecar,
  exec: ExecuteInput,
  responder: Responder,
  account: RequestAccount,
  trace: RequestTrace,
  res: ServerResponse,
  turn: CacheTurn | undefined,
): Promise<Outcome> {
  const t0 = performance.now();
  // 4. execute, with tier promotion before the first byte. 6. account: a hedge race's other side is booked as soon
  // as it is over (closed unread, or cut off), whatever happens to the winner.
  const opened = await openStream(
    exec,
    upstreamStreamBody(exec.request),
    (n) => {
      trace.attempts += n;
    },
    (p) => {
      sc.deps.metrics.upstream(p.served.provider, p.served.model, p.upstreamSeconds);
      account.book(p.model, p.usage, '', false);
    },
  );
  // The SLO board's clock: the answering attempt's own time to its first chunk (opened.elapsedMs), then on from here.
  // t0 would charge the failover before it, tier promotion and queue waits to the target that answered.
  const openedAt = performance.now();
  sc.deps.metrics.firstToken(
    exec.decision.route,
    opened.served.provider,
    opened.served.model,
    (openedAt - trace.started) / 1000,
  );
  trace.served = opened.served;
  trace.tier = opened.step.tierName;
  trace.hedged = opened.hedged;
  const model = opened.step.models.find((m) => m.name === opened.served.model)!;
  const collected = collectChunks(turn);
  // A client that reads nothing for as long as an upstream may stay silent is cut: the same bound, both ways.
  const stallMs = exec.decision.spec.resilience.streamIdleTimeoutMs;
  let stalled = false;
  let relayed: Relayed;
  try {
    const by = servedBy(trace)!;
    if (opened.rateLimits) by.rateLimits = opened.rateLimits;
    responder.streamHead(res, by, exec.decision.estimatedPromptTokens); // 7. respond: head and chunks
    relayed = await relayChunks(
      opened.chunks,
      (chunk) => {
        collected.push(chunk);
        return responder.streamChunk(res, chunk);
      },
      async () => {
        stalled = await drained(res, exec.signal, stallMs);
      },
    );
  } catch (e) {
    // Nothing of the stream reached the client, but the upstream is open and has spent: closed and booked here,
    // before the error is answered.
    const text = await closeUnread(opened.chunks);
    account.book(model, estimateUsage(exec.decision.estimatedPromptTokens, text), '', false);
    throw e;
  }
  sc.deps.metrics.upstream(opened.served.provider, opened.served.model, (performance.now() - t0) / 1000);
  // 6. account. Spent is spent: a broken or abandoned stream still books what the upstream reported, or an estimate.
  const booked = account.book(model, relayed.usage, relayed.text);
  // A stream that ended whole, with the client still there: the only kind the latency figures observe. A winning
  // hedge started after the delay but is timed from the step's start: not an observation of its target.
  const clean = relayed.broken === undefined && !exec.signal.aborted;
  if (clean && !opened.wonHedge)
    latencyBoard(sc, exec.decision)?.observe(
      latencyKey(opened.served.provider, opened.served.upstreamModel),
      {
        ttftMs: opened.elapsedMs,
        totalMs: opened.elapsedMs + (performance.now() - openedAt),
        outputTokens: booked.outputTokens,
      },
      sc.books.now(),
    );
  if (clean && booked.outputTokens > 1)
    sc.deps.metrics.perOutputToken(
      exec.decision.route,
      opened.served.provider,
      opened.served.model,
      (performance.now() - openedAt) / 1000 / (booked.outputTokens - 1),
    );
  if (exec.signal.aborted)
    return {
      status: CLIENT_GONE,
      error: new TiermeshError(
        'TM_UPSTREAM_ERROR',
        stalled ? `client read nothing of the stream for ${stallMs}ms; cut` : 'client closed the stream',
      ),
    };
  if (relayed.broken !== undefined) {
    // 7. respond: the tail. After the first chunk there is no failover; the client gets an error event.
    const err = midStreamError(relayed.broken, trace.request);
    responder.streamBroken(res, err);
    exec.observer.fallback({
      route: exec.decision.route,
      from: opened.served,
      reason: 'stream_broken',
      latencyMs: Math.round(performance.now() - t0),
      action: 'stop',
      detail: err.logMessage,
      ...(err.logMessage !== err.message ? { echoed: err.message } : {}),
    });
    return { status: 200, error: err };
  }
  responder.streamEnd(res, account.spent.costUSD);
  // Only a stream that ended cleanly with every choice finished is stored (completionFromChunks checks), and only
  // when it passes the cascade checks it skipped: the key ignores `stream`, so a JSON request, which would have
  // escalated a failing answer, may be served it.
  remember(sc, turn, collected.completion(), exec, trace, account, false);
  return { status: 200 };
}

/**
 * Stores an answer served on `trace.tier` (storeAnswer keeps only the key's tier) when it passed the checks of every
 * caller its key serves. `checked`: the cascade checked it, with a tier above to move to. Otherwise (a stream, or a
 * request whose own window had no tier above: a priority class's maxTier, a budget downgrade) checkForCache does,
 * as the cascade would for a caller who could escalate.
 */
function remember(
  sc: Sidecar,
  turn: CacheTurn | undefined,
  completion: ChatCompletion | undefined,
  exec: ExecuteInput,
  trace: RequestTrace,
  account: RequestAccount,
  checked: boolean,
): void {
  if (!turn?.lookup.directives.store || !completion) return;
  const spec = exec.decision.spec;
  const tierIndex = spec.tiers.findIndex((t) => t.name === trace.tier);
  if (!checked && !checkForCache(completion, exec.request, spec, tierIndex).ok) return;
  storeAnswer(sc.cache, turn, completion, cacheFacts(trace, account), sc.books.now());
}

function cacheFacts(trace: RequestTrace, account: RequestAccount) {
  return {
    model: trace.served?.model ?? 'none',
    provider: trace.served?.provider ?? 'none',
    tier: trace.tier,
    costUSD: account.spent.costUSD,
  };
}

/** What a stream that broke after its first chunk tells the client: the provider's reason, never a stack. */
function midStreamError(broken: unknown, request: unknown): TiermeshError {
  const msg = broken instanceof ProviderError ? broken.message : 'upstream stream failed';
  // The upstream's words may echo the prompt: the client gets them, the log gets them scrubbed.
  return new TiermeshError(brokenStreamCode(broken), msg, {
    cause: broken,
    logMessage: scrubRequestEcho(msg, request),
  });
}

/**
 * The client left while an upstream call was under way: that call may bill the prompt it was sent, so the prompt is
 * booked against its model (never against its breaker: failover counted the abort as the client's). A hedge race
 * books its own sides' cut-off calls (execute.ts), and its error names none.
 */
function bookCutOff(account: RequestAccount, trace: RequestTrace, e: unknown): void {
  const sent = e instanceof ExecutionError && e.aborted ? e.inFlight : undefined;
  const d = trace.decision;
  const model = sent && d?.spec.models.find((m) => m.name === sent.model);
  if (d && model)
    account.book(model, { prompt_tokens: d.estimatedPromptTokens, completion_tokens: 0 }, '', false);
}

/** The error answer (or none, when the client is gone), with the real cause logged when the fault is ours. */
function answerError(
  sc: Sidecar,
  trace: RequestTrace,
  res: ServerResponse,
  e: unknown,
  dialect: ErrorDialect,
): Outcome {
  const err = toTiermeshError(e);
  if (err.code === 'TM_INTERNAL' || err.code === 'TM_INVALID_CONFIG')
    sc.deps.logger.error({ requestId: trace.id, err: err.cause ?? e }, 'internal error');
  if ((e instanceof ExecutionError && e.aborted) || e instanceof BodyAborted) {
    res.destroy();
    return { status: CLIENT_GONE, error: err };
  }
  // The rest of a body over the limit is never read: the connection cannot be reused.
  const headers = servedByHeaders(servedBy(trace));
  // A provider refused the request: it answered, so the headers name it rather than "none".
  if (e instanceof ExecutionError && e.rejected) Object.assign(headers, answeredByHeaders(e.rejected.by));
  if (err.code === 'TM_BODY_TOO_LARGE') headers['connection'] = 'close';
  sendError(res, err, { headers, dialect });
  return { status: err.statusFor(dialect), error: err };
}

/**
 * What execution reports, turned into log lines and metrics of this request. A class rather than an object of
 * closures: one is made for every request, and its methods are shared. The three that execute.ts hands on as bare
 * callbacks are bound once here.
 */
class TraceObserver implements ExecutionObserver {
  constructor(
    private readonly sc: Sidecar,
    private readonly trace: RequestTrace,
  ) {
    this.fallback = this.fallback.bind(this);
    this.promoted = this.promoted.bind(this);
    this.promotionStopped = this.promotionStopped.bind(this);
  }

  private get route(): string {
    return this.trace.decision?.route ?? 'none';
  }

  fallback(e: FallbackEvent): void {
    logFallback(this.sc.deps, this.trace, e);
  }

  escalate(check: string, detail: string, from: string, to: string): void {
    this.sc.deps.metrics.escalation(this.route, from, check);
    this.sc.deps.logger.info({ requestId: this.trace.id, check, detail, from, to }, 'cascade');
  }

  promoted(e: PromotionEvent): void {
    // Set here, not from the result, so an error answer after a promotion says so too.
    this.trace.promotedFrom ??= this.trace.decision?.tierName;
    this.trace.tier = e.to;
    const route = this.route;
    this.sc.deps.metrics.promotion(route, e.from, e.to, e.reason);
    this.sc.deps.logger.info({ requestId: this.trace.id, route, ...e }, 'promotion');
  }

  promotionStopped(e: PromotionStop): void {
    // Logged with the outcome: a warning only if the request then fails.
    this.trace.promotionStop = { route: this.trace.decision?.route, ...e };
  }

  strictRetried(tier: string, outcome: 'passed' | 'failed' | 'error'): void {
    this.sc.deps.metrics.strictRetry(this.route, tier, outcome);
    this.sc.deps.logger.info({ requestId: this.trace.id, tier, outcome }, 'strict retry');
  }

  judged(outcome: JudgeVerdict['outcome']): void {
    this.sc.deps.metrics.judge(this.route, outcome);
  }

  hedge(event: 'started' | 'won'): void {
    this.sc.deps.metrics.hedge(this.route, event);
  }

  sloSkipped(
    tier: string,
    skipped: Array<{ provider: string; model: string; why: string; p95Ms: number }>,
  ): void {
    this.sc.deps.logger.info(
      { requestId: this.trace.id, route: this.trace.decision?.route, tier, skipped },
      'slo',
    );
  }
}
