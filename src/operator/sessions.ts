/**
 * Config streams the operator has authenticated. A stream costs one TokenReview when it opens; the ACKs and NACKs
 * for it name the stream and are trusted when they come from the same sidecar with the same token, so a push to
 * N sidecars costs no TokenReview at all, however cold the token cache is. Each stream also carries the time of its
 * token's last review (what its tickets carry), which the background re-review moves (stream-reviews.ts), and a way
 * to end it when that review rejects the token. Pure bookkeeping, no sockets.
 */
import { randomBytes } from 'node:crypto';
import { jwtExpiry } from '../jwt.js';
import { tokenKey } from './auth.js';
import type { OpenToken } from './review-schedule.js';

interface Session {
  namespace: string;
  sidecarId: string;
  tokenKey: string;
  /** The token itself, for its re-review: held no longer than the stream that holds it anyway. */
  token: string;
  /** The token's own expiry (epoch ms, from its `exp`), read once when the stream opens. */
  tokenExpiresAt: number | undefined;
  /** Epoch ms of the token's last TokenReview (0: unknown, due at once). */
  reviewedAt: number;
  end: () => void;
  refreshed: () => void;
}

export interface StartOptions {
  /** Epoch ms of the token's last review; without it the token is due for a re-review at once. */
  reviewedAt?: number | undefined;
  /** Ends the stream (a re-review rejected its token). */
  end?: () => void;
  /** The token's review time moved (a re-review accepted it): the stream's ticket can be renewed at once. */
  refreshed?: () => void;
}

export class StreamSessions {
  private readonly open = new Map<string, Session>();

  /** Registers an authenticated stream; the returned id is an unguessable handle valid until `close`. */
  start(namespace: string, sidecarId: string, token: string, opts: StartOptions = {}): string {
    const id = randomBytes(18).toString('base64url');
    this.open.set(id, {
      namespace,
      sidecarId,
      tokenKey: tokenKey(token),
      token,
      tokenExpiresAt: jwtExpiry(token),
      reviewedAt: opts.reviewedAt ?? 0,
      end: opts.end ?? (() => {}),
      refreshed: opts.refreshed ?? (() => {}),
    });
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
    if ((s.tokenExpiresAt ?? Number.POSITIVE_INFINITY) <= now) return undefined;
    return s.namespace;
  }

  /** When the token of stream `id` was last reviewed (epoch ms); undefined for a closed stream. */
  reviewedAt(id: string): number | undefined {
    return this.open.get(id)?.reviewedAt;
  }

  /**
   * The distinct tokens of the open streams, each with its oldest review and the namespace it was accepted for:
   * one re-review per token, however many streams it opened.
   */
  tokens(): Array<OpenToken & { token: string; namespace: string }> {
    const byKey = new Map<string, OpenToken & { token: string; namespace: string }>();
    for (const s of this.open.values()) {
      const t = byKey.get(s.tokenKey);
      if (t) t.reviewedAt = Math.min(t.reviewedAt, s.reviewedAt);
      else
        byKey.set(s.tokenKey, {
          key: s.tokenKey,
          token: s.token,
          namespace: s.namespace,
          reviewedAt: s.reviewedAt,
          expiresAt: s.tokenExpiresAt,
        });
    }
    return [...byKey.values()];
  }

  /** The apiserver accepted the token with key `key` again at `at`: its streams' tickets carry that from now on. */
  reviewed(key: string, at: number): void {
    for (const s of this.open.values()) {
      if (s.tokenKey !== key || at <= s.reviewedAt) continue;
      s.reviewedAt = at;
      s.refreshed();
    }
  }

  /** The apiserver rejected the token with key `key`: ends its streams and says how many. */
  revoke(key: string): number {
    let n = 0;
    for (const [id, s] of this.open) {
      if (s.tokenKey !== key) continue;
      this.open.delete(id);
      s.end();
      n++;
    }
    return n;
  }

  size(): number {
    return this.open.size;
  }
}
