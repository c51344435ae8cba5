/**
 * The cache stage of the pipeline (after decide, before gate), as a thin shell over the pure cache in cache.ts: look
 * the request up, answer a hit through the inbound API's responder (a stream replays as a stream) without touching
 * budgets, and store a successful answer. A hit is counted as saved USD; it books no spend.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ModelRouteSpec } from '../api/modelroute.js';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from '../api/openai.js';
import { baselineCostUSD } from '../budget/cost.js';
import type { CacheMetrics } from '../telemetry/cache-metrics.js';
import type { SidecarMetrics } from '../telemetry/metrics.js';
import {
  CACHE_OPT_IN_HEADER,
  CACHE_RESULT_HEADER,
  type CacheEntry,
  type CacheLookup,
  type CacheScope,
  chunksFromCompletion,
  completionFromChunks,
  hitSavedUSD,
  lookupCache,
  type ResponseCache,
} from './cache.js';
import type { Responder } from './inbound.js';
import type { ServedBy } from './respond.js';

export interface CacheDeps {
  cache: ResponseCache;
  metrics: CacheMetrics;
  sidecarMetrics: SidecarMetrics;
}

/** One request's cache state, when the route's cache applies to it. */
export interface CacheTurn {
  scope: CacheScope;
  spec: ModelRouteSpec;
  /** The tier in the key: the one the request was decided onto, before the gate. */
  tier: string;
  lookup: CacheLookup;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** Looks the request up under the tier it was decided onto and sets `x-tiermesh-cache`; undefined when the cache does not apply. */
export function openCacheTurn(
  deps: CacheDeps,
  req: IncomingMessage,
  res: ServerResponse,
  namespace: string,
  route: string,
  tier: string,
  spec: ModelRouteSpec,
  request: ChatCompletionRequest,
  now: number,
): CacheTurn | undefined {
  const scope = { namespace, route };
  const headers = { cacheControl: header(req, 'cache-control'), optIn: header(req, CACHE_OPT_IN_HEADER) };
  const lookup = lookupCache(deps.cache, spec.cache, scope, tier, request, headers, now);
  if (!lookup) return undefined;
  if (lookup.directives.lookup) {
    const saved = lookup.hit ? hitSavedUSD(lookup.hit, spec.baselineModel !== undefined) : 0;
    deps.metrics.lookup(route, lookup.hit !== undefined, saved);
    if (lookup.hit && spec.baselineModel) deps.sidecarMetrics.usage(route, lookup.hit.model, 0, 0, 0, saved);
  }
  res.setHeader(CACHE_RESULT_HEADER, lookup.hit ? 'hit' : 'miss');
  return { scope, spec, tier, lookup };
}

/** Answers a hit: the cached answer, whole or replayed as a stream, at no cost. */
export function answerFromCache(
  entry: CacheEntry,
  stream: boolean,
  responder: Responder,
  res: ServerResponse,
  served: ServedBy,
  estimatedPromptTokens: number,
): void {
  if (!stream) {
    responder.json(res, entry.completion, served);
    return;
  }
  responder.streamHead(res, served, estimatedPromptTokens);
  // A cached answer is small and already whole: written at once, the socket buffers what it must.
  for (const c of chunksFromCompletion(entry.completion)) responder.streamChunk(res, c);
  responder.streamEnd(res, 0);
}

/**
 * Stores a successful answer with what producing it cost, so a later hit can say what it saved: only when the tier
 * that served it is the tier in the key. The lookup runs before the gate and execution, so the key can only hold the
 * decided tier, and a hit must be what that tier answers. An answer from another tier was served for reasons that
 * are not the question's: one user's budget (a downgrade), an outage (a promotion), a failed check (an escalation).
 * Under the decided tier's key it would go to every caller, budget or not; it is not re-keyed under the serving tier
 * either, since it answered the request as decided (shortened for the decided tier's context window, say).
 */
export function storeAnswer(
  deps: CacheDeps,
  turn: CacheTurn | undefined,
  completion: ChatCompletion | undefined,
  facts: { model: string; provider: string; tier: string; costUSD: number },
  now: number,
): void {
  if (!turn?.lookup.directives.store || !completion || facts.tier !== turn.tier) return;
  const u = completion.usage;
  const cache = {
    read: u?.prompt_tokens_details?.cached_tokens,
    write: u?.prompt_tokens_details?.cache_creation_tokens,
  };
  const baselineUSD = u ? baselineCostUSD(turn.spec, u.prompt_tokens, u.completion_tokens, cache) : 0;
  // A shallow copy: the parsed answer carries the upstream's own text (providers/chat-answer-text.ts sourceText), which the
  // cache's size (entryBytes) does not see and a cache hit does not need.
  const stored = { ...completion };
  deps.cache.put(
    turn.scope,
    turn.spec.cache!,
    turn.lookup.key,
    { completion: stored, ...facts, baselineUSD },
    now,
  );
  deps.metrics.size(turn.scope.route, deps.cache.stats(turn.scope));
}

/** The chunks of a stream being relayed, kept only while the cache may store it. */
export function collectChunks(turn: CacheTurn | undefined): {
  push(c: ChatCompletionChunk): void;
  completion(): ChatCompletion | undefined;
} {
  const chunks: ChatCompletionChunk[] | undefined = turn?.lookup.directives.store ? [] : undefined;
  return {
    push: (c) => void chunks?.push(c),
    completion: () => (chunks ? completionFromChunks(chunks) : undefined),
  };
}
