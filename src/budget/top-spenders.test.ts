import { describe, expect, it } from 'vitest';
import { TopSpenders } from './top-spenders.js';

describe('TopSpenders', () => {
  it('ranks exact totals while there is room', () => {
    const t = new TopSpenders(10);
    t.add('alice', 1);
    t.add('bob', 0.5);
    t.add('alice', 2);
    t.add(undefined, 100);
    t.add('', 100);
    expect(t.top(5)).toEqual([
      { user: 'alice', usd: 3, requests: 2, errorUSD: 0 },
      { user: 'bob', usd: 0.5, requests: 1, errorUSD: 0 },
    ]);
  });

  it('keeps the power user visible among many small ones, in bounded memory', () => {
    const t = new TopSpenders(20);
    let total = 0;
    for (let i = 0; i < 5000; i++) {
      t.add(`user-${i % 1000}`, 0.001);
      total += 0.001;
      if (i % 5 === 0) {
        t.add('power', 0.01);
        total += 0.01;
      }
    }
    const [first] = t.top(1);
    expect(first!.user).toBe('power');
    // Its true spend is 10, about 67% of the total; the bound says how much could be someone else's.
    expect(first!.usd - first!.errorUSD).toBeLessThanOrEqual(10 + 1e-9);
    expect(first!.usd).toBeGreaterThanOrEqual(10 - 1e-9);
    expect(first!.usd / total).toBeGreaterThan(0.6);
    expect(t.top(100).length).toBe(20);
  });

  it('starts over for a new window', () => {
    const t = new TopSpenders(2);
    t.add('a', 1);
    t.reset();
    expect(t.top(5)).toEqual([]);
    expect(() => new TopSpenders(0)).toThrow(RangeError);
  });

  it('carries on from a persisted list, and a clone changes independently', () => {
    const t = TopSpenders.from([{ user: 'alice', usd: 3, requests: 2, errorUSD: 0.5 }], 10);
    const c = t.clone();
    c.add('alice', 1);
    c.add('bob', 2);
    expect(t.top(5)).toEqual([{ user: 'alice', usd: 3, requests: 2, errorUSD: 0.5 }]);
    expect(c.top(5)).toEqual([
      { user: 'alice', usd: 4, requests: 3, errorUSD: 0.5 },
      { user: 'bob', usd: 2, requests: 1, errorUSD: 0 },
    ]);
  });
});
