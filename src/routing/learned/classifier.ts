/**
 * Scoring with a learned model file: the strong model's expected quality gain for a prompt, in microseconds.
 *
 * One pass featurises the prompt (hashed n-grams + structure); the recogniser's class scores pick the head of
 * the source the prompt looks like (or the fallback head when it looks like none); that head's linear score is
 * the predicted gain. Heads were fitted on different weak/strong pairs but all predict gain in quality units, so
 * scores stay comparable across them.
 */
import { decodeInt8Raw } from './codec.js';
import { EMB_DIM, type Embedder, loadEmbedder } from './embedding.js';
import { newBuffers, STRUCT_DIM, STRUCTURAL } from './features.js';
import { canonicalPrompt, featurizePrompt } from './prompt.js';
import { MODEL_FORMAT, type ModelFile, modelFile } from './weights-file.js';

export interface LearnedClassifier {
  /** Predicted quality gain of the strong model over the cheap one (higher = more worth a premium model). */
  score(text: string): number;
  /** Name of the head that scores `text` (the recognised source, or the fallback). */
  headOf(text: string): string;
  /** The score above which `premiumShare` of calibration traffic falls (0 share => +inf-like top, 1 => bottom). */
  thresholdForShare(premiumShare: number): number;
  /** Share of calibration traffic scoring at or above `threshold`. */
  shareAbove(threshold: number): number;
  /** Heads, for reports. */
  readonly heads: readonly string[];
  /** Bytes of weight tables held in memory. */
  readonly tableBytes: number;
}

/** Threshold for a target share, by linear interpolation in the calibration quantiles (pure). */
export function thresholdFromQuantiles(q: readonly number[], premiumShare: number): number {
  const share = Math.min(1, Math.max(0, premiumShare));
  if (share >= 1) return q[0]!;
  if (share <= 0) return q[q.length - 1]! + 1;
  const pos = (1 - share) * (q.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(q.length - 1, lo + 1);
  return q[lo]! + (q[hi]! - q[lo]!) * (pos - lo);
}

/** Inverse of thresholdFromQuantiles (pure). */
export function shareFromQuantiles(q: readonly number[], threshold: number): number {
  if (threshold <= q[0]!) return 1;
  if (threshold > q[q.length - 1]!) return 0;
  // Binary search for the last quantile below the threshold: this runs once per routed request.
  let lo = 0;
  let hi = q.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (q[mid]! < threshold) lo = mid;
    else hi = mid;
  }
  const span = q[lo + 1]! - q[lo]!;
  const frac = span > 0 ? (threshold - q[lo]!) / span : 1;
  return 1 - (lo + frac) / (q.length - 1);
}

/** A model file that cannot be used: the message says why (never quoting prompt text; there is none in it). */
export class ModelFileError extends Error {}

interface CompiledHead {
  name: string;
  /** Int8 weights; the weight is value * scale (kept as int8: a quarter of the memory, and cache-friendlier). */
  hashed: Int8Array | null;
  scale: number;
  dense: Float64Array;
  /** Weights on the static sentence embedding, or null: most heads never tokenise the prompt. */
  emb: Float64Array | null;
  bias: number;
}

/**
 * Validates a parsed model file (shape, layout, table sizes) and builds its scorer. Throws ModelFileError.
 * `embedder` is the static embedding table for heads that read one (default: the shipped table).
 */
