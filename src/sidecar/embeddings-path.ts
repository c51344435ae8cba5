/**
 * POST /v1/embeddings: the pipeline's stages without the ones that do not apply to vectors. Parse (the embeddings
 * schema), resolve the model by name (no classification, no cascade), gate on the budgets with an input-only
 * estimate, execute with failover across the model's targets (executeEmbedding), account the input tokens, respond
 * with the x-tiermesh-* headers, and the one log line.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { embeddingsRequest } from '../api/embeddings.js';
import { TiermeshError, toTiermeshError } from '../errors.js';
import { sendError, sendJson } from '../http/reply.js';
import { estimateEmbeddingTokens } from '../providers/embeddings.js';
import { ExecutionError, executeEmbedding } from '../providers/failover.js';
import { routingHeaders } from '../routing/decide.js';
import { type Books, RequestAccount } from './accounting.js';
import { embeddingCostUSD, resolveEmbeddingModel } from './apis/embeddings.js';
import { BodyAborted } from './body.js';
import type { ConfigStore } from './config-store.js';
import { readJsonRequest } from './inbound.js';
import { logFallback, logRequest, newTrace, type RequestLogDeps } from './request-log.js';
import { answeredByHeaders, servedByHeaders } from './respond.js';
import type { SidecarRuntime } from './runtime.js';

export interface EmbeddingsDeps extends RequestLogDeps {
  store: ConfigStore<SidecarRuntime>;
  maxBodyBytes: number;
}

const TIER = 'embeddings';

export async function handleEmbeddings(
  deps: EmbeddingsDeps,
  books: Books,
  req: IncomingMessage,
  res: ServerResponse,
  id: string,
): Promise<void> {
  const trace = newTrace(id);
  const runtime = deps.store.current;
  if (!runtime) {
    const err = new TiermeshError('TM_NOT_READY', 'no config loaded yet', { retryAfter: 1 });
    sendError(res, err);
    return logRequest(deps, trace, err.status, err);
  }
  const abort = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  let account: RequestAccount | undefined;
  let status = 200;
  let error: TiermeshError | undefined;
  try {
    const body = await readJsonRequest(req, deps.maxBodyBytes, embeddingsRequest);
    const { route, entry } = resolveEmbeddingModel(runtime.snapshot, body.model);
    const spec = runtime.snapshot.routes.find((r) => r.name === route)!.spec;
    const plan = runtime.providers.get(route)!.plan([entry]);
    // A chat-only model (every target's provider has no embeddings endpoint) is the client's wrong model, not an
    // upstream failure: a 404 the SDKs do not retry, before any budget is reserved.
    if (!plan.targets.some((t) => t.adapter.embed))
      throw new TiermeshError(
        'TM_MODEL_NOT_FOUND',
        `model "${entry.name}" cannot create embeddings (none of its providers has an embeddings endpoint)`,
        { param: 'model', logMessage: 'model: no embeddings endpoint among its providers' },
      );
    trace.tier = TIER;
    const user = routingHeaders(req.headers).user ?? (body.user || undefined);
    const estimate = estimateEmbeddingTokens(body);
    const check = { route, user, estimatedUSD: embeddingCostUSD(entry, estimate), now: books.now() };
    let verdict = runtime.budget.check(check);
    // A downgrade has nowhere to go: another embedding model's vectors would not compare. It is served as asked,
    // reserved at its own estimate.
    if (verdict.kind === 'downgrade') verdict = runtime.budget.checkDowngraded(check, verdict.budget);
    if (verdict.kind === 'reject')
      throw new TiermeshError(verdict.code, verdict.message, { retryAfter: verdict.retryAfterSeconds });
    account = new RequestAccount(books, runtime.budget, route, spec, user, verdict.reservations);
    trace.spent = account.spent;
    let r: Awaited<ReturnType<typeof executeEmbedding>>;
    try {
      r = await executeEmbedding(plan, body, {
        signal: abort.signal,
        onFallback: (e) => logFallback(deps, trace, e),
      });
    } catch (e) {
      if (e instanceof ExecutionError) {
        trace.attempts += e.attempts;
        // Cut off while under way (the client left, or the sidecar is stopping): the upstream may bill the input it
        // was sent, so it is booked at the estimate, like a chat call cut off (no answer reached the client).
        if (e.aborted && e.inFlight)
          account.book(entry, { prompt_tokens: estimate, completion_tokens: 0 }, '', false);
      }
      throw e;
    }
    trace.attempts += r.attempts;
    trace.served = r.served;
    const promptTokens = r.embeddings.usage?.prompt_tokens ?? estimate;
    account.book(entry, { prompt_tokens: promptTokens, completion_tokens: 0 });
    sendJson(
      res,
      200,
      { ...r.embeddings, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } },
      servedByHeaders({
        model: entry.name,
        provider: r.served.provider,
        tier: TIER,
        attempts: trace.attempts,
        costUSD: account.spent.costUSD,
      }),
    );
  } catch (e) {
    error = toTiermeshError(e);
    if ((e instanceof ExecutionError && e.aborted) || e instanceof BodyAborted) {
      res.destroy();
      status = 499;
    } else {
      const headers: Record<string, string> =
        e instanceof ExecutionError && e.rejected ? answeredByHeaders(e.rejected.by) : {};
      if (error.code === 'TM_BODY_TOO_LARGE') headers['connection'] = 'close';
      sendError(res, error, { headers });
      status = error.status;
    }
  }
  account?.close();
  logRequest(deps, trace, status, error);
}
