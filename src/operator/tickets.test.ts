import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TICKET_REVIEW_BOUND_MS, TOKEN_TRUST_MS } from './auth.js';
import { issueTicket, ticketExpiry, ticketKeyFrom, ticketKeyFromSecret, verifyTicket } from './tickets.js';

const pem = () =>
  generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;

/** A JWT-shaped token with this `exp` (seconds); the signature is never checked here. */
const jwt = (exp: number | undefined, salt = 'x', sub = 'system:serviceaccount:team:app') =>
  [
    Buffer.from('{"alg":"RS256"}').toString('base64url'),
    Buffer.from(JSON.stringify({ sub, exp, salt })).toString('base64url'),
    'sig',
  ].join('.');

const key = ticketKeyFrom(pem());
const NOW = 1_000_000_000_000;
const token = jwt(NOW / 1000 + 3600);
const REVIEWED = NOW - 1_000;
const claims = {
  namespace: 'team',
  serviceAccount: 'app',
  sidecarId: 'pod-a',
  expiresAt: NOW + 30_000,
  reviewedAt: REVIEWED,
};

describe('ticket key', () => {
  it('is the same for the same serving key however it is written, and differs between keys', () => {
    const a = pem();
    const reflowed = a.replace(/\n/g, '\r\n');
    expect(ticketKeyFrom(a).equals(ticketKeyFrom(reflowed))).toBe(true);
    expect(ticketKeyFrom(a).equals(ticketKeyFrom(pem()))).toBe(false);
    expect(ticketKeyFrom(a)).toHaveLength(32);
  });

  it('from a secret file: the same for the same secret (a trailing newline aside), refused when short', () => {
    const secret = 'k'.repeat(32);
    expect(
      ticketKeyFromSecret(Buffer.from(`${secret}\n`)).equals(ticketKeyFromSecret(Buffer.from(secret))),
    ).toBe(true);
    expect(
      ticketKeyFromSecret(Buffer.from(secret)).equals(ticketKeyFromSecret(Buffer.from('j'.repeat(32)))),
    ).toBe(false);
    expect(() => ticketKeyFromSecret(Buffer.from('short\n'))).toThrow(/at least 32 bytes/);
  });

  it('from a binary secret file: its raw bytes, all their entropy kept, and their raw length checked', () => {
    // Bytes that are not UTF-8 (0x80-0xff, lone continuation bytes): decoded as text both would be all U+FFFD.
    const a = Buffer.alloc(32, 0x80);
    const b = Buffer.alloc(32, 0xff);
    expect(ticketKeyFromSecret(a).equals(ticketKeyFromSecret(b))).toBe(false);
    const random = randomBytes(48);
    const other = Buffer.from(random);
    other[20] = other[20]! ^ 0x01;
    expect(ticketKeyFromSecret(random).equals(ticketKeyFromSecret(other))).toBe(false);
    // Whitespace around it (ASCII only) is trimmed, the bytes in between are not touched.
    const inner = Buffer.concat([Buffer.from([0x01]), randomBytes(32), Buffer.from([0xa0])]);
    expect(
      ticketKeyFromSecret(Buffer.concat([Buffer.from(' \t'), inner, Buffer.from('\r\n')])).equals(
        ticketKeyFromSecret(inner),
      ),
    ).toBe(true);
    // 31 raw bytes are refused, though as text (each a U+FFFD of 3 bytes) they would be 93.
    expect(() => ticketKeyFromSecret(Buffer.alloc(31, 0xfe))).toThrow(/at least 32 bytes/);
  });

  it('is not the serving key itself', () => {
    const a = pem();
    expect(a).not.toContain(ticketKeyFrom(a).toString('base64'));
  });
});

describe('ticketExpiry', () => {
  it('gives a ticket the trust window, cut at the token expiry and the review bound, else none', () => {
    expect(ticketExpiry(NOW, token, REVIEWED)).toBe(NOW + TOKEN_TRUST_MS);
    expect(ticketExpiry(NOW, jwt(NOW / 1000 + 10), REVIEWED)).toBe(NOW + 10_000);
    expect(ticketExpiry(NOW, jwt(NOW / 1000), REVIEWED)).toBeUndefined();
    // A review 10 s short of the bound leaves 10 s; one at the bound leaves nothing.
    expect(ticketExpiry(NOW, token, NOW - TICKET_REVIEW_BOUND_MS + 10_000)).toBe(NOW + 10_000);
    expect(ticketExpiry(NOW, token, NOW - TICKET_REVIEW_BOUND_MS)).toBeUndefined();
    // A token without an expiry gets no ticket: a ticket must not outlive its token.
    expect(ticketExpiry(NOW, 'opaque-token', REVIEWED)).toBeUndefined();
    expect(ticketExpiry(NOW, jwt(undefined), REVIEWED)).toBeUndefined();
  });
});

