import { describe, expect, it } from 'vitest';
import {
  classifierFromModel,
  ModelFileError,
  shareFromQuantiles,
  thresholdFromQuantiles,
} from './classifier.js';
import { decodeFloat32, decodeInt8, encodeFloat32, encodeInt8 } from './codec.js';
import { HASH_DIM, STRUCT_DIM, STRUCTURAL } from './features.js';
import { MODEL_FORMAT, type ModelFile } from './weights-file.js';

const q = Array.from({ length: 101 }, (_, i) => i / 100); // uniform scores on [0, 1]
const zeros = () => STRUCTURAL.map(() => 0);
const dense = (name: (typeof STRUCTURAL)[number], w: number) => STRUCTURAL.map((n) => (n === name ? w : 0));

function model(over: Partial<ModelFile> = {}): ModelFile {
  return {
    format: MODEL_FORMAT,
    hashBits: 16,
    structural: [...STRUCTURAL],
    heads: [{ name: 'only', dense: zeros(), bias: 0.25 }],
    calibration: q,
    training: {},
    ...over,
  };
}

/** Two heads and a recogniser whose "code" class fires on code markers: code prompts go to the code head. */
function twoHeads(): ModelFile {
  return model({
    heads: [
      { name: 'prose', dense: dense('log-chars', 1), bias: 0 },
      { name: 'code', dense: zeros(), bias: 0.9 },
    ],
    recogniser: {
      classes: ['prose', 'code'],
      hashed: encodeInt8(new Float32Array(HASH_DIM * 2)),
      dense: [zeros(), dense('code-markers', 5)],
      bias: [0.6, 0],
      minScore: 0.5,
    },
    fallback: 'prose',
  });
}

describe('calibration quantiles', () => {
  it('maps a premium share to the score above which that share falls, and back', () => {
    expect(thresholdFromQuantiles(q, 0.3)).toBeCloseTo(0.7, 9);
    expect(thresholdFromQuantiles(q, 1)).toBe(0);
    expect(thresholdFromQuantiles(q, 0)).toBeGreaterThan(1);
    for (const s of [0.05, 0.25, 0.5, 0.9])
      expect(shareFromQuantiles(q, thresholdFromQuantiles(q, s))).toBeCloseTo(s, 9);
    const skewed = [0.01, 0.02, 0.05, 0.1, 0.6];
    expect(thresholdFromQuantiles(skewed, 0.5)).toBeCloseTo(0.05, 9);
    expect(shareFromQuantiles(skewed, 0.9)).toBe(0);
  });
});

describe('classifierFromModel', () => {
  it('a head is bias + dense weights (the predicted gain), deterministic', () => {
    expect(classifierFromModel(model()).score('anything')).toBeCloseTo(0.25, 9);
    const c = classifierFromModel(model({ heads: [{ name: 'h', dense: dense('log-chars', 8), bias: 0 }] }));
    expect(c.score('x'.repeat(100))).toBeCloseTo(Math.log1p(100), 5);
    expect(c.score('x'.repeat(1000))).toBeGreaterThan(c.score('x'.repeat(100)));
  });

  it('hashed weights add w * 1/sqrt(count) per n-gram: a uniform table adds the same for every family', () => {
    const table = new Float32Array(HASH_DIM).fill(0.5);
    const c = classifierFromModel(
      model({ heads: [{ name: 'h', hashed: encodeInt8(table), dense: zeros(), bias: 0 }] }),
    );
    // 4 words: 4 * 0.5/2 = 1; 3 bigrams: 3 * 0.5/sqrt(3); char 4-grams: n * 0.5/sqrt(n).
    const words = 'one two three four';
    const chars = words.length;
    expect(c.score(words)).toBeCloseTo(1 + 0.5 * Math.sqrt(3) + 0.5 * Math.sqrt(chars), 4);
  });

  it('the recogniser picks the head; a prompt below minScore on every class gets the fallback', () => {
    const c = classifierFromModel(twoHeads());
    const code = '```js\nfunction f() { return [1, 2]; }\n```';
    expect(c.headOf(code)).toBe('code');
    expect(c.score(code)).toBeCloseTo(0.9, 6);
    expect(c.headOf('a plain sentence about the weather')).toBe('prose');
    const low = twoHeads();
    low.recogniser!.bias = [0.1, 0];
    expect(classifierFromModel(low).headOf('a plain sentence')).toBe('prose'); // fallback
    expect(classifierFromModel(twoHeads()).heads).toEqual(['prose', 'code']);
  });

  it('refuses malformed, foreign and inconsistent files with a message saying what is wrong', () => {
    const bad = (m: unknown, re: RegExp) => {
      expect(() => classifierFromModel(m)).toThrow(ModelFileError);
      expect(() => classifierFromModel(m)).toThrow(re);
    };
    bad({ format: 'tiermesh-learned-v1' }, /format "tiermesh-learned-v1" is not supported/);
    bad(null, /malformed/);
    bad({ ...model(), heads: [] }, /malformed at heads/);
    bad(model({ structural: ['x'] }), /feature layout/);
    bad(model({ hashBits: 12 }), /12 hash bits/);
    bad(model({ heads: [{ name: 'h', dense: [0], bias: 0 }] }), /wrong number of dense weights/);
    bad(
      model({ heads: [{ name: 'h', hashed: encodeInt8(new Float32Array(8)), dense: zeros(), bias: 0 }] }),
      /8 entries, expected 65536/,
    );
    bad(model({ fallback: 'nope' }), /fallback head "nope"/);
    bad(model({ calibration: [0.5, 0.1] }), /not ascending/);
    const r = twoHeads();
    r.recogniser!.bias = [0];
    bad(r, /recogniser/);
  });
});

describe('codecs', () => {
  it('float32 round-trips exactly', () => {
    const a = Float32Array.from([0, -1.5, 3.25e-8, 1e30, Number.NEGATIVE_INFINITY]);
    expect(Array.from(decodeFloat32(encodeFloat32(a)))).toEqual(Array.from(a));
    expect(() => decodeFloat32('AAA=')).toThrow(/float32/);
  });

  it('int8 keeps every weight within half a step, the largest exactly, and checks the length', () => {
    const a = Float32Array.from([0.5, -0.25, 0.001, -0.5, 0.3]);
    const t = encodeInt8(a);
    const back = decodeInt8(t, a.length);
    for (let i = 0; i < a.length; i++)
      expect(Math.abs(back[i]! - a[i]!)).toBeLessThanOrEqual(t.scale / 2 + 1e-9);
    expect(back[0]).toBeCloseTo(0.5, 6);
    expect(() => decodeInt8(t, 4)).toThrow(/5 entries, expected 4/);
    expect(Array.from(decodeInt8(encodeInt8(new Float32Array(3)), 3))).toEqual([0, 0, 0]);
  });

  it('dense width matches the structural list', () => {
    expect(STRUCT_DIM).toBe(STRUCTURAL.length);
  });
});
