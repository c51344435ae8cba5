import { describe, expect, it } from 'vitest';
import { jwtClaims, jwtExpiry, jwtSubject } from './jwt.js';

const jwt = (claims: unknown) =>
  [
    Buffer.from('{"alg":"RS256"}').toString('base64url'),
    Buffer.from(JSON.stringify(claims)).toString('base64url'),
    'sig',
  ].join('.');

describe('jwt', () => {
  it('reads the exp claim of a JWT and nothing from what is not one', () => {
    expect(jwtExpiry(jwt({ exp: 1_000 }))).toBe(1_000_000);
    expect(jwtExpiry(jwt({ exp: '1000' }))).toBeUndefined();
    expect(jwtExpiry(jwt({}))).toBeUndefined();
    expect(jwtExpiry('opaque-token')).toBeUndefined();
    expect(jwtExpiry('a.!!!.c')).toBeUndefined();
  });

  it('reads the subject claim', () => {
    expect(jwtSubject(jwt({ sub: 'system:serviceaccount:team:app' }))).toBe('system:serviceaccount:team:app');
    expect(jwtSubject(jwt({ sub: 5 }))).toBeUndefined();
    expect(jwtSubject('opaque-token')).toBeUndefined();
  });

  it('takes only a three-part token with a JSON object payload', () => {
    expect(jwtClaims(jwt({ a: 1 }))).toEqual({ a: 1 });
    expect(jwtClaims(jwt([1, 2]))).toBeUndefined();
    expect(jwtClaims(jwt(null))).toBeUndefined();
    expect(jwtClaims(jwt({ a: 1 }).split('.').slice(0, 2).join('.'))).toBeUndefined();
    expect(jwtClaims('')).toBeUndefined();
  });
});
