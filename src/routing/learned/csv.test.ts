import { describe, expect, it } from 'vitest';
import { parseCsv } from './csv.js';

describe('parseCsv', () => {
  it('reads quoted fields with commas, doubled quotes and newlines', () => {
    const text = 'prompt,a,b\n"What is 1,2?\nA. x\nB. ""y""",True,False\nplain,False,True\r\n';
    expect(parseCsv(text)).toEqual([
      ['prompt', 'a', 'b'],
      ['What is 1,2?\nA. x\nB. "y"', 'True', 'False'],
      ['plain', 'False', 'True'],
    ]);
  });

  it('keeps a last row without a trailing newline and empty fields', () => {
    expect(parseCsv('a,,c')).toEqual([['a', '', 'c']]);
  });
});
