import { describe, expect, it } from 'vitest';
import { classifierFromWeights, shareFromQuantiles, thresholdFromQuantiles } from './classifier.js';
import { decodeFloat32, encodeFloat32 } from './codec.js';
import { HASH_DIM, STRUCTURAL } from './features.js';
import type { WeightsFile } from './weights-file.js';

const q = Array.from({ length: 101 }, (_, i) => i / 100); // uniform scores on [0, 1]

function file(over: Partial<WeightsFile> = {}): WeightsFile {
  return {
    format: 'tiermesh-learned-v1',
    hashBits: Math.log2(HASH_DIM),
    structural: [...STRUCTURAL],
    hashed: encodeFloat32(new Float32Array(HASH_DIM)),
    dense: STRUCTURAL.map(() => 0),
    bias: 0,
    calibration: q,
    training: {},
    ...over,
  };
}

describe('calibration quantiles', () => {
  it('maps a premium share to the score above which that share falls, and back', () => {
    expect(thresholdFromQuantiles(q, 0.3)).toBeCloseTo(0.7, 9);
    expect(thresholdFromQuantiles(q, 0)).toBe(1);
    expect(thresholdFromQuantiles(q, 1)).toBe(0);
    for (const s of [0.05, 0.25, 0.5, 0.9])
      expect(shareFromQuantiles(q, thresholdFromQuantiles(q, s))).toBeCloseTo(s, 9);
    const skewed = [0.01, 0.02, 0.05, 0.1, 0.6];
    expect(thresholdFromQuantiles(skewed, 0.5)).toBeCloseTo(0.05, 9);
    expect(shareFromQuantiles(skewed, 0.9)).toBe(0);
  });
});

describe('classifierFromWeights', () => {
  it('scores with bias and weights: zero weights give sigmoid(bias)', () => {
    expect(classifierFromWeights(file()).score('anything')).toBeCloseTo(0.5, 9);
    expect(classifierFromWeights(file({ bias: Math.log(3) })).score('x')).toBeCloseTo(0.75, 6);
  });

  it('a positive weight on a structural feature raises the score of prompts that have it', () => {
    const dense = STRUCTURAL.map((n) => (n === 'code-markers' ? 3 : 0));
    const c = classifierFromWeights(file({ dense }));
    expect(c.score('```\nint main() { return 0; }\n```')).toBeGreaterThan(c.score('good morning'));
  });

  it('refuses weights trained with another feature layout', () => {
    expect(() => classifierFromWeights(file({ hashBits: 12 }))).toThrow(/feature layout/);
    expect(() => classifierFromWeights(file({ structural: ['x'], dense: [0] }))).toThrow(/feature layout/);
    expect(() => classifierFromWeights(file({ hashed: encodeFloat32(new Float32Array(8)) }))).toThrow(
      /wrong length/,
    );
  });

  it('codec round-trips float32 exactly', () => {
    const a = Float32Array.from([0, -1.5, 3.25e-8, 1e30, Number.NEGATIVE_INFINITY]);
    expect(Array.from(decodeFloat32(encodeFloat32(a)))).toEqual(Array.from(a));
    expect(() => decodeFloat32('AAA=')).toThrow(/float32/);
  });
});
