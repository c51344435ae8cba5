/** Sidecar authentication: a TokenReview per new token, cached briefly so a reconnect storm is not an apiserver storm. */
import { createHash } from 'node:crypto';
import { type SidecarIdentity, serviceAccountIdentity } from './identity.js';

/** How long the operator trusts a token it has vouched for without asking the apiserver again (its token cache). */
export const TOKEN_TRUST_MS = 30_000;

/**
 * How long after the last real TokenReview of a token its tickets stay good. Each keep-alive re-issues a ticket and
 * a taken ticket refreshes the token cache, so without a bound a token+ticket chain would never be reviewed again
 * until the token expires (an hour): a deleted service account or pod kept resuming. The review time is under the
 * MAC, so no reissue moves it; past the bound the ticket is worthless, the reconnect costs a TokenReview, and that
 * starts a new chain. Ten minutes: a revoked token is trusted at most this long after its last review, and the
 * operator re-reviews the tokens of the streams it holds from half of it on (review-schedule.ts), so an open
 * stream's ticket always has time left for a restart.
 */
export const TICKET_REVIEW_BOUND_MS = 10 * 60_000;

/** Why a TokenReview is sent: a connect or message the cache could not vouch for, or an open stream's re-review. */
export type ReviewReason = 'connect' | 'refresh';

export interface AuthOptions {
  /** How long an accepted token is trusted without asking again (TOKEN_TRUST_MS). */
  ttlMs?: number;
  /** How long a rejected token stays rejected (short: it may be a token the apiserver did not know yet). */
  negativeTtlMs?: number;
  maxEntries?: number;
  /**
   * How long a token a re-review rejected stays revoked for its tickets (`revoked`): the ticket review bound, past
   * which every ticket issued for it is worthless anyway.
   */
  revokedMs?: number;
  now?: () => number;
}

/** The cache key of a token: a hash, so nothing that holds it can replay the token. */
export function tokenKey(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

export interface TokenAuthenticator {
  (token: string): Promise<SidecarIdentity | undefined>;
  /**
   * Trusts `token` as `identity` until `expiresAt` (at most the TTL from now) without a review, unless the cache
   * already holds it: a resumption ticket vouched for it (tickets.ts), so the sidecar's next calls need none either.
   */
  vouch(token: string, identity: SidecarIdentity, expiresAt: number, reviewedAt: number): void;
  /**
   * When the apiserver last accepted `token` (epoch ms): the time of the review behind its cache entry, or the one
   * the ticket that vouched for it carried. Undefined when the cache holds no accepted entry for it.
   */
  reviewedAt(token: string): Promise<number | undefined>;
  /**
   * A TokenReview of `token` now, whatever the cache holds (the background re-review of an open stream's token,
   * stream-reviews.ts): accepted, the cache entry is replaced and carries the new review time; rejected, the token is
   * `revoked`. Throws when the apiserver cannot answer, and then the cache is left as it was.
   */
  review(token: string): Promise<{ identity: SidecarIdentity | undefined; reviewedAt: number }>;
  /** Whether a re-review rejected `token` lately: its tickets are then refused (server.ts). */
  revoked(token: string): boolean;
}

export function tokenAuthenticator(
  review: (token: string, reason: ReviewReason) => Promise<string | undefined>,
  opts: AuthOptions = {},
): TokenAuthenticator {
  const ttl = opts.ttlMs ?? TOKEN_TRUST_MS;
  const revokedMs = opts.revokedMs ?? TICKET_REVIEW_BOUND_MS;
  // Keyed by tokenKey, valued by when the entry lapses.
  const revokedUntil = new Map<string, number>();
  const negativeTtl = opts.negativeTtlMs ?? 2_000;
  const max = opts.maxEntries ?? 10_000;
  const now = opts.now ?? Date.now;
  // Keyed by tokenKey so the cache never holds a usable token.
  type Entry = { expires: number; identity: Promise<SidecarIdentity | undefined>; reviewedAt: number };
  const cache = new Map<string, Entry>();
  // Bounded the simple way: a full cache starts over (each entry is one TokenReview at most to rebuild).
  const remember = (key: string, entry: Entry) => {
    if (cache.size >= max) cache.clear();
    cache.set(key, entry);
  };
  const authenticate = (token: string) => {
    const key = tokenKey(token);
    const hit = cache.get(key);
    if (hit && hit.expires > now()) return hit.identity;
    const reviewedAt = now();
    const identity = review(token, 'connect').then(serviceAccountIdentity);
    const entry = { expires: reviewedAt + ttl, identity, reviewedAt };
    remember(key, entry);
    identity.then(
      (id) => {
        if (!id) entry.expires = now() + negativeTtl;
      },
      () => cache.delete(key),
    );
    return identity;
  };
  const vouch = (token: string, identity: SidecarIdentity, expiresAt: number, reviewedAt: number) => {
    const key = tokenKey(token);
    const t = now();
    if ((cache.get(key)?.expires ?? 0) > t) return;
    remember(key, {
      expires: Math.min(expiresAt, t + ttl),
      identity: Promise.resolve(identity),
      reviewedAt,
    });
  };
  const reviewedAt = async (token: string) => {
    const hit = cache.get(tokenKey(token));
    if (!hit || hit.expires <= now()) return undefined;
    return (await hit.identity.catch(() => undefined)) ? hit.reviewedAt : undefined;
  };
  const reviewNow = async (token: string) => {
    const key = tokenKey(token);
    const at = now();
    const identity = serviceAccountIdentity(await review(token, 'refresh'));
    if (identity) {
      remember(key, { expires: at + ttl, identity: Promise.resolve(identity), reviewedAt: at });
      revokedUntil.delete(key);
    } else {
      remember(key, { expires: at + negativeTtl, identity: Promise.resolve(undefined), reviewedAt: at });
      if (revokedUntil.size >= max) revokedUntil.clear();
      revokedUntil.set(key, at + revokedMs);
    }
    return { identity, reviewedAt: at };
  };
  const revoked = (token: string) => {
    const key = tokenKey(token);
    const until = revokedUntil.get(key);
    if (until === undefined) return false;
    if (until > now()) return true;
    revokedUntil.delete(key);
    return false;
  };
  return Object.assign(authenticate, { vouch, reviewedAt, review: reviewNow, revoked });
}
