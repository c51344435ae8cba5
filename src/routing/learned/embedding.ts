/**
 * Static sentence embeddings: the SIF-weighted mean of per-token vectors, L2-normalised. The table is a
 * Model2Vec-style distillation of all-MiniLM-L6-v2 (scripts/train/distill-embeddings.py: every vocabulary token
 * through the encoder alone, PCA to a few components), each row pre-multiplied by its token's SIF weight
 * (a / (a + p(token)) on the training pool: frequent words count little) and stored as int8 with a scale per row.
 * A prompt costs one WordPiece pass and EMB_DIM multiply-adds per token; no network, no model runtime.
 *
 *   loadEmbedder(): the shipped table (embeddings.json), parsed once
 *   embedderFromFile(file): validates a table file (throws EmbeddingFileError)
 *   embedder.embed(text, out): writes the EMB_DIM-vector of `text` into `out`
 */
import { z } from 'zod';
import { decodeFloat32, decodeInt8Raw, encodeFloat32, encodeInt8Raw } from './codec.js';
import shippedFile from './embeddings.json' with { type: 'json' };
import { type Vocab, vocabFromLines, wordPieceIds } from './wordpiece.js';

export const EMBEDDING_FORMAT = 'tiermesh-static-embeddings-v1';
/** Components kept by the distillation's PCA (chosen by cross-validation: docs/classifier.md). */
export const EMB_DIM = 16;
/** Characters of a prompt that are embedded (its head; the tail rarely changes a mean of hundreds of tokens). */
export const EMBED_CHARS = 512;
const MAX_TOKENS = 1024;

export const embeddingFile = z.object({
  format: z.literal(EMBEDDING_FORMAT),
  /** Where the vectors come from and under which licence (documentation). */
  source: z.string(),
  dims: z.literal(EMB_DIM),
  /** WordPiece vocabulary, one token per line, in id order. */
  vocab: z.string(),
  /** vocab x dims int8, row-major, base64. */
  table: z.string(),
  /** One float32 scale per row, base64. */
  scales: z.string(),
});
export type EmbeddingFile = z.infer<typeof embeddingFile>;

export class EmbeddingFileError extends Error {}

export interface Embedder {
  readonly vocab: Vocab;
  readonly size: number;
  /** Bytes of the int8 table and its scales. */
  readonly tableBytes: number;
  embed(text: string, out: Float64Array): void;
}

export function embedderFromFile(input: unknown): Embedder {
  const parsed = embeddingFile.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new EmbeddingFileError(
      `embedding table is malformed at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
    );
  }
  const f = parsed.data;
  const lines = f.vocab.split('\n');
  let table: Int8Array;
  let scales: Float32Array;
  try {
    table = decodeInt8Raw({ q: f.table }, lines.length * EMB_DIM);
    scales = decodeFloat32(f.scales);
  } catch (e) {
    throw new EmbeddingFileError(`embedding table: ${(e as Error).message}`);
  }
  if (scales.length !== lines.length)
    throw new EmbeddingFileError('embedding table: one scale per vocabulary token expected');
  let vocab: Vocab;
  try {
    vocab = vocabFromLines(lines);
  } catch (e) {
    throw new EmbeddingFileError(`embedding table: ${(e as Error).message}`);
  }
  return fromTable(vocab, table, scales);
}

/** An embedder over an in-memory table (training builds one before it writes the file). */
export function fromTable(vocab: Vocab, table: Int8Array, scales: Float32Array): Embedder {
  const ids = new Int32Array(MAX_TOKENS);
  return {
    vocab,
    size: scales.length,
    tableBytes: table.byteLength + scales.byteLength,
    embed(text, out) {
      out.fill(0);
      const n = wordPieceIds(vocab, text.length > EMBED_CHARS ? text.slice(0, EMBED_CHARS) : text, ids);
      for (let k = 0; k < n; k++) {
        const t = ids[k]!;
        const s = scales[t]!;
        const o = t * EMB_DIM;
        for (let j = 0; j < EMB_DIM; j++) out[j] = out[j]! + s * table[o + j]!;
      }
      // The SIF mean's denominator cancels in the normalisation, so the sum is normalised directly.
      let norm = 0;
      for (let j = 0; j < EMB_DIM; j++) norm += out[j]! * out[j]!;
      if (norm > 0) {
        const inv = 1 / Math.sqrt(norm);
        for (let j = 0; j < EMB_DIM; j++) out[j] = out[j]! * inv;
      }
    },
  };
}

/** Int8 rows with one scale each (max |value| / 127): the table as shipped. */
export function quantiseRows(rows: Float64Array, dims: number): { table: Int8Array; scales: Float32Array } {
  const n = rows.length / dims;
  const table = new Int8Array(rows.length);
  const scales = new Float32Array(n);
  for (let r = 0; r < n; r++) {
    let max = 0;
    for (let j = 0; j < dims; j++) max = Math.max(max, Math.abs(rows[r * dims + j]!));
    const s = max > 0 ? max / 127 : 0;
    scales[r] = s;
    for (let j = 0; j < dims; j++) table[r * dims + j] = s > 0 ? Math.round(rows[r * dims + j]! / s) : 0;
  }
  return { table, scales };
}

export function toEmbeddingFile(
  vocab: readonly string[],
  table: Int8Array,
  scales: Float32Array,
  source: string,
): EmbeddingFile {
  return {
    format: EMBEDDING_FORMAT,
    source,
    dims: EMB_DIM,
    vocab: vocab.join('\n'),
    table: encodeInt8Raw(table),
    scales: encodeFloat32(scales),
  };
}

let shipped: Embedder | undefined;

/** The shipped table (embeddings.json), decoded on first use: only models with embedding heads need it. */
export function loadEmbedder(): Embedder {
  shipped ??= embedderFromFile(shippedFile);
  return shipped;
}
