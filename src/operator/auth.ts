/** Sidecar authentication: a TokenReview per new token, cached briefly so a reconnect storm is not an apiserver storm. */
import { createHash } from 'node:crypto';
import { type SidecarIdentity, serviceAccountIdentity } from './identity.js';

/** How long the operator trusts a token it has vouched for without asking the apiserver again (its token cache). */
export const TOKEN_TRUST_MS = 30_000;

export interface AuthOptions {
  /** How long an accepted token is trusted without asking again (TOKEN_TRUST_MS). */
  ttlMs?: number;
  /** How long a rejected token stays rejected (short: it may be a token the apiserver did not know yet). */
  negativeTtlMs?: number;
  maxEntries?: number;
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
}

export function tokenAuthenticator(
  review: (token: string) => Promise<string | undefined>,
  opts: AuthOptions = {},
): TokenAuthenticator {
  const ttl = opts.ttlMs ?? TOKEN_TRUST_MS;
  const negativeTtl = opts.negativeTtlMs ?? 2_000;
  const max = opts.maxEntries ?? 10_000;
  const now = opts.now ?? Date.now;
  // Keyed by tokenKey so the cache never holds a usable token.
  const cache = new Map<
    string,
    { expires: number; identity: Promise<SidecarIdentity | undefined>; reviewedAt: number }
  >();
  const authenticate = (token: string) => {
    const key = tokenKey(token);
    const hit = cache.get(key);
    if (hit && hit.expires > now()) return hit.identity;
    if (cache.size >= max) cache.clear();
    const reviewedAt = now();
    const identity = review(token).then(serviceAccountIdentity);
    const entry = { expires: reviewedAt + ttl, identity, reviewedAt };
    cache.set(key, entry);
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
    if (cache.size >= max) cache.clear();
    cache.set(key, {
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
  return Object.assign(authenticate, { vouch, reviewedAt });
}
