/** Sidecar authentication: a TokenReview per new token, cached briefly so a reconnect storm is not an apiserver storm. */
import { createHash } from 'node:crypto';
import { type SidecarIdentity, serviceAccountIdentity } from './identity.js';

export interface AuthOptions {
  /** How long an accepted token is trusted without asking again. */
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

export function tokenAuthenticator(
  review: (token: string) => Promise<string | undefined>,
  opts: AuthOptions = {},
): (token: string) => Promise<SidecarIdentity | undefined> {
  const ttl = opts.ttlMs ?? 30_000;
  const negativeTtl = opts.negativeTtlMs ?? 2_000;
  const max = opts.maxEntries ?? 10_000;
  const now = opts.now ?? Date.now;
  // Keyed by tokenKey so the cache never holds a usable token.
  const cache = new Map<string, { expires: number; identity: Promise<SidecarIdentity | undefined> }>();
  return (token) => {
    const key = tokenKey(token);
    const hit = cache.get(key);
    if (hit && hit.expires > now()) return hit.identity;
    if (cache.size >= max) cache.clear();
    const identity = review(token).then(serviceAccountIdentity);
    const entry = { expires: now() + ttl, identity };
    cache.set(key, entry);
    identity.then(
      (id) => {
        if (!id) entry.expires = now() + negativeTtl;
      },
      () => cache.delete(key),
    );
    return identity;
  };
}
