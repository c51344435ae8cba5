import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../scripts/train/rng.js';
import { calibrationRun, placeInRun, RollingPercentile, type TieRun, tiePosition } from './calibration.js';
import { shareFromQuantiles } from './classifier.js';

/** Brute force: share of `xs` below / at or below x. */
const below = (xs: number[], x: number) => xs.filter((v) => v < x).length / xs.length;
const atOrBelow = (xs: number[], x: number) => xs.filter((v) => v <= x).length / xs.length;

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

describe('RollingPercentile ties', () => {
  it("locate() gives the tie run's bounds, percentile(x, at) a place inside it", () => {
    const w = new RollingPercentile(40);
    const rand = mulberry32(11);
    const seen: number[] = [];
    const run: TieRun = { lo: 0, hi: 0 };
    for (let i = 0; i < 300; i++) {
      const x = Math.round(rand() * 8) / 8; // nine values: long tie runs
      const window = seen.slice(-40);
      if (window.length > 0) {
        w.locate(x, run);
        expect(run.lo).toBeCloseTo(below(window, x), 12);
        expect(run.hi).toBeCloseTo(atOrBelow(window, x), 12);
        expect(w.percentile(x, 0)).toBeCloseTo(run.lo, 12);
        expect(w.percentile(x, 1)).toBeCloseTo(run.hi, 12);
        expect(w.percentile(x, 0.25)).toBeCloseTo(run.lo + (run.hi - run.lo) / 4, 12);
      }
      w.record(x);
      seen.push(x);
    }
    expect(new RollingPercentile(5).locate(1, run).lo).toBeNaN();
  });
});

describe('ties on the calibration quantiles', () => {
  const share = (q: number[]) => ({ shareAbove: (t: number) => shareFromQuantiles(q, t) });
  const run: TieRun = { lo: 0, hi: 0 };

  it('a run of equal quantiles is a point mass: a score there spans its share', () => {
    // 0%..100% in eighths; 0.5 holds the 25%..75% quantiles.
    const q = [0, 0.1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.9, 1];
    calibrationRun(share(q), 0.5, run);
    expect(run.lo).toBeCloseTo(2 / 8, 12);
    expect(run.hi).toBeCloseTo(6 / 8, 12);
    // Between distinct quantiles there is no tie: lo = hi = 1 - shareAbove, what the scorer always used.
    calibrationRun(share(q), 0.3, run);
    expect(run.lo).toBe(run.hi);
    expect(run.lo).toBeCloseTo(1 - shareFromQuantiles(q, 0.3), 12);
    calibrationRun(share(q), 1, run);
    expect(run).toEqual({ lo: 1, hi: 1 });
  });

  it('a constant model (every quantile equal) spans the whole scale; off-scale scores are no tie', () => {
    const q = Array.from({ length: 101 }, () => 0);
    expect(calibrationRun(share(q), 0, run)).toEqual({ lo: 0, hi: 1 });
    expect(calibrationRun(share(q), -1, run)).toEqual({ lo: 0, hi: 0 });
    expect(calibrationRun(share(q), 1e-12, run)).toEqual({ lo: 1, hi: 1 });
  });

  it('works for a negative score and a score at 0 (no float step is lost)', () => {
    const q = [-2, -0.5, -0.5, 0, 0, 3];
    calibrationRun(share(q), -0.5, run);
    expect(run.lo).toBeCloseTo(0.2, 12);
    expect(run.hi).toBeCloseTo(0.4, 12);
    calibrationRun(share(q), 0, run);
    expect(run.lo).toBeCloseTo(0.6, 12);
    expect(run.hi).toBeCloseTo(0.8, 12);
  });
});

describe('placeInRun', () => {
  it('an untied score keeps its percentile', () => {
    expect(placeInRun({ lo: 0.42, hi: 0.42 }, 'x')).toBe(0.42);
  });

  it('a tied prompt lands inside its run, at the same place for the same text', () => {
    for (const text of ['', 'hi', 'the same prompt again', 'é 日本 🙂']) {
      const p = placeInRun({ lo: 0.2, hi: 0.6 }, text);
      expect(p).toBeGreaterThanOrEqual(0.2);
      expect(p).toBeLessThan(0.6);
      expect(placeInRun({ lo: 0.2, hi: 0.6 }, text)).toBe(p);
      expect(p).toBeCloseTo(0.2 + 0.4 * tiePosition(text), 12);
    }
  });

  it('a huge prompt is placed by its head, tail and length: the middle is never read', () => {
    const head = 'a'.repeat(5000);
    const tail = 'z'.repeat(5000);
    const one = `${head}${'x'.repeat(100_000)}${tail}`;
    const other = `${head}${'y'.repeat(100_000)}${tail}`;
    expect(tiePosition(one)).toBe(tiePosition(other));
    // Any change in the head, the tail or the length still moves it.
    expect(tiePosition(`b${one.slice(1)}`)).not.toBe(tiePosition(one));
    expect(tiePosition(`${one.slice(0, -1)}y`)).not.toBe(tiePosition(one));
    expect(tiePosition(`${head}${'x'.repeat(100_001)}${tail}`)).not.toBe(tiePosition(one));
  });

  it('varied prompts spread uniformly: any threshold inside the run splits them in proportion', () => {
    // Near-identical prompts (a counter, a shared prefix): the hash must not bunch them.
    const texts = Array.from({ length: 10_000 }, (_, i) => `Summarise ticket ${i} for the on-call engineer.`);
    const ps = texts.map((t) => placeInRun({ lo: 0, hi: 1 }, t));
    for (const t of [0.1, 0.3, 0.4, 0.7, 0.9]) {
      const above = ps.filter((p) => p >= t).length / ps.length;
      expect(above).toBeGreaterThan(1 - t - 0.02);
      expect(above).toBeLessThan(1 - t + 0.02);
    }
  });
});
