import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../scripts/train/rng.js';
import { RollingPercentile } from './calibration.js';

/** Brute force: share of `xs` below x, ties half. */
const brute = (xs: number[], x: number) =>
  (xs.filter((v) => v < x).length + xs.filter((v) => v === x).length / 2) / xs.length;

describe('RollingPercentile', () => {
  it('is empty at first, then ranks against exactly the last `size` scores', () => {
    const w = new RollingPercentile(50);
    expect(w.percentile(1)).toBeNaN();
    const rand = mulberry32(7);
    const seen: number[] = [];
    for (let i = 0; i < 400; i++) {
      const x = Math.round(rand() * 20) / 4; // many ties
      const window = seen.slice(-50);
      if (window.length > 0) expect(w.percentile(x)).toBeCloseTo(brute(window, x), 12);
      w.record(x);
      seen.push(x);
    }
    expect(w.samples).toBe(50);
  });

  it('matches brute force through long runs of one score (the same prompt again and again)', () => {
    const w = new RollingPercentile(30);
    const seen: number[] = [];
    for (const [score, times] of [
      [0.5, 45],
      [0.2, 10],
      [0.5, 40],
      [0.9, 5],
      [0.2, 31],
    ] as const) {
      for (let i = 0; i < times; i++) {
        for (const probe of [0.1, 0.2, 0.5, 0.7, 0.9, 1])
          if (seen.length > 0) expect(w.percentile(probe)).toBeCloseTo(brute(seen.slice(-30), probe), 12);
        w.record(score);
        seen.push(score);
      }
    }
    expect(w.samples).toBe(30);
  });

  it('a score above the whole window is percentile 1, below it 0', () => {
    const w = new RollingPercentile(10);
    for (let i = 0; i < 10; i++) w.record(i);
    expect(w.percentile(100)).toBe(1);
    expect(w.percentile(-1)).toBe(0);
    expect(w.percentile(4.5)).toBeCloseTo(0.5, 12);
  });
});
