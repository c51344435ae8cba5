/**
 * Resumption tickets for config streams: what lets a restarted operator (or another replica) take back a sidecar's
 * stream without a TokenReview. A ticket is an HMAC over the stream's identity (namespace, service account, sidecar
 * id), the hash of the token it was authenticated with, and an expiry, under a key every replica derives from the
 * sidecar API's serving key (so replicas share it, a restart keeps it, a rotated certificate rotates it, and no
 * other Secret or RBAC rule is needed), or, without TLS, from a secret file every replica mounts
 * (--ticket-key-file). It is valid only together with the same token and sidecar id, and only as long as the
 * operator would have trusted that token from its cache: `TOKEN_TRUST_MS` after the operator last
 * vouched for it (a TokenReview, or the open stream it authenticated), never past the token's own expiry, and never
 * more than `TICKET_REVIEW_BOUND_MS` after the token's last real TokenReview (whose time is under the MAC).
 * Anything wrong with a ticket (forged, tampered, expired, for another sidecar or token, under a rotated key) makes it
 * worthless, never an error: the stream is then authenticated by a TokenReview as without one. Pure; no sockets.
 */
import { createHmac, createPrivateKey, hkdfSync, timingSafeEqual } from 'node:crypto';
import { jwtExpiry, jwtSubject } from '../jwt.js';
import { TICKET_REVIEW_BOUND_MS, TOKEN_TRUST_MS, tokenKey } from './auth.js';
import type { SidecarIdentity } from './identity.js';

/** Domain separation: the serving key's other use is TLS, and a key derived for tickets is good for nothing else. */
const KEY_INFO = 'tiermesh config-stream resumption ticket v1';

/**
 * The ticket key for a PEM private key (the sidecar API's serving key): HKDF-SHA256 over its PKCS#8 DER form, so
 * replicas that read the same key from a mounted file or from the Secret get the same ticket key.
 */
export function ticketKeyFrom(servingKeyPem: string): Buffer {
  return keyFromServingKey(servingKeyPem, KEY_INFO, 32);
}

/**
 * `bytes` of key material for one use (`info`, the domain separation) off a PEM private key: HKDF-SHA256 over its
 * PKCS#8 DER form, so every replica derives the same from the same key. The TLS session ticket keys (serving-tls.ts)
 * come from here too.
 */
export function keyFromServingKey(servingKeyPem: string, info: string, bytes: number): Buffer {
  const der = createPrivateKey(servingKeyPem).export({ type: 'pkcs8', format: 'der' });
  return Buffer.from(hkdfSync('sha256', der, Buffer.alloc(0), info, bytes));
}

/** The shortest ticket key file accepted: a 256-bit secret. */
export const MIN_TICKET_SECRET_BYTES = 32;

/** ASCII whitespace (space, tab, LF, VT, FF, CR): what an editor or `echo` adds around a secret. */
const isSpace = (b: number) => b === 0x20 || (b >= 0x09 && b <= 0x0d);

/**
 * The ticket key for a sidecar API without a serving key (plain HTTP, TLS ending in a mesh): HKDF-SHA256 over a
 * secret every replica reads (a mounted Secret). The secret is taken as raw bytes (a binary file keeps all its
 * entropy; decoding it as text would turn invalid sequences into U+FFFD), only ASCII whitespace at either end
 * trimmed. Throws for a secret shorter than 32 bytes.
 */
export function ticketKeyFromSecret(secret: Buffer): Buffer {
  let start = 0;
  let end = secret.length;
  while (start < end && isSpace(secret[start]!)) start++;
  while (end > start && isSpace(secret[end - 1]!)) end--;
  const bytes = secret.subarray(start, end);
  if (bytes.length < MIN_TICKET_SECRET_BYTES)
    throw new Error(`the ticket key must hold at least ${MIN_TICKET_SECRET_BYTES} bytes`);
  return Buffer.from(hkdfSync('sha256', bytes, Buffer.alloc(0), KEY_INFO, 32));
}

/** What a ticket binds. */
export interface TicketClaims extends SidecarIdentity {
  sidecarId: string;
  /** Epoch ms after which the ticket is worthless. */
  expiresAt: number;
  /** Epoch ms of the last TokenReview that accepted the token (TICKET_REVIEW_BOUND_MS). */
  reviewedAt: number;
}

