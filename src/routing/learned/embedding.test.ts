import { describe, expect, it } from 'vitest';
import {
  EMB_DIM,
  EmbeddingFileError,
  embedderFromFile,
  fromTable,
  loadEmbedder,
  quantiseRows,
  toEmbeddingFile,
} from './embedding.js';
import shipped from './embeddings.json' with { type: 'json' };
import { vocabFromLines } from './wordpiece.js';

describe('static embeddings', () => {
  it('ships a table for the whole vocabulary, under 1.2 MB, and embeds to unit vectors', () => {
    const e = loadEmbedder();
    expect(e.size).toBe(30522);
    expect(JSON.stringify(shipped).length).toBeLessThan(1_200_000);
    const v = new Float64Array(EMB_DIM);
    e.embed('Which of the following is a fat-soluble vitamin?', v);
    expect(Math.hypot(...v)).toBeCloseTo(1, 6);
    const w = new Float64Array(EMB_DIM);
    e.embed('Which of the following is a fat-soluble vitamin?', w);
    expect(Array.from(w)).toEqual(Array.from(v));
    e.embed('', w);
    expect(Array.from(w).every((x) => x === 0)).toBe(true);
  });

  it('places related prompts nearer each other than unrelated ones', () => {
    const e = loadEmbedder();
    const at = (t: string) => {
      const v = new Float64Array(EMB_DIM);
      e.embed(t, v);
      return v;
    };
    const cos = (a: Float64Array, b: Float64Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
    const heart = at('What are the symptoms of a heart attack in women?');
    const cardiac = at('How does a myocardial infarction present in female patients?');
    const code = at('Write a Python function that reverses a linked list.');
    expect(cos(heart, cardiac)).toBeGreaterThan(cos(heart, code));
  });

  it('round-trips through its file format, int8 rows within half a step', () => {
    const rows = Float64Array.from({ length: 3 * EMB_DIM }, (_, i) => Math.sin(i) * (1 + (i % 5)));
    const { table, scales } = quantiseRows(rows, EMB_DIM);
    for (let r = 0; r < 3; r++)
      for (let j = 0; j < EMB_DIM; j++)
        expect(Math.abs(table[r * EMB_DIM + j]! * scales[r]! - rows[r * EMB_DIM + j]!)).toBeLessThanOrEqual(
          scales[r]! / 2 + 1e-9,
        );
    const file = toEmbeddingFile(['[UNK]', 'a', 'b'], table, scales, 'test');
    const e = embedderFromFile(JSON.parse(JSON.stringify(file)));
    const direct = fromTable(vocabFromLines(['[UNK]', 'a', 'b']), table, scales);
    const x = new Float64Array(EMB_DIM);
    const y = new Float64Array(EMB_DIM);
    e.embed('a b a', x);
    direct.embed('a b a', y);
    expect(Array.from(x)).toEqual(Array.from(y));
  });

  it('refuses a malformed, truncated or mismatched table with a message naming the part', () => {
    const { table, scales } = quantiseRows(new Float64Array(2 * EMB_DIM).fill(0.5), EMB_DIM);
    const good = toEmbeddingFile(['[UNK]', 'a'], table, scales, 'test');
    expect(() => embedderFromFile({ ...good, dims: 8 })).toThrow(/malformed at dims/);
    expect(() => embedderFromFile({ ...good, format: 'other' })).toThrow(/malformed at format/);
    expect(() => embedderFromFile({ ...good, vocab: '[UNK]\na\nb' })).toThrow(EmbeddingFileError);
    expect(() => embedderFromFile({ ...good, table: good.table.slice(0, 8) })).toThrow(/int8 table/);
    expect(() => embedderFromFile({ ...good, vocab: 'x\ny' })).toThrow(/\[UNK\]/);
  });
});
