import { describe, expect, it } from 'vitest';
import { percentile, ratio, summarize } from './stats.js';

describe('percentile', () => {
  it('uses nearest rank, so the answer is always a recorded sample', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 50)).toBe(50);
    expect(percentile(sorted, 99)).toBe(99);
    expect(percentile(sorted, 100)).toBe(100);
    expect(percentile([7, 9, 30], 50)).toBe(9);
    expect(percentile([7, 9, 30], 99)).toBe(30);
  });

  it('clamps p=0 to the smallest sample and is NaN with no samples', () => {
    expect(percentile([3, 4], 0)).toBe(3);
    expect(percentile([], 50)).toBeNaN();
  });
});

describe('summarize', () => {
  it('sorts its input without mutating it', () => {
    const samples = [30, 10, 20, 40];
    const s = summarize(samples);
    expect(samples).toEqual([30, 10, 20, 40]);
    expect(s).toMatchObject({ count: 4, p50: 20, p99: 40, max: 40, mean: 25 });
  });

  it('reports NaN rather than zeros for an empty run', () => {
    const s = summarize([]);
    expect(s.count).toBe(0);
    expect(s.p50).toBeNaN();
    expect(s.mean).toBeNaN();
  });
});

describe('ratio', () => {
  it('divides, and is NaN against a missing or zero baseline', () => {
    expect(ratio(30, 20)).toBe(1.5);
    expect(ratio(30, 0)).toBeNaN();
    expect(ratio(undefined, 2)).toBeNaN();
    expect(ratio(Number.NaN, 2)).toBeNaN();
  });
});
