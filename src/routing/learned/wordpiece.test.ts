import { describe, expect, it } from 'vitest';
import { loadEmbedder } from './embedding.js';
import { vocabFromLines, wordPieceIds } from './wordpiece.js';
import vectors from './wordpiece.vectors.json' with { type: 'json' };

// Expected ids come from Hugging Face `tokenizers` 0.23.3 with all-MiniLM-L6-v2's tokenizer.json (special tokens
// and padding off): accents, CJK, emoji, control and format characters, Unicode spaces, 100-character words.
describe('WordPiece tokenizer', () => {
  const { vocab } = loadEmbedder();
  const out = new Int32Array(4096);

  it.each(vectors.map((v) => [JSON.stringify(v.text).slice(0, 60), v] as const))(
    'matches the reference tokenizer: %s',
    (_, v) => {
      const n = wordPieceIds(vocab, v.text, out);
      expect(Array.from(out.subarray(0, n))).toEqual(v.ids);
    },
  );

  it('stops when the output buffer is full', () => {
    const small = new Int32Array(5);
    expect(wordPieceIds(vocab, 'one two three four five six seven eight', small)).toBe(5);
  });

  it('needs an [UNK] token in the vocabulary', () => {
    expect(() => vocabFromLines(['a', 'b'])).toThrow(/\[UNK\]/);
  });
});
