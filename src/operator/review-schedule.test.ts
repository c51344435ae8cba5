import { describe, expect, it } from 'vitest';
import { TICKET_REVIEW_BOUND_MS } from './auth.js';
import { dueForReview, refreshAge, reviewTickMs } from './review-schedule.js';

const MIN = 60_000;
const keys = Array.from({ length: 1000 }, (_, i) => `token-${i}`);

describe('refreshAge', () => {
  it('falls between half and three quarters of the bound, the same for a token every time', () => {
    for (const k of keys) {
      const age = refreshAge(k);
      expect(age).toBeGreaterThanOrEqual(5 * MIN);
      expect(age).toBeLessThan(7.5 * MIN);
      expect(refreshAge(k)).toBe(age);
    }
    expect(refreshAge('x', 20_000)).toBeGreaterThanOrEqual(10_000);
    expect(refreshAge('x', 20_000)).toBeLessThan(15_000);
  });

  it('spreads 1,000 tokens reviewed together over the window, not onto one instant', () => {
    // Ten 15-second buckets over the 2.5-minute spread: each holds about a tenth, none more than twice that.
    const buckets = new Array<number>(10).fill(0);
    for (const k of keys) buckets[Math.floor((refreshAge(k) - 5 * MIN) / 15_000)]!++;
    for (const n of buckets) {
      expect(n).toBeGreaterThan(50);
      expect(n).toBeLessThan(200);
    }
  });
});

describe('dueForReview', () => {
  const at = 1_000_000_000;

  it('picks the tokens older than their refresh age, oldest first', () => {
    const tokens = keys.slice(0, 50).map((key, i) => ({ key, reviewedAt: at - i * 10_000 }));
    const now = at;
    const due = dueForReview(tokens, now);
    const want = tokens.filter((t) => now - t.reviewedAt >= refreshAge(t.key));
    expect(want.length).toBeGreaterThan(0);
    expect(want.length).toBeLessThan(50);
    expect(due).toEqual([...want].sort((a, b) => a.reviewedAt - b.reviewedAt).map((t) => t.key));
    // Every token is due by three quarters of the bound, none before half.
    expect(dueForReview(tokens, at + 7.5 * MIN)).toHaveLength(50);
    expect(dueForReview(tokens.slice(0, 1), at + 5 * MIN - 1)).toEqual([]);
  });

  it('skips tokens in flight and tokens past their own expiry', () => {
    const old = at - TICKET_REVIEW_BOUND_MS;
    const tokens = [
      { key: 'a', reviewedAt: old },
      { key: 'b', reviewedAt: old, expiresAt: at },
      { key: 'c', reviewedAt: old, expiresAt: at + 1 },
      { key: 'd', reviewedAt: old },
    ];
    expect(dueForReview(tokens, at, new Set(['d']))).toEqual(['a', 'c']);
  });

  it('follows a smaller bound (the test-only flag)', () => {
    expect(dueForReview([{ key: 'a', reviewedAt: at - 15_000 }], at, new Set(), 20_000)).toEqual(['a']);
    expect(dueForReview([{ key: 'a', reviewedAt: at - 9_999 }], at, new Set(), 20_000)).toEqual([]);
    expect(reviewTickMs()).toBe(15_000);
    expect(reviewTickMs(20_000)).toBe(500);
  });
});
