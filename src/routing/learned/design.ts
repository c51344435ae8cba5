/** Features of many prompts packed into flat arrays (CSR layout for the hashed part), for training. */
import { newBuffers, STRUCT_DIM } from './features.js';
import { featurizePrompt } from './prompt.js';

export interface Design {
  offsets: Int32Array;
  /** Per row, where its character 4-grams start (its word unigrams and bigrams are offsets[i]..wordEnd[i]). */
  wordEnd: Int32Array;
  idx: Int32Array;
  val: Float32Array;
  /** n x STRUCT_DIM, row-major. */
  dense: Float32Array;
  n: number;
}

export function buildDesign(texts: readonly string[]): Design {
  const b = newBuffers();
  const offsets = new Int32Array(texts.length + 1);
  const wordEnd = new Int32Array(texts.length);
  const idxParts: Int32Array[] = [];
  const valParts: Float32Array[] = [];
  const dense = new Float32Array(texts.length * STRUCT_DIM);
  let total = 0;
  texts.forEach((t, i) => {
    const k = featurizePrompt(t, b);
    idxParts.push(b.idx.slice(0, k));
    valParts.push(b.val.slice(0, k));
    dense.set(b.dense, i * STRUCT_DIM);
    wordEnd[i] = total + b.wordEntries;
    total += k;
    offsets[i + 1] = total;
  });
  const idx = new Int32Array(total);
  const val = new Float32Array(total);
  for (let i = 0; i < texts.length; i++) {
    idx.set(idxParts[i]!, offsets[i]!);
    val.set(valParts[i]!, offsets[i]!);
  }
  return { offsets, wordEnd, idx, val, dense, n: texts.length };
}
