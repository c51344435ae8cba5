/** The respond stage: answers to the client, with the x-tiermesh-* headers that say who answered. */
import type { ServerResponse } from 'node:http';
import type { ChatCompletion, ChatCompletionChunk } from '../api/openai.js';
import type { TiermeshError } from '../errors.js';
import { sendJson, sendJsonText } from '../http/reply.js';
import { sourceText } from '../providers/chat-answer-text.js';
import { SSE_CONTENT_TYPE, SSE_DONE, sseData } from '../providers/sse.js';
import { TRUNCATED_HEADER } from '../routing/context.js';
import { HEDGED_HEADER } from '../routing/hedge.js';
import { promotionHeaders } from '../routing/promotion.js';
import { REVIEW_HEADER } from '../routing/review.js';

/** What the client learns about how its request was served; present on every answer given after routing. */
export interface ServedBy {
  model: string;
  provider: string;
  tier: string;
  attempts: number;
  costUSD: number;
  /** The tier routing chose, when tier promotion served from another (x-tiermesh-promoted-from). */
  promotedFrom?: string;
  /** Old messages the context policy dropped (x-tiermesh-truncated). */
  truncatedMessages?: number;
  /** spec.hedge: `won` when the hedge answered, `lost` when the first target did (x-tiermesh-hedged). */
  hedged?: 'won' | 'lost';
  /** spec.review: the request's task needs a person to review the answer (x-tiermesh-review: required). */
  review?: string;
  /** The answering upstream's rate-limit headers, passed on under their own names (x-ratelimit-*, ...). */
  rateLimits?: Record<string, string>;
}

/** USD with enough digits for sub-cent requests, without float noise ("0.000123", not "0.00012300000000000001"). */
export function formatUSD(usd: number): string {
  // Requests of one route and model mostly cost the same: the last answer is kept (the formatting is pure).
  if (usd === lastUSD && lastText !== undefined) return lastText;
  lastText = spellUSD(usd);
  lastUSD = usd;
  return lastText;
}
let lastUSD = 0;
let lastText: string | undefined;

function spellUSD(usd: number): string {
  const n = Number(usd.toPrecision(6));
  // The common range, without toFixed and a regex on every answer: six significant digits from 1e-4 up need at most
  // nine decimals, and below 1000 a double is close enough to its digits that String(n) spells them the same way.
  if (n >= 1e-4 && n < 1000) return String(n);
  return n.toFixed(10).replace(/\.?0+$/, '') || '0';
}

export function servedByHeaders(s: ServedBy | undefined): Record<string, string> {
  if (!s) return {};
  const h: Record<string, string> = {
    'x-tiermesh-model': s.model,
    'x-tiermesh-provider': s.provider,
    'x-tiermesh-tier': s.tier,
    'x-tiermesh-attempts': String(s.attempts),
    'x-tiermesh-cost-usd': formatUSD(s.costUSD),
  };
  // Only the headers that apply, in this order (no throwaway objects to spread, on every answer).
  if (s.promotedFrom !== undefined) Object.assign(h, promotionHeaders(s.promotedFrom, s.tier));
  if (s.truncatedMessages !== undefined) h[TRUNCATED_HEADER] = String(s.truncatedMessages);
  if (s.hedged !== undefined) h[HEDGED_HEADER] = s.hedged;
  if (s.review !== undefined) h[REVIEW_HEADER] = 'required';
  if (s.rateLimits !== undefined) Object.assign(h, s.rateLimits);
  return h;
}

/** The provider and model that answered an error of theirs (a refusal of the request), as x-tiermesh-* headers. */
export function answeredByHeaders(s: { provider: string; model: string }): Record<string, string> {
  return { 'x-tiermesh-model': s.model, 'x-tiermesh-provider': s.provider };
}

