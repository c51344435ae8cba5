/** Features of many prompts packed into flat arrays (CSR layout for the hashed part), for training. */
import { EMB_DIM, type Embedder } from './embedding.js';
import { newBuffers, STRUCT_DIM } from './features.js';
import { canonicalPrompt, featurizePrompt } from './prompt.js';

export interface Design {
  offsets: Int32Array;
  /** Per row, where its character 4-grams start (its word unigrams and bigrams are offsets[i]..wordEnd[i]). */
  wordEnd: Int32Array;
  idx: Int32Array;
  val: Float32Array;
  /** n x STRUCT_DIM, row-major. */
  dense: Float32Array;
  /** n x EMB_DIM static sentence embeddings, row-major; null when the design was built without an embedder. */
  emb: Float32Array | null;
  n: number;
}

export function buildDesign(texts: readonly string[], embedder?: Embedder): Design {
  const b = newBuffers();
  const offsets = new Int32Array(texts.length + 1);
  const wordEnd = new Int32Array(texts.length);
  const idxParts: Int32Array[] = [];
  const valParts: Float32Array[] = [];
  const dense = new Float32Array(texts.length * STRUCT_DIM);
  const emb = embedder ? new Float32Array(texts.length * EMB_DIM) : null;
  const e = new Float64Array(EMB_DIM);
  let total = 0;
  texts.forEach((t, i) => {
    const c = canonicalPrompt(t);
    const k = featurizePrompt(t, b, c);
    idxParts.push(b.idx.slice(0, k));
    valParts.push(b.val.slice(0, k));
    dense.set(b.dense, i * STRUCT_DIM);
    if (embedder && emb) {
      embedder.embed(c, e);
      emb.set(e, i * EMB_DIM);
    }
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
  return { offsets, wordEnd, idx, val, dense, emb, n: texts.length };
}
