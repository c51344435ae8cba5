/**
 * The background re-review of open config streams' tokens (the schedule is review-schedule.ts): each tick, the
 * tokens whose last review is past their refresh age get one TokenReview each, a few at a time so it never competes
 * with a reconnect storm. Accepted, the token's streams carry the new review time in their next tickets; rejected
 * (service account or pod deleted), its streams are ended, and the sidecars reconnect to a 401; the apiserver not
 * answering ends the round, the streams stay open and the next tick tries again. Every replica runs it for the
 * streams it holds, leader or not.
 */

import { TICKET_REVIEW_BOUND_MS } from './auth.js';
import type { SidecarIdentity } from './identity.js';
import { dueForReview, reviewTickMs } from './review-schedule.js';
import type { StreamSessions } from './sessions.js';

/** TokenReviews in flight at once: small, so a storm's connect reviews always find the apiserver's time. */
export const REVIEW_CONCURRENCY = 4;

export type RereviewResult = 'accepted' | 'rejected' | 'error';

export interface StreamReviewDeps {
  sessions: StreamSessions;
  /** A TokenReview now (TokenAuthenticator.review); throws when the apiserver cannot answer. */
  review: (token: string) => Promise<{ identity: SidecarIdentity | undefined; reviewedAt: number }>;
  onResult?: (result: RereviewResult) => void;
  /** How many streams a rejection ended. */
  onRevoked?: (streams: number) => void;
  onError?: (err: unknown) => void;
  boundMs?: number;
  concurrency?: number;
  now?: () => number;
}

export function startStreamReviews(deps: StreamReviewDeps): { stop(): void; round(): Promise<void> } {
  const boundMs = deps.boundMs ?? TICKET_REVIEW_BOUND_MS;
  const limit = deps.concurrency ?? REVIEW_CONCURRENCY;
  const now = deps.now ?? Date.now;
  let running: Promise<void> | undefined;

  async function reviewOne(token: { key: string; token: string; namespace: string }): Promise<boolean> {
    let r: Awaited<ReturnType<StreamReviewDeps['review']>>;
    try {
      r = await deps.review(token.token);
    } catch (e) {
      deps.onResult?.('error');
      deps.onError?.(e);
      return false;
    }
    // Another namespace for the same token cannot happen; were it to, the stream's trust would be wrong either way.
    if (r.identity && r.identity.namespace === token.namespace) {
      deps.sessions.reviewed(token.key, r.reviewedAt);
      deps.onResult?.('accepted');
    } else {
      deps.onResult?.('rejected');
      deps.onRevoked?.(deps.sessions.revoke(token.key));
    }
    return true;
  }

  async function roundOnce(): Promise<void> {
    const open = deps.sessions.tokens();
    const byKey = new Map(open.map((t) => [t.key, t]));
    const queue = dueForReview(open, now(), new Set(), boundMs);
    let failed = false;
    const worker = async () => {
      while (!failed) {
        const key = queue.shift();
        if (key === undefined) return;
        // The apiserver not answering ends the round: an outage costs a few failed reviews a tick, not 1,000.
        if (!(await reviewOne(byKey.get(key)!))) failed = true;
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, queue.length) }, worker));
  }

  const round = () => {
    // One round at a time: a long one (many due, a slow apiserver) is not overlapped by the next tick's.
    running ??= roundOnce().finally(() => {
      running = undefined;
    });
    return running;
  };
  const timer = setInterval(() => void round(), reviewTickMs(boundMs));
  timer.unref();
  return {
    round,
    stop() {
      clearInterval(timer);
    },
  };
}
