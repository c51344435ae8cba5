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

  it('a group where the strong model is worse is a fold that is not scored and does not steer the choice', () => {
    // Five groups, one per fold. In g4 the strong model still wins on the invoice prompts but loses on the others,
    // worse on average. Dividing by that negative span scored the word heads -0.20 on g4 (0.83 on the other folds),
    // and that one fold's spread kept the selection on the constant head.
    const xs = outcomes(250, 5).map((o) =>
      o.group === 'g4' ? { ...o, strong: o.prompt.includes('invoice') ? 1 : 0 } : o,
    );
    const r = trainOnOutcomes(xs);
    expect(r.foldsBy).toBe('group');
    expect(r.folds).toBe(5);
    expect(r.noGainFolds).toBe(1);
    for (const v of r.validation) expect(v.folds).toHaveLength(4);
    // The word that carries the gain is found, and its folds are the four measured ones (no inverted g4 figure).
    expect(r.chosen).toMatch(/^(ngrams|embedding)/);
    for (const f of r.validation[0]!.folds) expect(f).toBeGreaterThan(0.6);
    expect(r.ranks).toBe(true);
  });

  it('refuses outcomes where the strong model is not better overall: there is no gain to learn', () => {
    const xs = outcomes(150, 2).map((o) => ({ ...o, weak: o.strong }));
    expect(() => trainOnOutcomes(xs)).toThrow(OutcomesError);
    expect(() => trainOnOutcomes(xs)).toThrow(
      /^no gain to recover: the strong model is not better than the weak one/,
    );
  });

  it('says when the model does not rank prompts (no setting beats the constant one)', () => {
    // The strong model gains the same on every prompt: no ranking recovers more than another, so nothing beats constant.
    const xs = outcomes(150, 2).map((o) => ({ ...o, weak: 0.2, strong: 0.9 }));
    const r = trainOnOutcomes(xs);
    expect(r.chosen).toBe('constant');
    expect(r.ranks).toBe(false);
    const c = classifierFromModel(JSON.parse(JSON.stringify(r.file)));
    expect(c.score('please review the invoice')).toBe(
      c.score('a different and much longer prompt about the weather'),
    );
    expect(trainOnOutcomes(outcomes(150, 2)).ranks).toBe(true);
  });

  it('holds out whole groups once there are enough of them; refuses too few outcomes', () => {
    expect(trainOnOutcomes(outcomes(200, 8)).foldsBy).toBe('group');
    expect(() => trainOnOutcomes(outcomes(MIN_TRAIN_OUTCOMES - 1, 2))).toThrow(OutcomesError);
  });
});
