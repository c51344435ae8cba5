import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../scripts/train/rng.js';
import { buildDesign } from './design.js';
import { EMB_DIM, loadEmbedder } from './embedding.js';
import { STRUCTURAL } from './features.js';
import { fitRidge, predict } from './ridge.js';

const LOG_CHARS = STRUCTURAL.indexOf('log-chars');
const only = (name: string) => STRUCTURAL.map((n) => n === name);

describe('fitRidge', () => {
  const rand = mulberry32(3);
  const texts = Array.from(
    { length: 300 },
    (_, i) => `${'word '.repeat(1 + Math.floor(rand() * 60))}${i % 2 ? 'alpha' : 'beta'}`,
  );
  const d = buildDesign(texts);
  const rows = texts.map((_, i) => i);

  it('recovers a linear relation on a dense feature (weak L2), on the raw scale', () => {
    const y = rows.map((i) => 0.3 + 2 * d.dense[i * STRUCTURAL.length + LOG_CHARS]!);
    const m = fitRidge(d, rows, y, { lambdaDense: 1e-6, denseMask: only('log-chars') });
    expect(m.dense[LOG_CHARS]).toBeCloseTo(2, 3);
    expect(m.bias).toBeCloseTo(0.3, 3);
    expect(m.hashed).toBeNull();
    for (const i of [0, 17, 299]) expect(predict(m, d, i)).toBeCloseTo(y[i]!, 3);
  });

  it('fits on the static embedding when asked, and refuses a design without one', () => {
    const topics = [
      'the heart pumps blood through arteries',
      'a python function returns a list',
      'tax law and court rulings',
    ];
    const tx = Array.from({ length: 90 }, (_, i) => `${topics[i % 3]} ${i}`);
    const de = buildDesign(tx, loadEmbedder());
    const rs = tx.map((_, i) => i);
    // The label is one embedding coordinate: an embedding fit recovers it, structure alone cannot.
    const y = rs.map((i) => de.emb![i * EMB_DIM + 2]!);
    const m = fitRidge(de, rs, y, {
      lambdaDense: 1e-6,
      denseMask: STRUCTURAL.map(() => false),
      embedding: true,
    });
    expect(m.emb).toHaveLength(EMB_DIM);
    for (const i of [0, 1, 2, 50]) expect(predict(m, de, i)).toBeCloseTo(y[i]!, 3);
    expect(() =>
      fitRidge(
        d,
        rows,
        rows.map(() => 0),
        { lambdaDense: 1, embedding: true },
      ),
    ).toThrow(/without an embedder/);
  });

  it('with no features it predicts the mean; hashed n-grams learn a word the label follows', () => {
    const y = rows.map((i) => (i % 2 ? 1 : 0));
    const constant = fitRidge(d, rows, y, { lambdaDense: 1, denseMask: STRUCTURAL.map(() => false) });
    expect(constant.bias).toBeCloseTo(0.5, 6);
    const ngram = fitRidge(d, rows, y, {
      lambdaDense: 10,
      lambdaHashed: 0.1,
      denseMask: STRUCTURAL.map(() => false),
    });
    expect(predict(ngram, d, 1)).toBeGreaterThan(0.8);
    expect(predict(ngram, d, 2)).toBeLessThan(0.2);
  });

  it('minCount: buckets seen in fewer fitted prompts get no weight, and a repeated row counts once', () => {
    const r = mulberry32(11);
    const word = () =>
      Array.from({ length: 9 }, () => String.fromCharCode(97 + Math.floor(r() * 26))).join('');
    // Every prompt: the shared words plus one made-up word of its own; the label is noise.
    const tx = Array.from({ length: 200 }, () => `the same few words ${word()}`);
    const dn = buildDesign(tx);
    const rs = tx.map((_, i) => i);
    const y = rs.map(() => (r() < 0.5 ? 1 : 0));
    const fitted = (rows: number[], ys: number[], minCount?: number) => {
      const m = fitRidge(dn, rows, ys, {
        lambdaDense: 1,
        lambdaHashed: 0.01,
        denseMask: STRUCTURAL.map(() => false),
        // Word n-grams only: a made-up word's character 4-grams can recur by chance in another prompt.
        wordsOnly: true,
        minCount,
      });
      return rs.map((i) => predict(m, dn, i));
    };
    const spread = (p: number[]) => Math.max(...p) - Math.min(...p);
    // With every bucket, the prompts' own words memorise the noise; without the once-seen ones nothing is left.
    expect(spread(fitted(rs, y))).toBeGreaterThan(0.8);
    expect(spread(fitted(rs, y, 2))).toBeLessThan(1e-6);
    // Not adjacent: the second copy of a row comes after every other row has touched the shared buckets.
    const twice = [...rs, ...rs];
    expect(
      spread(
        fitted(
          twice,
          twice.map((i) => y[i]!),
          2,
        ),
      ),
    ).toBeLessThan(1e-6);
  });

  it('stronger L2 shrinks the weights', () => {
    const y = rows.map((i) => d.dense[i * STRUCTURAL.length + LOG_CHARS]!);
    const weak = fitRidge(d, rows, y, { lambdaDense: 1e-3, denseMask: only('log-chars') });
    const strong = fitRidge(d, rows, y, { lambdaDense: 1e4, denseMask: only('log-chars') });
    expect(Math.abs(strong.dense[LOG_CHARS]!)).toBeLessThan(Math.abs(weak.dense[LOG_CHARS]!) / 5);
  });
});
