import { describe, expect, it } from 'vitest';
import { modelRouteSpec } from '../api/modelroute.js';
import {
  afterFailure,
  type FailureContext,
  firstByteDeadlineMs,
  parseRetryAfter,
  STREAM_FIRST_BYTE_TIMEOUT_MS,
} from './policy.js';

const headers = (h: Record<string, string>) => (name: string) => h[name];
const NOW = Date.parse('2026-11-23T10:00:00Z');

describe('parseRetryAfter', () => {
  it('reads delta-seconds', () => {
    expect(parseRetryAfter(headers({ 'retry-after': '7' }), NOW)).toBe(7);
    expect(parseRetryAfter(headers({ 'retry-after': ' 1.5 ' }), NOW)).toBe(1.5);
  });
  it('reads an HTTP date relative to now, never negative', () => {
    expect(parseRetryAfter(headers({ 'retry-after': 'Mon, 23 Nov 2026 10:00:30 GMT' }), NOW)).toBe(30);
    expect(parseRetryAfter(headers({ 'retry-after': 'Mon, 23 Nov 2026 09:59:00 GMT' }), NOW)).toBe(0);
  });
  it('prefers retry-after-ms', () => {
    expect(parseRetryAfter(headers({ 'retry-after-ms': '250', 'retry-after': '9' }), NOW)).toBe(0.25);
  });
  it('ignores garbage, negatives and absurd values', () => {
    for (const v of ['soon', '-3', '', '1e9', '99999999', 'NaN'])
      expect(parseRetryAfter(headers({ 'retry-after': v }), NOW)).toBeUndefined();
    expect(parseRetryAfter(headers({}), NOW)).toBeUndefined();
  });
});

describe('afterFailure', () => {
  const base: FailureContext = {
    reason: 'server_error',
    retryAfter: undefined,
    triesOnTarget: 1,
    retries: { attempts: 2, backoffMs: 100, maxBackoffMs: 2000 },
    remainingMs: 10_000,
    hasNextTarget: true,
    random: 1,
  };
  it('retries a server error with backoff while retries remain', () => {
    expect(afterFailure(base)).toEqual({ kind: 'retry', delayMs: 100 });
    expect(afterFailure({ ...base, triesOnTarget: 2 })).toEqual({ kind: 'retry', delayMs: 200 });
    expect(afterFailure({ ...base, triesOnTarget: 3 })).toEqual({ kind: 'next-target' });
  });
  it('never fails over a client error', () => {
    expect(afterFailure({ ...base, reason: 'client_error' })).toEqual({ kind: 'stop' });
  });
  it('moves on at once for open breakers, missing keys, auth failures and timeouts', () => {
    for (const reason of ['breaker_open', 'unavailable', 'auth', 'timeout'] as const)
      expect(afterFailure({ ...base, reason })).toEqual({ kind: 'next-target' });
  });
  it('honours a short Retry-After instead of the backoff', () => {
    expect(afterFailure({ ...base, reason: 'rate_limited', retryAfter: 1 })).toEqual({
      kind: 'retry',
      delayMs: 1000,
    });
  });
  it('skips to the next target when Retry-After is longer than any backoff', () => {
    expect(afterFailure({ ...base, reason: 'rate_limited', retryAfter: 30 })).toEqual({
      kind: 'next-target',
    });
  });
  it('waits a long Retry-After on the last target, but never past the deadline', () => {
    const last = { ...base, reason: 'rate_limited' as const, retryAfter: 5, hasNextTarget: false };
    expect(afterFailure(last)).toEqual({ kind: 'retry', delayMs: 5000 });
    expect(afterFailure({ ...last, remainingMs: 4000 })).toEqual({ kind: 'next-target' });
  });
  it('does not sleep a backoff beyond the deadline', () => {
    expect(afterFailure({ ...base, remainingMs: 50 })).toEqual({ kind: 'next-target' });
  });
  it('does not retry when retries are off', () => {
    expect(afterFailure({ ...base, retries: { ...base.retries, attempts: 0 } })).toEqual({
      kind: 'next-target',
    });
  });
});

describe('firstByteDeadlineMs', () => {
  const parsed = (resilience?: unknown) =>
    modelRouteSpec.parse({
      providers: [{ name: 'p', type: 'simulated' }],
      models: [
        {
          name: 'm',
          targets: [{ provider: 'p' }],
          pricing: { inputPerMTok: 1, outputPerMTok: 1 },
          contextWindow: 1000,
        },
      ],
      tiers: [{ name: 't', models: ['m'] }],
      ...(resilience ? { resilience } : {}),
    }).resilience;

  it('unset, a non-streamed call is bounded by timeoutMs alone (its first byte is the whole answer)', () => {
    expect(firstByteDeadlineMs(parsed(), false)).toBe(60_000);
    expect(firstByteDeadlineMs(parsed({ timeoutMs: 120_000 }), false)).toBe(120_000);
  });

  it('unset, a stream gets the stream default, never past timeoutMs', () => {
    expect(firstByteDeadlineMs(parsed(), true)).toBe(STREAM_FIRST_BYTE_TIMEOUT_MS);
    expect(firstByteDeadlineMs(parsed({ timeoutMs: 5_000 }), true)).toBe(5_000);
  });

  it('set on the route, it applies to both', () => {
    const res = parsed({ timeoutMs: 30_000, firstByteTimeoutMs: 2_000 });
    expect(firstByteDeadlineMs(res, false)).toBe(2_000);
    expect(firstByteDeadlineMs(res, true)).toBe(2_000);
  });
});
