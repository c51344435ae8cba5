import { describe, expect, it } from 'vitest';
import { crossValidate } from './cv.js';
import { buildDesign } from './design.js';
import { STRUCTURAL } from './features.js';
import { predict } from './ridge.js';
import { addLengthPrior, fitHead, levelHead } from './train.js';

const LOG_CHARS = STRUCTURAL.indexOf('log-chars');
// Prompts whose gain falls with length (what a fitted length weight can learn on a few subjects).
const texts = Array.from({ length: 60 }, (_, i) => `question ${i}: ${'word '.repeat(1 + (i % 12) * 5)}?`);
const d = buildDesign(texts);
const gains = texts.map((_, i) => (i % 12 < 6 ? 0.6 : 0.1) + (i % 5 === 0 ? 0.2 : 0));
const rows = texts.map((_, i) => i);

describe('length prior', () => {
  it('adds a positive log-length weight in units of the head spread, keeping the mean score', () => {
    const m = fitHead(d, rows, gains, { name: 'h', features: 'structure', lambdaDense: 10 });
    const withPrior = fitHead(d, rows, gains, {
      name: 'h',
      features: 'structure',
      lambdaDense: 10,
      lengthPrior: 2,
    });
    expect(withPrior.dense[LOG_CHARS]!).toBeGreaterThan(m.dense[LOG_CHARS]!);
    const mean = (f: (r: number) => number) => rows.reduce((a, r) => a + f(r), 0) / rows.length;
    expect(mean((r) => predict(withPrior, d, r))).toBeCloseTo(
      mean((r) => predict(m, d, r)),
      9,
    );
    // Everything but the log-length weight and the bias is the plain structure head.
    withPrior.dense.forEach((w, j) => {
      if (j !== LOG_CHARS) expect(w).toBe(m.dense[j]);
    });
  });

  it('leaves a head alone when the prompts all have one length', () => {
    const same = buildDesign(['aaaa', 'bbbb', 'cccc']);
    const m = fitHead(same, [0, 1, 2], [0, 1, 0], { name: 'h', features: 'structure', lambdaDense: 1 });
    const before = Float64Array.from(m.dense);
    addLengthPrior(m, same, [0, 1, 2], 1);
    expect(Array.from(m.dense)).toEqual(Array.from(before));
  });
});

describe('levelHead', () => {
  it("moves a head's mean score on its rows to the level asked, keeping its ranking", () => {
    // Labels on another scale (as augmented labels are): the head ranks right but sits 1.0 too high.
    const m = fitHead(
      d,
      rows,
      gains.map((g) => g + 1),
      { name: 'h', features: 'structure', lambdaDense: 10 },
    );
    const before = rows.map((r) => predict(m, d, r));
    const level = gains.reduce((a, b) => a + b, 0) / gains.length;
    levelHead(m, d, rows, level);
    const after = rows.map((r) => predict(m, d, r));
    expect(after.reduce((a, b) => a + b, 0) / after.length).toBeCloseTo(level, 9);
    for (const [i, x] of after.entries()) expect(x - before[i]!).toBeCloseTo(after[0]! - before[0]!, 9);
    expect(after[0]! - before[0]!).toBeLessThan(-0.9);
    levelHead(m, d, [], 5);
    expect(predict(m, d, 0)).toBeCloseTo(after[0]!, 12);
  });
});

describe('label augmentation in cross-validation', () => {
  it('trains augmented specs on the augment labels and scores on the pair', () => {
    const folds = Int32Array.from(rows, (i) => i % 3);
    const outcomes = gains.map((g) => ({ weak: 0, strong: g }));
    // The augment labels are the reverse ranking: an augmented head must learn it, a plain one must not.
    const reversed = (i: number) => [1 - gains[i]!, 1 - gains[i]!];
    const spec = { name: 'h', features: 'length' as const, lambdaDense: 1 };
    const plain = crossValidate(d, rows, gains, folds, outcomes, spec, reversed);
    const aug = crossValidate(d, rows, gains, folds, outcomes, { ...spec, augmented: true }, reversed);
    expect(plain.apgr).toBeGreaterThan(0.5);
    expect(aug.apgr).toBeLessThan(0.5);
  });
});

describe('borrowed rows in cross-validation', () => {
  it('trains every fold on rows with a negative fold and never scores them', () => {
    // Source rows 0..29 carry no usable signal alone (constant gain); borrowed rows 30..59 carry the length signal.
    const own = rows.slice(0, 30);
    const borrowed = rows.slice(30);
    const flat = own.map(() => 0.3);
    const all = [...own, ...borrowed];
    const labels = [...flat, ...borrowed.map((i) => gains[i]!)];
    // Scored on the source's own pair outcomes, which do follow the signal.
    const outcomes = all.map((i) => ({ weak: 0, strong: gains[i]! }));
    const spec = { name: 'h', features: 'length' as const, lambdaDense: 1 };
    const ownFolds = Int32Array.from(own, (i) => i % 3);
    const alone = crossValidate(d, own, flat, ownFolds, outcomes.slice(0, 30), spec);
    const withBorrowed = crossValidate(
      d,
      all,
      labels,
      Int32Array.from([...ownFolds, ...borrowed.map(() => -1)]),
      outcomes,
      spec,
    );
    expect(withBorrowed.foldApgr).toHaveLength(alone.foldApgr.length);
    expect(withBorrowed.apgr).toBeGreaterThan(alone.apgr + 0.05);
    // Borrowed rows get no out-of-fold score.
    for (let j = 30; j < 60; j++) expect(withBorrowed.oof[j]).toBe(0);
  });
});
