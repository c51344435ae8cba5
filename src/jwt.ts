/**
 * Unverified reads of a JWT (compact JWS: header.payload.signature). Only for tokens something else verifies (the
 * apiserver, an upstream): what tiermesh takes from them is when they expire and whom they name, never whether to
 * trust them. Used by the upstream token cache, the operator's tickets and Lease owner, and the sidecar's stream.
 */

/** The payload's claims; undefined for anything that is not a JWT with a JSON object payload. */
export function jwtClaims(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    return typeof claims === 'object' && claims !== null && !Array.isArray(claims)
      ? (claims as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** When a JWT expires (ms since the epoch), from its `exp` claim; undefined for anything that is not a JWT with one. */
export function jwtExpiry(token: string): number | undefined {
  const exp = jwtClaims(token)?.exp;
  return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
}

/** The `sub` claim: a service account's token names it `system:serviceaccount:<ns>:<sa>`. */
export function jwtSubject(token: string): string | undefined {
  const sub = jwtClaims(token)?.sub;
  return typeof sub === 'string' ? sub : undefined;
}
