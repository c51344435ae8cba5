/**
 * Ridge regression over hashed + dense features, solved exactly by conjugate gradients on the normal equations
 * (X'X + L) w = X'y. Deterministic (no sampling), so the same data gives the same bytes. Dense features are
 * standardised on the fitted rows and the weights folded back to the raw scale; the bias is not penalised.
 *
 *   fitRidge(design, rows, y, options): LinearModel
 *   predict(model, design, row): number
 */
import type { Design } from './design.js';
import { EMB_DIM } from './embedding.js';
import { HASH_DIM, STRUCT_DIM } from './features.js';

export interface RidgeOptions {
  /** L2 on hashed weights; `undefined` means the model uses no hashed features at all. */
  lambdaHashed?: number | undefined;
  /** L2 on standardised dense weights. */
  lambdaDense: number;
  /** Dense features used (indices into STRUCTURAL); default all. */
  denseMask?: readonly boolean[] | undefined;
  /** Per-row weights (e.g. to balance sources); default 1. */
  weights?: Float64Array | undefined;
  /** Also fit weights on the design's static sentence embeddings (the design must have them). */
  embedding?: boolean | undefined;
  /** Hashed features from word unigrams and bigrams only (no character 4-grams): a third of the work to score. */
  wordsOnly?: boolean | undefined;
  /**
   * Hashed buckets present in fewer of the fitted prompts get no weight (a document-frequency floor): a word seen
   * once says more about that one prompt's label than about the next prompt's.
   */
  minCount?: number | undefined;
  maxIter?: number;
  tol?: number;
}

export interface LinearModel {
  hashed: Float32Array | null;
  /** The hashed weights cover word n-grams only (see RidgeOptions.wordsOnly). */
  wordsOnly?: boolean | undefined;
  /** On the raw feature scale. */
  dense: Float64Array;
  /** Weights on the static sentence embedding (EMB_DIM), absent for a model that does not read it. */
  emb?: Float64Array | undefined;
  bias: number;
}

export function predict(m: LinearModel, d: Design, row: number): number {
  let z = m.bias;
  const end = m.wordsOnly ? d.wordEnd[row]! : d.offsets[row + 1]!;
  if (m.hashed) for (let j = d.offsets[row]!; j < end; j++) z += m.hashed[d.idx[j]!]! * d.val[j]!;
  const o = row * STRUCT_DIM;
  for (let j = 0; j < STRUCT_DIM; j++) z += m.dense[j]! * d.dense[o + j]!;
  if (m.emb) {
    const e = row * EMB_DIM;
    for (let j = 0; j < EMB_DIM; j++) z += m.emb[j]! * d.emb![e + j]!;
  }
  return z;
}

