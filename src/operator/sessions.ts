/**
 * Config streams the operator has authenticated. A stream costs one TokenReview when it opens; the ACKs and NACKs
 * for it name the stream and are trusted when they come from the same sidecar with the same token, so a push to
 * N sidecars costs no TokenReview at all, however cold the token cache is. Pure bookkeeping, no sockets.
 */
import { randomBytes } from 'node:crypto';
import { tokenKey } from './auth.js';
import { tokenExpiry } from './tickets.js';

interface Session {
  namespace: string;
  sidecarId: string;
  tokenKey: string;
}

export class StreamSessions {
  private readonly open = new Map<string, Session>();

  /** Registers an authenticated stream; the returned id is an unguessable handle valid until `close`. */
  start(namespace: string, sidecarId: string, token: string): string {
    const id = randomBytes(18).toString('base64url');
    this.open.set(id, { namespace, sidecarId, tokenKey: tokenKey(token) });
    return id;
  }

  close(id: string): void {
    this.open.delete(id);
  }

  /**
   * The namespace a message may act for when it names an open stream of `sidecarId` and carries the token that
   * opened it, unexpired; undefined otherwise (a rotated or expired token, a closed stream), and the caller
   * authenticates the usual way.
   */
  bound(id: string, sidecarId: string, token: string, now = Date.now()): string | undefined {
    const s = this.open.get(id);
    if (!s || s.sidecarId !== sidecarId || s.tokenKey !== tokenKey(token)) return undefined;
    // Not past the token's own expiry either: a stream outlives its token, its trust does not.
    if ((tokenExpiry(token) ?? Number.POSITIVE_INFINITY) <= now) return undefined;
    return s.namespace;
  }

  size(): number {
    return this.open.size;
  }
}
