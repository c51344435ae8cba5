import { describe, expect, it } from 'vitest';
import { newBuffers, STRUCTURAL } from './features.js';
import { canonicalPrompt, featurizePrompt } from './prompt.js';

describe('canonicalPrompt', () => {
  it('decodes a Python list-of-strings literal (RouterBench stores prompts so) and joins the elements', () => {
    expect(canonicalPrompt("['Write a function to add two numbers.']")).toBe(
      'Write a function to add two numbers.',
    );
    expect(canonicalPrompt(`['It\\'s a test\\nA) yes\\nB) no', "second \\"q\\""]`)).toBe(
      `It's a test\nA) yes\nB) no\nsecond "q"`,
    );
    expect(canonicalPrompt("['tab\\there \\x41 \\u00e9 back\\\\slash']")).toBe('tab\there A é back\\slash');
  });

  it('leaves everything else alone: plain text, JSON arrays, broken literals, trailing text', () => {
    for (const t of [
      '',
      'hello',
      '[1, 2, 3]',
      '["unterminated]',
      "['a'] and more",
      "['a' 'b']",
      '[]',
      "['a',]x",
    ])
      expect(canonicalPrompt(t)).toBe(t);
  });

  it('a decoded and an encoded prompt get the same features except the list-literal flag', () => {
    const flag = STRUCTURAL.indexOf('list-literal');
    const a = newBuffers();
    const b = newBuffers();
    const ka = featurizePrompt("['Which is larger?\\nA) 2\\nB) 3\\nAnswer:']", a);
    const kb = featurizePrompt('Which is larger?\nA) 2\nB) 3\nAnswer:', b);
    expect(ka).toBe(kb);
    expect(Array.from(a.idx.subarray(0, ka))).toEqual(Array.from(b.idx.subarray(0, kb)));
    expect(a.dense[flag]).toBe(1);
    expect(b.dense[flag]).toBe(0);
    for (let i = 0; i < STRUCTURAL.length; i++)
      if (i !== flag) expect(a.dense[i]).toBeCloseTo(b.dense[i]!, 9);
  });
});
