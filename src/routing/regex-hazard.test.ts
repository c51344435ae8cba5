import { describe, expect, it } from 'vitest';
import { regexHazard } from './regex-hazard.js';

describe('regexHazard', () => {
  it('refuses a repeated group that itself repeats, however it is written', () => {
    for (const p of [
      '(a+)+b',
      '(\\w+\\s?)*$',
      '(?:x*y)+',
      '((a+))+',
      '((a+)?)+',
      '(a*){2,}',
      '(?<word>\\w+)+',
      '^(\\d+\\.)+$',
    ])
      expect(regexHazard(p), p).toMatch(/exponential/);
  });

  it('lets through repetition that does not nest, and quantifier characters that are literal', () => {
    for (const p of [
      '\\b(def|class|import)\\b',
      'step[- ]by[- ]step',
      '(prove|derive)\\s+\\w+',
      '[a+*]+',
      '\\(a+\\)+',
      '(ab)+c',
      '(a+)b+',
      '(a+)?',
      '(a+){1}',
      'x{2}(y+)',
      '[\\]+]+',
    ])
      expect(regexHazard(p), p).toBeUndefined();
  });
});