interface Payload {
  /** namespace */
  n: string;
  /** service account */
  s: string;
  /** expiry, epoch ms */
  e: number;
  /** last TokenReview, epoch ms */
  r: number;
}

function mac(key: Buffer, claims: TicketClaims, token: string): Buffer {
  // A JSON array: unambiguous whatever characters the fields hold.
  const input = JSON.stringify([
    'v2',
    claims.namespace,
    claims.serviceAccount,
    claims.sidecarId,
    tokenKey(token),
    claims.expiresAt,
    claims.reviewedAt,
  ]);
  return createHmac('sha256', key).update(input).digest();
}

/**
 * When a ticket issued `now` for `token`, last reviewed at `reviewedAt`, must expire: the trust window from now,
 * cut at the token's own expiry and at the review bound. Undefined when that leaves nothing (the token has expired,
 * the review is too old) and for a token without an expiry (a ticket must never outlive its token): no ticket then.
 */
export function ticketExpiry(
  now: number,
  token: string,
  reviewedAt: number,
  trustMs = TOKEN_TRUST_MS,
  reviewBoundMs = TICKET_REVIEW_BOUND_MS,
): number | undefined {
  const tokenExp = jwtExpiry(token);
  if (tokenExp === undefined) return undefined;
  const exp = Math.min(now + trustMs, tokenExp, reviewedAt + reviewBoundMs);
  return exp > now ? exp : undefined;
}

/** A ticket for a stream authenticated as `claims` with `token`. The token itself is not in it, only its hash's MAC. */
export function issueTicket(key: Buffer, claims: TicketClaims, token: string): string {
  const payload: Payload = {
    n: claims.namespace,
    s: claims.serviceAccount,
    e: claims.expiresAt,
    r: claims.reviewedAt,
  };
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${body}.${mac(key, claims, token).toString('base64url')}`;
}

const TICKET_SHAPE = /^[A-Za-z0-9_-]{1,1024}\.[A-Za-z0-9_-]{43}$/;

/**
 * The identity a ticket vouches for, when it is a ticket one of `keys` issued for this sidecar id and this token
 * and it has not expired; undefined for anything else. A ticket claiming to last longer than `trustMs` from now, or
 * whose token was last reviewed more than `reviewBoundMs` ago, is refused too (no key holder may mint a longer one).
 * The presented token is not reviewed when a ticket is taken, so its (unverified) subject must at least name the
 * ticket's service account: a cheap check that a mix-up or a stolen ticket key alone does not pass as another
 * identity. The MAC is compared in constant time.
 */
export function verifyTicket(
  keys: readonly Buffer[],
  ticket: string,
  presented: { sidecarId: string; token: string },
  now: number,
  trustMs = TOKEN_TRUST_MS,
  reviewBoundMs = TICKET_REVIEW_BOUND_MS,
): (SidecarIdentity & { expiresAt: number; reviewedAt: number }) | undefined {
  if (keys.length === 0 || !TICKET_SHAPE.test(ticket)) return undefined;
  const [body, sig] = ticket.split('.') as [string, string];
  let p: Partial<Payload>;
  try {
    p = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Partial<Payload>;
  } catch {
    return undefined;
  }
  if (
    typeof p.n !== 'string' ||
    typeof p.s !== 'string' ||
    typeof p.e !== 'number' ||
    typeof p.r !== 'number'
  )
    return undefined;
  if (!(p.e > now) || p.e > now + trustMs) return undefined;
  if (!(p.r <= now) || now - p.r > reviewBoundMs) return undefined;
  if (jwtSubject(presented.token) !== `system:serviceaccount:${p.n}:${p.s}`) return undefined;
  const claims: TicketClaims = {
    namespace: p.n,
    serviceAccount: p.s,
    sidecarId: presented.sidecarId,
    expiresAt: p.e,
    reviewedAt: p.r,
  };
  const given = Buffer.from(sig, 'base64url');
  let ok = false;
  // Every key is tried (the current one and the one before a rotation), so the time taken says nothing either.
  for (const key of keys) {
    const want = mac(key, claims, presented.token);
    if (want.length === given.length && timingSafeEqual(want, given)) ok = true;
  }
  return ok ? { namespace: p.n, serviceAccount: p.s, expiresAt: p.e, reviewedAt: p.r } : undefined;
}
