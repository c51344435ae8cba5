/**
 * POST /v1/feedback: an app scores an answer it got (by its x-request-id); the sidecar attributes the score to the
 * route, tier and model in its decision ring, counts it and logs it; `retry: true` re-runs the request one tier up.
 *
 *   acceptFeedback(deps, contentType, body): FeedbackVerdict     pure but for the ring and limiter it consults
 *     throws TM_RATE_LIMITED (429), TM_INVALID_JSON / TM_INVALID_REQUEST naming the field (400),
 *     TM_NOT_FOUND (404, param request_id) for an unknown or expired id
 *   feedbackHandler(deps): (req, res) => Promise<void>           the HTTP shell: 202 with what was recorded
 *
 * The comment is free text from a user and may quote the prompt: it goes only to sinks that may hold prompts
 * (`logPrompts`), never to metrics.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type FeedbackRequest, feedbackRequest, feedbackScore } from '../api/feedback.js';
import type { ChatCompletionRequest } from '../api/openai.js';
import type { Snapshot } from '../api/snapshot.js';
import type { RateLimiter } from '../budget/ratelimit.js';
import { TiermeshError, toTiermeshError } from '../errors.js';
import { sendError, sendJson } from '../http/reply.js';
import { readBody } from './body.js';
import type { DecisionRecord, DecisionRing } from './decisions.js';
import { parseJsonBody } from './parse-request.js';

/** One accepted feedback, as metrics and the decision log see it. */
export interface FeedbackEvent {
  requestId: string;
  at: number;
  route: string;
  tier: string;
  initialTier: string;
  model: string;
  score: number;
  rating?: 'up' | 'down' | undefined;
  /** Only when the sidecar may keep prompt text. */
  comment?: string | undefined;
  retry: boolean;
}

export type FeedbackVerdict =
  | { kind: 'recorded'; event: FeedbackEvent; record: DecisionRecord }
  /** Recorded too; the caller re-runs `request` one tier above `record.tier` and answers with the result. */
  | { kind: 'retry'; event: FeedbackEvent; record: DecisionRecord; request: ChatCompletionRequest };

export interface FeedbackDeps {
  ring: DecisionRing;
  /** One bucket for the whole sidecar (key ""): feedback must never cost more than the traffic it scores. */
  limiter: RateLimiter;
  logPrompts: boolean;
  now?: () => number;
  maxBodyBytes: number;
  /** Metrics and the decision log. Called once per accepted feedback, before any retry runs. */
  onFeedback: (e: FeedbackEvent, record: DecisionRecord) => void;
  /**
   * Re-runs the request one tier up and writes the answer. Absent (not wired): `retry: true` is refused with 400
   * before anything is recorded.
   */
  retry?: (
    record: DecisionRecord,
    request: ChatCompletionRequest,
    req: IncomingMessage,
    res: ServerResponse,
  ) => Promise<void>;
  /** Why this record cannot be retried one tier up (say, it was served by the top tier), checked before recording. */
  retryBlocked?: (record: DecisionRecord) => string | undefined;
}

/** The retry check against the config now serving: the route must still exist and have a tier above. */
export function retryBlockedBy(snapshot: Snapshot | undefined, record: DecisionRecord): string | undefined {
  const route = snapshot?.routes.find((r) => r.name === record.route);
  if (!route) return `route "${record.route}" is no longer configured`;
  const tiers = route.spec.tiers;
  const i = tiers.findIndex((t) => t.name === record.tier);
  if (i === tiers.length - 1)
    return `already answered by the highest tier ("${record.tier}") of route "${record.route}"`;
  return undefined;
}

const LIMITER_KEY = '';

export function acceptFeedback(
  deps: Pick<FeedbackDeps, 'ring' | 'limiter' | 'logPrompts' | 'now' | 'retryBlocked'> & {
    canRetry: boolean;
  },
  contentType: string | undefined,
  body: Buffer,
): FeedbackVerdict {
  const now = (deps.now ?? Date.now)();
  const rate = deps.limiter.take(LIMITER_KEY, now);
  if (!rate.ok)
    throw new TiermeshError(
      'TM_RATE_LIMITED',
      `feedback rate limit of ${deps.limiter.rpm}/min for this sidecar exceeded`,
      { retryAfter: rate.retryAfterSeconds },
    );
  const f: FeedbackRequest = parseJsonBody(feedbackRequest, contentType, body);
  const record = deps.ring.get(f.request_id, now);
  if (!record)
    throw new TiermeshError(
      'TM_NOT_FOUND',
      `request_id: no recent decision with this id (unknown, or older than the ${Math.round(deps.ring.ttlMs / 1000)} s this sidecar keeps)`,
      { param: 'request_id' },
    );
  let request: ChatCompletionRequest | undefined;
  if (f.retry) {
    if (!deps.canRetry)
      throw new TiermeshError('TM_INVALID_REQUEST', 'retry: not available on this sidecar', {
        param: 'retry',
      });
    if (record.stream)
      throw new TiermeshError('TM_INVALID_REQUEST', 'retry: streamed answers cannot be retried', {
        param: 'retry',
      });
    const blocked = deps.retryBlocked?.(record);
    if (blocked) throw new TiermeshError('TM_INVALID_REQUEST', `retry: ${blocked}`, { param: 'retry' });
    const kept = record.request;
    if (!kept && !f.messages)
      throw new TiermeshError(
        'TM_INVALID_REQUEST',
        'messages: required with "retry": true: this sidecar did not keep the request (bodies are kept only with --log-prompts, and only up to 16k tokens)',
        { param: 'messages' },
      );
    // Re-routed on the route that answered, not on whatever model name the client first sent.
    request = { ...(kept ?? { model: record.route, messages: [] }), model: record.route };
    if (f.messages) request.messages = f.messages;
    request.stream = false;
  }
  const event: FeedbackEvent = {
    requestId: record.requestId,
    at: now,
    route: record.route,
    tier: record.tier,
    initialTier: record.initialTier,
    model: record.model,
    score: feedbackScore(f),
    rating: f.rating,
    comment: deps.logPrompts ? f.comment : undefined,
    retry: f.retry === true,
  };
  return request ? { kind: 'retry', event, record, request } : { kind: 'recorded', event, record };
}

export function feedbackHandler(deps: FeedbackDeps) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let verdict: FeedbackVerdict;
    try {
      const body = await readBody(req, deps.maxBodyBytes);
      verdict = acceptFeedback(
        { ...deps, canRetry: deps.retry !== undefined },
        req.headers['content-type'],
        body,
      );
    } catch (e) {
      const err = toTiermeshError(e);
      // The unread rest of a too-large body is still on the socket: this connection cannot be reused.
      sendError(res, err, err.code === 'TM_BODY_TOO_LARGE' ? { headers: { connection: 'close' } } : {});
      return;
    }
    deps.onFeedback(verdict.event, verdict.record);
    if (verdict.kind === 'retry' && deps.retry) return deps.retry(verdict.record, verdict.request, req, res);
    const e = verdict.event;
    sendJson(res, 202, {
      status: 'recorded',
      request_id: e.requestId,
      route: e.route,
      tier: e.tier,
      model: e.model,
      score: e.score,
    });
  };
}
