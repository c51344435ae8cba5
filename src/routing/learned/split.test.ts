import { describe, expect, it } from 'vitest';
import { CALIBRATION_SHARE, fnv1a, partOf, RANDOM_HELDOUT_SHARE, unitHash } from './split.js';

describe('split', () => {
  it('is deterministic and roughly proportional', () => {
    const counts = { train: 0, calibration: 0, heldout: 0, 'heldout-group': 0 };
    for (let i = 0; i < 20_000; i++) counts[partOf('src', `prompt number ${i}`)]++;
    expect(partOf('src', 'prompt number 7')).toBe(partOf('src', 'prompt number 7'));
    expect(counts['heldout-group']).toBe(0);
    expect(counts.heldout / 20_000).toBeCloseTo(RANDOM_HELDOUT_SHARE, 1);
    expect(counts.calibration / 20_000).toBeCloseTo(CALIBRATION_SHARE, 1);
  });

  it('holds a whole group out, whatever the prompt', () => {
    const groups = Array.from({ length: 200 }, (_, i) => `subject_${i}`);
    const held = groups.filter((g) => partOf('mmlu', 'x', g) === 'heldout-group');
    expect(held.length).toBeGreaterThan(30);
    expect(held.length).toBeLessThan(90);
    for (const g of held) expect(partOf('mmlu', `another prompt of ${g}`, g)).toBe('heldout-group');
  });

  it('hashes are stable across releases (the split must not move under the shipped weights)', () => {
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c);
    const u = unitHash('hello', 'seed');
    expect(u).toBeGreaterThanOrEqual(0);
    expect(u).toBeLessThan(1);
  });
});
