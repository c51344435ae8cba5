/**
 * When the operator re-reviews the tokens of its open config streams in the background (stream-reviews.ts): well
 * before the ticket review bound (tickets.ts), so the tickets they carry stay good across an operator restart, and
 * so a token revoked while its stream is open (service account or pod deleted) is noticed on that stream. Pure.
 */
import { createHash } from 'node:crypto';
import { TICKET_REVIEW_BOUND_MS } from './auth.js';

/**
 * The earliest age of a token's last review at which it is re-reviewed, as a share of the bound: half (5 of 10
 * minutes), so a stream's ticket always has half the bound left when the operator dies, more than a restart needs.
 */
const REFRESH_AT = 0.5;

/**
 * The per-token spread on top of that, as a share of the bound: up to a quarter (2.5 minutes). The streams of a
 * reconnect storm were all reviewed within seconds; without a spread their 1,000 re-reviews would come due at one
 * instant five minutes later, a storm of their own. Spread over 2.5 minutes they are a few a second, and the last
 * is due with a quarter of the bound still left for retries after an apiserver blip.
 */
const REFRESH_SPREAD = 0.25;

/** A share in [0, 1) fixed by the token (its cache key), so a token's due time does not move from tick to tick. */
function spread(tokenKey: string): number {
  return createHash('sha256').update(tokenKey).digest().readUInt32BE(0) / 2 ** 32;
}

/** How old a token's last review may get before it is re-reviewed: between 1/2 and 3/4 of the bound. */
export function refreshAge(tokenKey: string, boundMs = TICKET_REVIEW_BOUND_MS): number {
  return boundMs * (REFRESH_AT + REFRESH_SPREAD * spread(tokenKey));
}

/** How often the operator looks for tokens that are due: a fortieth of the bound (15 s of 10 minutes). */
export function reviewTickMs(boundMs = TICKET_REVIEW_BOUND_MS): number {
  return Math.max(50, Math.round(boundMs / 40));
}

export interface OpenToken {
  /** The token's cache key (auth.ts tokenKey). */
  key: string;
  /** Epoch ms of its last review: the oldest among the streams it opened. */
  reviewedAt: number;
  /** Epoch ms of its own expiry, when it has one. */
  expiresAt?: number | undefined;
}

/**
 * The keys of the tokens due for a re-review at `now`, the oldest review first (the closest to losing their
 * tickets): those whose last review is older than their refresh age, not already being reviewed (`inFlight`), and
 * not past their own expiry (the apiserver would refuse them, and such a stream already gets no tickets; it ends
 * when the sidecar reconnects with its rotated token).
 */
export function dueForReview(
  tokens: Iterable<OpenToken>,
  now: number,
  inFlight: ReadonlySet<string> = new Set(),
  boundMs = TICKET_REVIEW_BOUND_MS,
): string[] {
  const due: OpenToken[] = [];
  for (const t of tokens) {
    if (inFlight.has(t.key) || (t.expiresAt !== undefined && t.expiresAt <= now)) continue;
    if (now - t.reviewedAt >= refreshAge(t.key, boundMs)) due.push(t);
  }
  return due.sort((a, b) => a.reviewedAt - b.reviewedAt).map((t) => t.key);
}