/**
 * The respond stage for the OpenAI API: JSON answers, and the SSE stream's head, chunks and tail.
 *
 * Streams: the x-tiermesh-* headers go out with the first chunk, when the serving model is known but the cost is
 * not. The final cost is sent twice at the end: as an SSE comment `: x-tiermesh-cost-usd <usd>` right before
 * `data: [DONE]` (OpenAI clients ignore comments), and as the HTTP trailer `x-tiermesh-cost-usd` (declared in the
 * `trailer` header) when the response is chunked: an HTTP/1.0 client gets a body that ends with the connection,
 * which has no room for trailers (node:http refuses to write the head if one is declared), so it gets the comment
 * only. `data: [DONE]` is always ours, so an upstream that ends cleanly without it still gives the client a complete
 * stream.
 */
export function respondJson(res: ServerResponse, completion: ChatCompletion, served: ServedBy): void {
  // An OpenAI-wire answer passed on as it came is sent as the upstream's own text: no second serialization.
  const text = sourceText(completion);
  if (text !== undefined) sendJsonText(res, 200, text, servedByHeaders(served));
  else sendJson(res, 200, completion, servedByHeaders(served));
}

const COST_HEADER = 'x-tiermesh-cost-usd';

export function writeStreamHead(res: ServerResponse, served: ServedBy): void {
  const { [COST_HEADER]: _, ...headers } = servedByHeaders(served);
  res.writeHead(200, {
    'content-type': SSE_CONTENT_TYPE,
    'cache-control': 'no-cache',
    // Said only when it is so: set by hand, node:http keeps the connection open even for a client that sent
    // `connection: close` (or an HTTP/1.0 one), which then waits for a close that never comes.
    ...(res.shouldKeepAlive ? { connection: 'keep-alive' } : {}),
    'x-accel-buffering': 'no',
    // Chunked by default means HTTP/1.1 (or a 1.0 client that asked with TE): the only bodies with trailers.
    ...(res.useChunkedEncodingByDefault ? { trailer: COST_HEADER } : {}),
    ...headers,
  });
}

/** The final cost as the stream's trailer, when the head declared one (a chunked response). */
export function addCostTrailer(res: ServerResponse, cost: string): void {
  if (res.chunkedEncoding) res.addTrailers({ [COST_HEADER]: cost });
}

/** Writes one chunk as an SSE event; false when the socket's buffer is full (wait for `drain`). */
export function writeStreamChunk(res: ServerResponse, chunk: ChatCompletionChunk): boolean {
  return res.write(sseData(chunk));
}

/** The clean end: the cost (comment and trailer), then our own [DONE]. */
export function endStream(res: ServerResponse, costUSD: number): void {
  const cost = formatUSD(costUSD);
  res.write(`: x-tiermesh-cost-usd ${cost}\n\n${SSE_DONE}`);
  addCostTrailer(res, cost);
  res.end();
}

/** The end of a stream that broke after its first chunk: an OpenAI error event, and no [DONE]. */
export function endBrokenStream(res: ServerResponse, err: TiermeshError): void {
  res.end(sseData(err.toBody()));
}

/**
 * Resolves when the socket can take more, or the client is gone (`close`, or the request's abort signal). A client
 * that takes nothing for `stallMs` is cut (nginx's send_timeout): otherwise a client that never reads holds the
 * upstream stream, its connection and its spec.queue slot for as long as it stays connected. Resolves true then.
 */
export function drained(res: ServerResponse, signal: AbortSignal, stallMs: number): Promise<boolean> {
  // Gone already: 'close' and 'abort' have fired, and would never wake the wait below.
  if (res.destroyed || signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    let stalled = false;
    const timer = setTimeout(() => {
      stalled = true;
      res.destroy();
    }, stallMs);
    const done = () => {
      clearTimeout(timer);
      res.off('drain', done);
      res.off('close', done);
      signal.removeEventListener('abort', done);
      resolve(stalled);
    };
    res.once('drain', done);
    res.once('close', done);
    signal.addEventListener('abort', done, { once: true });
  });
}
