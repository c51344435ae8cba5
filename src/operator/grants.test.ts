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
    // Never smaller than one request of the asking sidecar while that much is left (capped).
    expect(grantSize(0.02, 100, policy, 0.003)).toBe(0.01);
    expect(grantSize(0.2, 100, policy, 0.03)).toBe(0.03);
    expect(grantSize(0.02, 100, policy, 0.5)).toBe(0.02);
    expect(grantSize(8, 4, policy, 5)).toBe(1);
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

  it('an overdrawn slice stays owed: it is not counted as money the sidecar still holds', () => {
    const book = new GrantBook({ ...policy, capUSD: 10 });
    expect(book.grant('b', 's1', 2, 0, 1, 0).grantUSD).toBe(2);
    // s1's requests cost 2.2 against the 2 it was granted: 2.2 spent, 0.2 owed.
    book.spent('b', 's1', 2.2);
    expect(book.outstanding('b', 0)).toBe(0);
    expect(book.entries('b', 0)['s1']?.usd).toBeCloseTo(-0.2);
    // With the limit raised to 3, only what is left (0.8) is grantable: the debt frees nothing for others.
    expect(book.grant('b', 's2', 3, 2.2, 1, 0).grantUSD).toBeCloseTo(0.8);
    // s1's next slice first pays its debt: the book then holds what s1 can really spend.
    book.spent('b', 's2', 0.8);
    expect(book.grant('b', 's1', 4, 3, 1, 0).grantUSD).toBeCloseTo(1);
    expect(book.entries('b', 0)['s1']?.usd).toBeCloseTo(0.8);
  });
});
