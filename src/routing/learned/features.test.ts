import { describe, expect, it } from 'vitest';
import { featurize, HASH_DIM, MAX_FEATURES, newBuffers, STRUCT_DIM, STRUCTURAL } from './features.js';

const entries = (text: string) => {
  const b = newBuffers();
  const k = featurize(text, b);
  return {
    k,
    idx: Array.from(b.idx.subarray(0, k)),
    val: Array.from(b.val.subarray(0, k)),
    dense: Array.from(b.dense),
  };
};
const dense = (text: string, name: (typeof STRUCTURAL)[number]) =>
  entries(text).dense[STRUCTURAL.indexOf(name)]!;

describe('featurize', () => {
  it('is deterministic and reuses buffers without leaking the previous prompt', () => {
    const b = newBuffers();
    featurize('a much longer prompt about kubernetes operators and admission webhooks', b);
    const k = featurize('hello world', b);
    expect(k).toBe(entries('hello world').k);
    expect(Array.from(b.idx.subarray(0, k))).toEqual(entries('hello world').idx);
  });

  it('emits words, bigrams and char 4-grams, each family scaled to unit norm', () => {
    const { k, idx, val } = entries('hello big world');
    // 3 words + 2 bigrams + 15 char 4-grams (one per non-repeated-space character)
    expect(k).toBe(3 + 2 + 15);
    for (const i of idx) expect(i >= 0 && i < HASH_DIM).toBe(true);
    expect(val.slice(0, 3).reduce((s, v) => s + v * v, 0)).toBeCloseTo(1, 5);
    expect(val.slice(3, 5).reduce((s, v) => s + v * v, 0)).toBeCloseTo(1, 5);
    expect(val.slice(5).reduce((s, v) => s + v * v, 0)).toBeCloseTo(1, 5);
  });

  it('is case-insensitive and treats all digits alike', () => {
    expect(entries('Solve 12 + 7').idx).toEqual(entries('solve 98 + 3').idx);
  });

  it('bounds the work on huge prompts and survives empty and non-ASCII text', () => {
    expect(entries('word '.repeat(200_000)).k).toBeLessThanOrEqual(MAX_FEATURES);
    expect(entries('').k).toBe(0);
    const u = entries('Wie spät ist es? 東京の天気は？ ∑x²');
    expect(u.k).toBeGreaterThan(0);
    expect(u.dense.every(Number.isFinite)).toBe(true);
    expect(u.dense).toHaveLength(STRUCT_DIM);
  });

  it('structural features see code, maths, multiple choice and length', () => {
    expect(dense('```js\nconst a = {b: 1};\n```', 'code-markers')).toBeGreaterThan(
      dense('hello there', 'code-markers'),
    );
    expect(dense('x^2 + 3x = 10', 'math-symbols')).toBeGreaterThan(0);
    expect(dense('Which is largest?\nA. 1\nB. 2\nC. 3', 'multiple-choice')).toBe(1);
    expect(dense('Which is largest?', 'multiple-choice')).toBe(0);
    expect(dense('a'.repeat(5000), 'log-chars')).toBeGreaterThan(dense('a', 'log-chars'));
  });

  it('word unigrams and bigrams come before the character 4-grams (the recogniser reads only those)', () => {
    const b = newBuffers();
    const k = featurize('one two three', b);
    // 3 words + 2 bigrams, then one 4-gram per normalised character (13).
    expect(b.wordEntries).toBe(5);
    expect(k).toBe(5 + 13);
    expect(b.val[0]).toBeCloseTo(1 / Math.sqrt(3), 6);
    expect(b.val[3]).toBeCloseTo(1 / Math.sqrt(2), 6);
    expect(b.val[5]).toBeCloseTo(1 / Math.sqrt(13), 6);
  });
});
