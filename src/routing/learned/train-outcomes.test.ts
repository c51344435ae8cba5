import { describe, expect, it } from 'vitest';
import { classifierFromModel } from './classifier.js';
import { OutcomesError } from './outcomes.js';
import { MIN_TRAIN_OUTCOMES, outcomeFoldKey, trainOnOutcomes } from './train-outcomes.js';

/** The strong model helps exactly when the prompt says "invoice" (same length and shape otherwise): only words carry it. */
const outcomes = (n: number, groups: number) =>
  Array.from({ length: n }, (_, i) => {
    const hard = i % 3 === 0;
    return {
      prompt: `${hard ? 'please review the invoice' : 'please review the weather'} please, request ${i} ${'x'.repeat(i % 5)}`,
      weak: hard ? 0 : 1,
      strong: 1,
      group: `g${i % groups}`,
    };
  });

describe('trainOnOutcomes', () => {
  it('chooses a head that reads words (embedding or n-grams) when a word carries the gain, and the written model ranks by it', () => {
    const r = trainOnOutcomes(outcomes(240, 2));
    expect(r.foldsBy).toBe('prompt');
    expect(r.chosen).toMatch(/^(ngrams|embedding)/);
    const c = classifierFromModel(JSON.parse(JSON.stringify(r.file)));
    expect(c.score('please review the invoice please, request 1000 x')).toBeGreaterThan(
      c.score('please review the weather please, request 1000 x'),
    );
    expect(r.validation[0]!.setting).toBe(r.chosen);
    expect(r.validation.map((v) => v.setting)).toContain('length');
    // The length-prior structure heads are in the grid and named apart from plain structure.
    expect(r.validation.map((v) => v.setting)).toContain('structure (L2 3000, length prior 0.5)');
    expect(r.validation.map((v) => v.setting)).toContain('embedding (L2 300, length prior 0.25)');
  });

  it('keys folds by prompt text alone, so a prompt logged twice is in one fold', () => {
    const a = { prompt: 'same words', weak: 0, strong: 1 };
    const b = { prompt: 'same words', weak: 1, strong: 1 };
    expect(outcomeFoldKey(a, 'prompt')).toBe(outcomeFoldKey(b, 'prompt'));
    expect(outcomeFoldKey(a, 'prompt')).not.toBe(outcomeFoldKey({ ...a, prompt: 'other words' }, 'prompt'));
    expect(outcomeFoldKey({ ...a, group: 'g1' }, 'group')).toBe('g:g1');
  });

  it('holds out whole groups once there are enough of them; refuses too few outcomes', () => {
    expect(trainOnOutcomes(outcomes(200, 8)).foldsBy).toBe('group');
    expect(() => trainOnOutcomes(outcomes(MIN_TRAIN_OUTCOMES - 1, 2))).toThrow(OutcomesError);
  });
});
