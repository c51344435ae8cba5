/** Logistic regression over precomputed sparse + dense features, fitted by mini-batch Adam with L2. */
import { featurize, HASH_DIM, newBuffers, STRUCT_DIM } from '../../src/routing/learned/features.js';
import { mulberry32, shuffleInPlace } from './rng.js';

/** Features of many prompts packed into flat arrays (CSR layout). */
export interface Design {
  offsets: Int32Array;
  idx: Int32Array;
  val: Float32Array;
  dense: Float32Array;
  labels: Float32Array;
  n: number;
}

export function buildDesign(texts: readonly string[], labels: readonly number[]): Design {
  const b = newBuffers();
  const offsets = new Int32Array(texts.length + 1);
  const idxParts: Int32Array[] = [];
  const valParts: Float32Array[] = [];
  const dense = new Float32Array(texts.length * STRUCT_DIM);
  let total = 0;
  texts.forEach((t, i) => {
    const k = featurize(t, b);
    idxParts.push(b.idx.slice(0, k));
    valParts.push(b.val.slice(0, k));
    dense.set(b.dense, i * STRUCT_DIM);
    total += k;
    offsets[i + 1] = total;
  });
  const idx = new Int32Array(total);
  const val = new Float32Array(total);
  for (let i = 0; i < texts.length; i++) {
    idx.set(idxParts[i]!, offsets[i]!);
    val.set(valParts[i]!, offsets[i]!);
  }
  return { offsets, idx, val, dense, labels: Float32Array.from(labels), n: texts.length };
}

export interface Params {
  hashed: Float32Array;
  dense: Float64Array;
  bias: number;
}

export interface TrainOptions {
  seed: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  l2: number;
}

export function logit(p: Params, d: Design, i: number): number {
  let z = p.bias;
  for (let j = d.offsets[i]!; j < d.offsets[i + 1]!; j++) z += p.hashed[d.idx[j]!]! * d.val[j]!;
  for (let j = 0; j < STRUCT_DIM; j++) z += p.dense[j]! * d.dense[i * STRUCT_DIM + j]!;
  return z;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** Mean log loss of `p` on `d` (pure). */
export function logLoss(p: Params, d: Design): number {
  let s = 0;
  for (let i = 0; i < d.n; i++) {
    const q = Math.min(1 - 1e-7, Math.max(1e-7, sigmoid(logit(p, d, i))));
    const y = d.labels[i]!;
    s -= y * Math.log(q) + (1 - y) * Math.log(1 - q);
  }
  return s / d.n;
}

/**
 * Adam over all weights, L2 on the feature weights (not the bias). Hashed moments are updated only where
 * the batch touched a feature (lazy Adam), keeping an epoch linear in the data, not in the table size.
 */
export function train(d: Design, o: TrainOptions, onEpoch?: (epoch: number, p: Params) => void): Params {
  const p: Params = { hashed: new Float32Array(HASH_DIM), dense: new Float64Array(STRUCT_DIM), bias: 0 };
  const prior = d.labels.reduce((a, b) => a + b, 0) / Math.max(1, d.n);
  p.bias = Math.log(Math.max(1e-3, prior) / Math.max(1e-3, 1 - prior));
  const mH = new Float32Array(HASH_DIM);
  const vH = new Float32Array(HASH_DIM);
  const gH = new Float32Array(HASH_DIM);
  const touched = new Uint8Array(HASH_DIM);
  const list = new Int32Array(HASH_DIM);
  const mD = new Float64Array(STRUCT_DIM + 1);
  const vD = new Float64Array(STRUCT_DIM + 1);
  const gD = new Float64Array(STRUCT_DIM + 1);
  const b1 = 0.9;
  const b2 = 0.999;
  const eps = 1e-8;
  const rand = mulberry32(o.seed);
  const order = Array.from({ length: d.n }, (_, i) => i);
  let step = 0;
  for (let epoch = 1; epoch <= o.epochs; epoch++) {
    shuffleInPlace(order, rand);
    for (let start = 0; start < d.n; start += o.batchSize) {
      const end = Math.min(d.n, start + o.batchSize);
      const bs = end - start;
      let nt = 0;
      gD.fill(0);
      for (let r = start; r < end; r++) {
        const i = order[r]!;
        const err = (sigmoid(logit(p, d, i)) - d.labels[i]!) / bs;
        for (let j = d.offsets[i]!; j < d.offsets[i + 1]!; j++) {
          const f = d.idx[j]!;
          if (!touched[f]) {
            touched[f] = 1;
            list[nt++] = f;
            gH[f] = 0;
          }
          gH[f] = gH[f]! + err * d.val[j]!;
        }
        for (let j = 0; j < STRUCT_DIM; j++) gD[j] = gD[j]! + err * d.dense[i * STRUCT_DIM + j]!;
        gD[STRUCT_DIM] = gD[STRUCT_DIM]! + err;
      }
      step++;
      const c1 = 1 - b1 ** step;
      const c2 = 1 - b2 ** step;
      const lr = o.learningRate;
      for (let t = 0; t < nt; t++) {
        const f = list[t]!;
        touched[f] = 0;
        const g = gH[f]! + o.l2 * p.hashed[f]!;
        mH[f] = b1 * mH[f]! + (1 - b1) * g;
        vH[f] = b2 * vH[f]! + (1 - b2) * g * g;
        p.hashed[f] = p.hashed[f]! - (lr * (mH[f]! / c1)) / (Math.sqrt(vH[f]! / c2) + eps);
      }
      for (let j = 0; j <= STRUCT_DIM; j++) {
        const w = j < STRUCT_DIM ? p.dense[j]! : p.bias;
        const g = gD[j]! + (j < STRUCT_DIM ? o.l2 * w : 0);
        mD[j] = b1 * mD[j]! + (1 - b1) * g;
        vD[j] = b2 * vD[j]! + (1 - b2) * g * g;
        const next = w - (lr * (mD[j]! / c1)) / (Math.sqrt(vD[j]! / c2) + eps);
        if (j < STRUCT_DIM) p.dense[j] = next;
        else p.bias = next;
      }
    }
    onEpoch?.(epoch, p);
  }
  return p;
}

/** Area under the ROC curve (ties counted half), for validation reporting (pure). */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const idx = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let pos = 0;
  let neg = 0;
  let rankSum = 0;
  let i = 0;
  while (i < idx.length) {
    let j = i;
    while (j < idx.length && scores[idx[j]!] === scores[idx[i]!]) j++;
    const avgRank = (i + 1 + j) / 2;
    for (let t = i; t < j; t++) {
      if (labels[idx[t]!]! >= 0.5) {
        pos++;
        rankSum += avgRank;
      } else neg++;
    }
    i = j;
  }
  return pos === 0 || neg === 0 ? 0.5 : (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}