describe('issueTicket / verifyTicket', () => {
  const presented = { sidecarId: 'pod-a', token };

  it('vouches for the identity it was issued for, with the same sidecar id and token, until it expires', () => {
    const t = issueTicket(key, claims, token);
    expect(verifyTicket([key], t, presented, NOW)).toEqual({
      namespace: 'team',
      serviceAccount: 'app',
      expiresAt: NOW + 30_000,
      reviewedAt: REVIEWED,
    });
    expect(verifyTicket([key], t, presented, NOW + 29_999)).toBeDefined();
    expect(verifyTicket([key], t, presented, NOW + 30_000)).toBeUndefined();
  });

  it('does not carry the token', () => {
    const t = issueTicket(key, claims, token);
    expect(t).not.toContain(token.split('.')[1]);
    expect(t).not.toContain('sig');
  });

  it('is worthless for another sidecar, another token, or under another key', () => {
    const t = issueTicket(key, claims, token);
    expect(verifyTicket([key], t, { sidecarId: 'pod-b', token }, NOW)).toBeUndefined();
    expect(
      verifyTicket([key], t, { sidecarId: 'pod-a', token: jwt(NOW / 1000 + 3600, 'y') }, NOW),
    ).toBeUndefined();
    expect(verifyTicket([ticketKeyFrom(pem())], t, presented, NOW)).toBeUndefined();
    expect(verifyTicket([], t, presented, NOW)).toBeUndefined();
  });

  it('is accepted under the key before a rotation too', () => {
    const t = issueTicket(key, claims, token);
    expect(verifyTicket([ticketKeyFrom(pem()), key], t, presented, NOW)).toBeDefined();
  });

  it('refuses a tampered payload or MAC', () => {
    const t = issueTicket(key, claims, token);
    const [body, sig] = t.split('.') as [string, string];
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    const forge = (p: object) => `${Buffer.from(JSON.stringify(p)).toString('base64url')}.${sig}`;
    expect(verifyTicket([key], forge({ ...payload, n: 'kube-system' }), presented, NOW)).toBeUndefined();
    expect(verifyTicket([key], forge({ ...payload, s: 'admin' }), presented, NOW)).toBeUndefined();
    expect(verifyTicket([key], forge({ ...payload, e: payload.e + 1 }), presented, NOW)).toBeUndefined();
    // The review time is under the MAC: a ticket cannot be made younger.
    expect(verifyTicket([key], forge({ ...payload, r: NOW }), presented, NOW)).toBeUndefined();
    const { r: _r, ...noReview } = payload;
    expect(verifyTicket([key], forge(noReview), presented, NOW)).toBeUndefined();
    const flipped = `${body}.${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`;
    expect(verifyTicket([key], flipped, presented, NOW)).toBeUndefined();
    for (const junk of [
      '',
      '.',
      'abc',
      `${body}.`,
      `${body}.${sig}.x`,
      `!!.${sig}`,
      `${body}.${sig.slice(1)}`,
    ])
      expect(verifyTicket([key], junk, presented, NOW)).toBeUndefined();
  });

  it('refuses a ticket that claims to outlive the trust window, even one its key signed', () => {
    const long = issueTicket(key, { ...claims, expiresAt: NOW + TOKEN_TRUST_MS + 1 }, token);
    expect(verifyTicket([key], long, presented, NOW)).toBeUndefined();
    expect(verifyTicket([key], long, presented, NOW + 1)).toBeDefined();
  });

  it('refuses a ticket whose token was last reviewed longer ago than the bound, however often reissued', () => {
    // A chain of keep-alive reissues never moves the review time: the ticket issued just before the bound is good,
    // and the same chain past it is worthless (the reconnect costs a TokenReview, which starts a new chain).
    const at = (t: number) =>
      issueTicket(key, { ...claims, expiresAt: t + TOKEN_TRUST_MS, reviewedAt: REVIEWED }, token);
    const late = REVIEWED + TICKET_REVIEW_BOUND_MS;
    expect(verifyTicket([key], at(late - 1), presented, late)).toBeDefined();
    expect(verifyTicket([key], at(late), presented, late + 1)).toBeUndefined();
    // A review time in the future is no review either.
    const future = issueTicket(key, { ...claims, reviewedAt: NOW + 1 }, token);
    expect(verifyTicket([key], future, presented, NOW)).toBeUndefined();
  });

  it("refuses a ticket when the presented token's subject is not the ticket's service account", () => {
    // Another service account's token, bound into a ticket minted for team/app by a key holder.
    const foreign = jwt(NOW / 1000 + 3600, 'x', 'system:serviceaccount:other:app');
    const t = issueTicket(key, claims, foreign);
    expect(verifyTicket([key], t, { sidecarId: 'pod-a', token: foreign }, NOW)).toBeUndefined();
    const opaque = 'opaque-token';
    expect(
      verifyTicket([key], issueTicket(key, claims, opaque), { sidecarId: 'pod-a', token: opaque }, NOW),
    ).toBeUndefined();
    // The same ticket shape for the right subject is good.
    expect(verifyTicket([key], issueTicket(key, claims, token), presented, NOW)).toBeDefined();
  });
});
