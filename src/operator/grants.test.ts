import { describe, expect, it } from 'vitest';
import { GrantBook, grantSize } from './grants.js';

const policy = { capUSD: 1, minUSD: 0.01, ttlMs: 1000, graceMs: 500 };

describe('grantSize', () => {
  it('splits the unreserved money across sidecars, capped', () => {
    expect(grantSize(8, 4, policy)).toBe(1);
    expect(grantSize(2, 4, policy)).toBe(0.5);
    expect(grantSize(0.02, 4, policy)).toBe(0.01);
    expect(grantSize(0.004, 4, policy)).toBe(0.004);
    expect(grantSize(0, 4, policy)).toBe(0);
    expect(grantSize(-1, 4, policy)).toBe(0);
  });
});

describe('GrantBook', () => {
  it('never hands out more than the remaining money in total', () => {
    const book = new GrantBook(policy);
    let total = 0;
    for (let i = 0; i < 200; i++) total += book.grant('b', `s${i % 4}`, 3, 0, 4, 0).grantUSD;
    expect(total).toBeLessThanOrEqual(3 + 1e-9);
    expect(total).toBeGreaterThan(2.99);
  });

  it('reported spend frees the slice; expiry frees it too', () => {
    const book = new GrantBook(policy);
    expect(book.grant('b', 's1', 1, 0, 1, 0).grantUSD).toBe(1);
    expect(book.grant('b', 's2', 1, 0, 1, 0).grantUSD).toBe(0);
    // s1 spent 0.4 and reported it: the ledger now says 0.4 spent, 0.6 still outstanding with s1.
    book.spent('b', 's1', 0.4);
    expect(book.grant('b', 's2', 1, 0.4, 1, 0).grantUSD).toBe(0);
    expect(book.outstanding('b', 0)).toBeCloseTo(0.6);
    expect(book.outstanding('b', 1500)).toBe(0);
    expect(book.grant('b', 's2', 1, 0.4, 1, 1500).grantUSD).toBeCloseTo(0.6);
  });
});