export function classifierFromModel(input: unknown, embedder?: Embedder): LearnedClassifier {
  const parsed = modelFile.safeParse(input);
  if (!parsed.success) {
    const fmt = (input as { format?: unknown } | null)?.format;
    if (typeof fmt === 'string' && fmt !== MODEL_FORMAT)
      throw new ModelFileError(
        `model format "${fmt}" is not supported (expected ${MODEL_FORMAT}); retrain it`,
      );
    const issue = parsed.error.issues[0];
    throw new ModelFileError(
      `model file is malformed at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
    );
  }
  const m: ModelFile = parsed.data;
  if (m.structural.join() !== STRUCTURAL.join())
    throw new ModelFileError('model was trained with a different feature layout; retrain it');
  const dim = 1 << m.hashBits;
  const featureDim = 1 << 16;
  if (dim !== featureDim)
    throw new ModelFileError(`model uses ${m.hashBits} hash bits, this build hashes into 16`);
  const heads: CompiledHead[] = m.heads.map((h) => {
    if (h.dense.length !== STRUCT_DIM)
      throw new ModelFileError(`head "${h.name}": wrong number of dense weights`);
    let hashed: Int8Array | null = null;
    try {
      if (h.hashed) hashed = decodeInt8Raw(h.hashed, dim);
    } catch (e) {
      throw new ModelFileError(`head "${h.name}": ${(e as Error).message}`);
    }
    if (h.embedding && h.embedding.length !== EMB_DIM)
      throw new ModelFileError(`head "${h.name}": wrong number of embedding weights`);
    return {
      name: h.name,
      hashed,
      scale: h.hashed?.scale ?? 0,
      dense: Float64Array.from(h.dense),
      emb: h.embedding ? Float64Array.from(h.embedding) : null,
      bias: h.bias,
    };
  });
  const emb = heads.some((h) => h.emb) ? (embedder ?? loadEmbedder()) : null;
  const ebuf = new Float64Array(EMB_DIM);
  const byName = new Map(heads.map((h, i) => [h.name, i]));
  const fallback = m.fallback === undefined ? 0 : byName.get(m.fallback);
  if (fallback === undefined)
    throw new ModelFileError(`fallback head "${m.fallback}" is not one of the heads`);
  const r = m.recogniser;
  const K = r?.classes.length ?? 0;
  let rHashed: Int8Array | null = null;
  const rScale = r?.hashed.scale ?? 0;
  const rWordsOnly = r?.wordsOnly === true;
  let rDense: Float64Array | null = null;
  let rBias: Float64Array | null = null;
  const classHead = new Int32Array(K);
  if (r) {
    if (r.dense.length !== K || r.bias.length !== K || r.dense.some((d) => d.length !== STRUCT_DIM))
      throw new ModelFileError('recogniser: dense weights or biases do not match its classes');
    try {
      rHashed = decodeInt8Raw(r.hashed, dim * K);
    } catch (e) {
      throw new ModelFileError(`recogniser: ${(e as Error).message}`);
    }
    rDense = Float64Array.from(r.dense.flat());
    rBias = Float64Array.from(r.bias);
    r.classes.forEach((c, i) => {
      classHead[i] = byName.get(c) ?? fallback;
    });
  }
  const minScore = r?.minScore ?? Number.NEGATIVE_INFINITY;
  const q = m.calibration;
  for (let i = 1; i < q.length; i++)
    if (!(q[i]! >= q[i - 1]!)) throw new ModelFileError('calibration quantiles are not ascending');
  // Buffers owned by this classifier: scoring is synchronous, so two calls never share them at once.
  const buf = newBuffers();
  const cls = new Float64Array(Math.max(1, K));

  const headScore = (h: CompiledHead, k: number): number => {
    let z = h.bias;
    if (h.emb && emb) {
      emb.embed(lastText, ebuf);
      for (let d = 0; d < EMB_DIM; d++) z += h.emb[d]! * ebuf[d]!;
    }
    const { idx, val, dense } = buf;
    if (h.hashed) {
      let s = 0;
      for (let j = 0; j < k; j++) s += h.hashed[idx[j]!]! * val[j]!;
      z += s * h.scale;
    }
    for (let d = 0; d < STRUCT_DIM; d++) z += h.dense[d]! * dense[d]!;
    return z;
  };
  // How many hashed entries the last featurize() wrote: the head reads the same buffers.
  let lastK = 0;
  // ... and the canonical text it featurised, for a head that also embeds it.
  let lastText = '';
  /** Featurises `text` into buf and returns the index of the head that scores it. */
  const pickK = (text: string): number => {
    lastText = canonicalPrompt(text);
    lastK = featurizePrompt(text, buf, lastText);
    if (!rHashed || !rDense || !rBias) return fallback;
    cls.fill(0);
    const { idx, val, dense } = buf;
    const end = rWordsOnly ? buf.wordEntries : lastK;
    for (let j = 0; j < end; j++) {
      const base = idx[j]! * K;
      const v = val[j]!;
      for (let c = 0; c < K; c++) cls[c] = cls[c]! + rHashed[base + c]! * v;
    }
    let best = 0;
    for (let c = 0; c < K; c++) {
      let z = rBias[c]! + cls[c]! * rScale;
      for (let d = 0; d < STRUCT_DIM; d++) z += rDense[c * STRUCT_DIM + d]! * dense[d]!;
      cls[c] = z;
      if (z > cls[best]!) best = c;
    }
    return cls[best]! < minScore ? fallback : classHead[best]!;
  };
  return {
    heads: heads.map((h) => h.name),
    tableBytes:
      heads.reduce((a, h) => a + (h.hashed?.byteLength ?? 0), 0) +
      (rHashed?.byteLength ?? 0) +
      (emb?.tableBytes ?? 0),
    score(text: string): number {
      const h = pickK(text);
      return headScore(heads[h]!, lastK);
    },
    headOf: (text) => heads[pickK(text)]!.name,
    thresholdForShare: (share) => thresholdFromQuantiles(q, share),
    shareAbove: (t) => shareFromQuantiles(q, t),
  };
}
