import { describe, expect, it } from 'vitest';
import { fits, ReservedTotals } from './reserved.js';

describe('fits', () => {
  it('counts booked, reserved and the new estimate against the limit', () => {
    expect(fits(1, 0.5, 0.3, 0.2)).toBe(true);
    expect(fits(1, 0.5, 0.3, 0.21)).toBe(false);
    expect(fits(1, 0, 0.9, 0.2)).toBe(false);
  });

  it('lets five 0.2 estimates fill a 1 USD limit despite floating-point sums', () => {
    let reserved = 0;
    let admitted = 0;
    for (let i = 0; i < 20; i++) {
      if (!fits(1, 0, reserved, 0.2)) continue;
      reserved += 0.2;
      admitted++;
    }
    expect(admitted).toBe(5);
  });

  it('treats non-finite or negative amounts as nothing', () => {
    expect(fits(1, Number.NaN, -5, Number.POSITIVE_INFINITY)).toBe(true);
    expect(fits(0, 0, 0, 0.01)).toBe(false);
  });
});

describe('ReservedTotals', () => {
  it('sums reservations per budget and per user of a budget', () => {
    const t = new ReservedTotals();
    t.add({ budget: 'a', usd: 0.2, allowance: false });
    t.add({ budget: 'a', usd: 0.3, user: 'alice', allowance: false });
    t.add({ budget: 'b', usd: 1, allowance: false });
    expect(t.usd('a')).toBeCloseTo(0.5, 12);
    expect(t.usd('a', 'alice')).toBeCloseTo(0.3, 12);
    expect(t.usd('a', 'bob')).toBe(0);
    expect(t.usd('b')).toBe(1);
    expect(t.count('a')).toBe(2);
  });

  it("counts others' reservations without the asking request's own", () => {
    const t = new ReservedTotals();
    const mine = [
      { budget: 'a', usd: 0.2, user: 'u', allowance: false },
      { budget: 'b', usd: 0.2, allowance: false },
    ];
    for (const r of mine) t.add(r);
    t.add({ budget: 'a', usd: 0.5, allowance: false });
    expect(t.othersUSD('a', mine)).toBeCloseTo(0.5, 12);
    expect(t.othersUSD('b', mine)).toBe(0);
    expect(t.othersUSD('a', [])).toBeCloseTo(0.7, 12);
  });

  it('returns to exactly zero once every reservation is removed (no floating-point residue)', () => {
    const t = new ReservedTotals();
    const rs = [0.1, 0.2, 0.7, 0.3].map((usd) => ({ budget: 'a', usd, user: 'u', allowance: false }));
    for (const r of rs) t.add(r);
    for (const r of [rs[2]!, rs[0]!, rs[3]!, rs[1]!]) t.remove(r);
    expect(t.usd('a')).toBe(0);
    expect(t.usd('a', 'u')).toBe(0);
    expect(t.count('a')).toBe(0);
  });

  it('never goes negative on residue while reservations remain', () => {
    const t = new ReservedTotals();
    t.add({ budget: 'a', usd: 0.1, allowance: false });
    t.add({ budget: 'a', usd: 0.2, allowance: false });
    t.remove({ budget: 'a', usd: 0.30000000000000004, allowance: false });
    expect(t.usd('a')).toBeGreaterThanOrEqual(0);
    expect(t.count('a')).toBe(1);
  });
});
