import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../scripts/train/rng.js';
import {
  apgr,
  cpt,
  MIN_MEAN_GAIN,
  type PairOutcome,
  pgrAt,
  pgrCurve,
  summarize,
  unmeasurableReason,
} from './metrics.js';

function sample(n: number, seed: number): PairOutcome[] {
  const r = mulberry32(seed);
  return Array.from({ length: n }, () => {
    const strong = r() < 0.8 ? 1 : 0;
    const weak = r() < 0.6 ? strong : 1 - strong;
    return { weak, strong };
  });
}

describe('pgrCurve / apgr / cpt', () => {
  it('hand-computed: 4 prompts, two gain', () => {
    const outcomes = [
      { weak: 0, strong: 1 },
      { weak: 1, strong: 1 },
      { weak: 0, strong: 1 },
      { weak: 0, strong: 0 },
    ];
    // Scores rank prompt 0, then 1, then 2, then 3. Gains in that order: 1, 0, 1, 0; total gain 2.
    const c = pgrCurve([0.9, 0.8, 0.7, 0.1], outcomes);
    expect(Array.from(c.pgr)).toEqual([0, 0.5, 0.5, 1, 1]);
    expect(c.qWeak).toBe(0.25);
    expect(c.qStrong).toBe(0.75);
    // Trapezoids of width 1/4: (0+.5)/2 + (.5+.5)/2 + (.5+1)/2 + (1+1)/2 = 0.25+0.5+0.75+1 => 2.5/4
    expect(apgr(c)).toBeCloseTo(0.625, 12);
    expect(cpt(c, 0.5)).toBeCloseTo(0.25, 12);
    expect(cpt(c, 0.8)).toBeCloseTo(0.5 + 0.25 * 0.6, 12);
    expect(pgrAt(c, 0.125)).toBeCloseTo(0.25, 12);
  });

  it('a constant score is the random router: PGR(s) = s, APGR 0.5', () => {
    const o = sample(500, 1);
    const c = pgrCurve(new Array(o.length).fill(0.3), o);
    for (const s of [0, 0.2, 0.5, 0.8, 1]) expect(pgrAt(c, s)).toBeCloseTo(s, 9);
    expect(apgr(c)).toBeCloseTo(0.5, 9);
    expect(cpt(c, 0.5)).toBeCloseTo(0.5, 9);
  });

  it('the oracle (score = strong - weak) recovers nearly all the gain early; its reverse is worst', () => {
    const o = sample(2000, 2);
    const oracle = summarize(
      o.map((x) => x.strong - x.weak),
      o,
    );
    const reverse = summarize(
      o.map((x) => x.weak - x.strong),
      o,
    );
    expect(oracle.apgr).toBeGreaterThan(0.9);
    // The oracle sends only gaining prompts first, so PGR grows by 1/(n * (qStrong - qWeak)) per prompt.
    const c = pgrCurve(
      o.map((x) => x.strong - x.weak),
      o,
    );
    expect(oracle.cpt80).toBeCloseTo(0.8 * (c.qStrong - c.qWeak), 9);
    expect(reverse.apgr).toBeLessThan(0.1);
    expect(oracle.pgr50).toBeGreaterThanOrEqual(1);
  });

  it('ties are split in expectation, independent of input order', () => {
    const o = [
      { weak: 0, strong: 1 },
      { weak: 1, strong: 1 },
    ];
    const a = pgrCurve([1, 1], o);
    const b = pgrCurve([1, 1], [o[1]!, o[0]!]);
    expect(Array.from(a.pgr)).toEqual([0, 0.5, 1]);
    expect(Array.from(b.pgr)).toEqual(Array.from(a.pgr));
  });

  it('CPT is 1 when the target is never reached, and errors are explicit', () => {
    const o = [
      { weak: 0, strong: 1 },
      { weak: 1, strong: 0 },
      { weak: 0, strong: 1 },
    ];
    // Ranking the losing prompt first keeps PGR below 1 until every prompt goes strong.
    const c = pgrCurve([0.1, 0.9, 0.2], o);
    expect(cpt(c, 1.5)).toBe(1);
    expect(() => pgrCurve([1], o)).toThrow(/differ in length/);
    expect(() => pgrCurve([], [])).toThrow(/no outcomes/);
  });

  it('no gain to recover (strong not better, or under MIN_MEAN_GAIN better): PGR is undefined, never a number', () => {
    // Strong worse on average: dividing by the negative span scored the gain-first ranking -0.375, its reverse 1.375.
    const worse = [
      { weak: 1, strong: 0 },
      { weak: 1, strong: 0 },
      { weak: 0, strong: 1 },
      { weak: 1, strong: 1 },
    ];
    // Strong better by 1 prompt in 1000, with 300 gains and 299 losses: the gain-first ranking scored APGR 210.
    const tiny = Array.from({ length: 1000 }, (_, i) =>
      i < 300 ? { weak: 0, strong: 1 } : i < 599 ? { weak: 1, strong: 0 } : { weak: 1, strong: 1 },
    );
    // Level: the zero span scored every ranking APGR 1.
    const level = [
      { weak: 0, strong: 1 },
      { weak: 1, strong: 0 },
    ];
    for (const o of [worse, tiny, level]) {
      const gainFirst = o.map((x) => x.strong - x.weak);
      const c = pgrCurve(gainFirst, o);
      expect(c.measurable).toBe(false);
      const r = summarize(gainFirst, o);
      for (const v of Object.values(r)) expect(v).toBeNaN();
      expect(unmeasurableReason(o)).toMatch(/^no gain to recover: the strong model is/);
    }
    expect(unmeasurableReason(worse)).toBe(
      'no gain to recover: the strong model is not better than the weak one (mean quality 0.750 -> 0.500)',
    );
    expect(unmeasurableReason(tiny)).toMatch(/less than 0\.01 better than/);
    // Exactly one point of gain (1 prompt in 100) is measured, whatever the rounding of the means.
    const onePoint = Array.from({ length: 100 }, (_, i) =>
      i === 0 ? { weak: 0, strong: 1 } : { weak: 0.3, strong: 0.3 },
    );
    expect(MIN_MEAN_GAIN).toBe(0.01);
    expect(unmeasurableReason(onePoint)).toBeNull();
    expect(
      summarize(
        onePoint.map((x) => x.strong - x.weak),
        onePoint,
      ).apgr,
    ).toBeGreaterThan(0.99);
  });
});
