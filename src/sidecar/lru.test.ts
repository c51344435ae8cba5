import { describe, expect, it } from 'vitest';
import { ByteLru } from './lru.js';

describe('ByteLru', () => {
  it('evicts the least recently used entries once the byte bound is passed', () => {
    const lru = new ByteLru<string>(10);
    lru.set('a', 'A', 4, 1000, 0);
    lru.set('b', 'B', 4, 1000, 0);
    expect(lru.get('a', 1)).toBe('A'); // a is now the most recently used
    lru.set('c', 'C', 4, 1000, 2);
    expect(lru.get('b', 3)).toBeUndefined();
    expect(lru.get('a', 3)).toBe('A');
    expect(lru.get('c', 3)).toBe('C');
    expect(lru.bytes).toBe(8);
    expect(lru.size).toBe(2);
  });

  it('expires entries after their time to live, freeing their bytes', () => {
    const lru = new ByteLru<string>(100);
    lru.set('a', 'A', 10, 50, 0);
    expect(lru.get('a', 49)).toBe('A');
    expect(lru.get('a', 50)).toBeUndefined();
    expect(lru.bytes).toBe(0);
    lru.set('b', 'B', 10, 50, 0);
    lru.set('c', 'C', 10, 500, 0);
    lru.prune(60);
    expect(lru.size).toBe(1);
    expect(lru.bytes).toBe(10);
  });

  it('refuses a value larger than the whole bound instead of emptying itself for it', () => {
    const lru = new ByteLru<string>(10);
    lru.set('a', 'A', 5, 1000, 0);
    expect(lru.set('big', 'X', 11, 1000, 0)).toBe(false);
    expect(lru.get('a', 1)).toBe('A');
  });

  it('replacing a key counts its bytes once, and shrinking the bound evicts at once', () => {
    const lru = new ByteLru<string>(100);
    lru.set('a', 'A', 30, 1000, 0);
    lru.set('a', 'A2', 40, 1000, 0);
    lru.set('b', 'B', 40, 1000, 0);
    expect(lru.bytes).toBe(80);
    lru.resize(50);
    expect(lru.get('a', 1)).toBeUndefined();
    expect(lru.get('b', 1)).toBe('B');
    expect(lru.bytes).toBe(40);
  });

  it('keeps least-recently-used order through many stores, hits and expiries', () => {
    const lru = new ByteLru<number>(50);
    for (let i = 0; i < 1000; i++) {
      lru.set(`k${i}`, i, 1, i % 7 === 0 ? 1 : 10_000, i);
      if (i % 3 === 0) lru.get(`k${i - 30}`, i); // an older entry used again moves to the newest end
    }
    expect(lru.size).toBeLessThanOrEqual(50);
    expect(lru.bytes).toBe(lru.size);
    // The 50 most recently used survive: hits count as uses.
    expect(lru.get('k999', 1000)).toBe(999);
    expect(lru.get('k969', 1000)).toBe(969); // hit at i = 999
    expect(lru.get('k940', 1000)).toBeUndefined();
    lru.prune(1000);
    expect(
      [...Array(1000).keys()].filter((i) => lru.get(`k${i}`, 1000) !== undefined).every((i) => i % 7 !== 0),
    ).toBe(true);
  });
});