export function fitRidge(
  d: Design,
  rows: ArrayLike<number>,
  y: ArrayLike<number>,
  o: RidgeOptions,
): LinearModel {
  const n = rows.length;
  const useH = o.lambdaHashed !== undefined;
  const H = useH ? HASH_DIM : 0;
  const S = STRUCT_DIM;
  const E = o.embedding ? EMB_DIM : 0;
  if (E && !d.emb) throw new Error('ridge: embedding features asked of a design built without an embedder');
  const D = S + E;
  const P = H + D + 1;
  // The fitted rows' dense columns (structure, then embedding), row-major in fitting order.
  const X = new Float64Array(n * D);
  for (let r = 0; r < n; r++) {
    const row = rows[r]!;
    for (let j = 0; j < S; j++) X[r * D + j] = d.dense[row * S + j]!;
    for (let j = 0; j < E; j++) X[r * D + S + j] = d.emb![row * EMB_DIM + j]!;
  }
  const w = o.weights;
  const mask = o.denseMask;
  const end = (row: number) => (o.wordsOnly ? d.wordEnd[row]! : d.offsets[row + 1]!);
  // Standardise dense columns over the (weighted) fitted rows.
  const mu = new Float64Array(D);
  const sd = new Float64Array(D);
  let wsum = 0;
  for (let r = 0; r < n; r++) {
    const wr = w ? w[r]! : 1;
    wsum += wr;
    const off = r * D;
    for (let j = 0; j < D; j++) mu[j] = mu[j]! + wr * X[off + j]!;
  }
  for (let j = 0; j < D; j++) mu[j] = mu[j]! / Math.max(1e-12, wsum);
  for (let r = 0; r < n; r++) {
    const wr = w ? w[r]! : 1;
    const off = r * D;
    for (let j = 0; j < D; j++) sd[j] = sd[j]! + wr * (X[off + j]! - mu[j]!) ** 2;
  }
  const on = new Uint8Array(D);
  for (let j = 0; j < D; j++) {
    sd[j] = Math.sqrt(sd[j]! / Math.max(1e-12, wsum));
    // The mask covers structure; embedding columns are on whenever asked for.
    on[j] = (j >= S || (mask ? mask[j] : true)) && sd[j]! > 1e-9 ? 1 : 0;
    if (!on[j]) sd[j] = 1;
  }
  const hOn = useH && (o.minCount ?? 1) > 1 ? frequentBuckets(d, rows, end, o.minCount!) : null;
  const lam = new Float64Array(P);
  for (let j = 0; j < H; j++) lam[j] = o.lambdaHashed!;
  for (let j = 0; j < D; j++) lam[H + j] = on[j] ? o.lambdaDense : 0;
  lam[P - 1] = 1e-8;

  const xv = (theta: Float64Array, out: Float64Array) => {
    for (let r = 0; r < n; r++) {
      const row = rows[r]!;
      let z = theta[P - 1]!;
      if (useH)
        for (let j = d.offsets[row]!, e = end(row); j < e; j++)
          if (!hOn || hOn[d.idx[j]!]) z += theta[d.idx[j]!]! * d.val[j]!;
      const off = r * D;
      for (let j = 0; j < D; j++) if (on[j]) z += theta[H + j]! * ((X[off + j]! - mu[j]!) / sd[j]!);
      out[r] = z;
    }
  };
  const xtu = (u: Float64Array, out: Float64Array) => {
    out.fill(0);
    for (let r = 0; r < n; r++) {
      const row = rows[r]!;
      const ur = u[r]! * (w ? w[r]! : 1);
      if (ur === 0) continue;
      if (useH)
        for (let j = d.offsets[row]!, e = end(row); j < e; j++)
          if (!hOn || hOn[d.idx[j]!]) out[d.idx[j]!] = out[d.idx[j]!]! + ur * d.val[j]!;
      const off = r * D;
      for (let j = 0; j < D; j++)
        if (on[j]) out[H + j] = out[H + j]! + ur * ((X[off + j]! - mu[j]!) / sd[j]!);
      out[P - 1] = out[P - 1]! + ur;
    }
  };
  // A theta = X'WX theta + L theta (masked-off dense columns have zero rows: keep them at zero).
  const tmpN = new Float64Array(n);
  const apply = (theta: Float64Array, out: Float64Array) => {
    xv(theta, tmpN);
    xtu(tmpN, out);
    for (let j = 0; j < P; j++) out[j] = out[j]! + lam[j]! * theta[j]!;
  };
  const yv = new Float64Array(n);
  for (let r = 0; r < n; r++) yv[r] = y[r]!;
  const b = new Float64Array(P);
  xtu(yv, b);
  const theta = new Float64Array(P);
  const res = Float64Array.from(b);
  const p = Float64Array.from(res);
  const ap = new Float64Array(P);
  let rr = dot(res, res);
  const stop = (o.tol ?? 1e-6) ** 2 * rr;
  const maxIter = o.maxIter ?? 200;
  for (let it = 0; it < maxIter && rr > stop; it++) {
    apply(p, ap);
    const alpha = rr / dot(p, ap);
    for (let j = 0; j < P; j++) {
      theta[j] = theta[j]! + alpha * p[j]!;
      res[j] = res[j]! - alpha * ap[j]!;
    }
    const rr2 = dot(res, res);
    const beta = rr2 / rr;
    rr = rr2;
    for (let j = 0; j < P; j++) p[j] = res[j]! + beta * p[j]!;
  }
  const raw = new Float64Array(D);
  let bias = theta[P - 1]!;
  for (let j = 0; j < D; j++) {
    if (!on[j]) continue;
    raw[j] = theta[H + j]! / sd[j]!;
    bias -= (theta[H + j]! * mu[j]!) / sd[j]!;
  }
  return {
    hashed: useH ? Float32Array.from(theta.subarray(0, H)) : null,
    wordsOnly: o.wordsOnly,
    dense: raw.slice(0, S),
    emb: E ? raw.slice(S) : undefined,
    bias,
  };
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Which hashed buckets occur in at least `minCount` of the fitted prompts (each prompt counted once per bucket). */
function frequentBuckets(
  d: Design,
  rows: ArrayLike<number>,
  end: (row: number) => number,
  minCount: number,
): Uint8Array {
  const count = new Int32Array(HASH_DIM);
  const seenIn = new Int32Array(HASH_DIM).fill(-1);
  // Augmented training sets repeat a prompt's row once per cheap model: a repeat is the same prompt, not more evidence.
  for (const row of new Set(Array.from(rows))) {
    for (let j = d.offsets[row]!, e = end(row); j < e; j++) {
      const k = d.idx[j]!;
      if (seenIn[k] === row) continue;
      seenIn[k] = row;
      count[k] = count[k]! + 1;
    }
  }
  const on = new Uint8Array(HASH_DIM);
  for (let k = 0; k < HASH_DIM; k++) on[k] = count[k]! >= minCount ? 1 : 0;
  return on;
}
