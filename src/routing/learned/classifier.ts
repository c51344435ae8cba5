/** Scoring with a learned weights file: P(the cheap tier fails) for a prompt, in microseconds, plus threshold calibration. */
import { decodeFloat32 } from './codec.js';
import { HASH_BITS, hashedLogit, newBuffers, STRUCT_DIM, STRUCTURAL } from './features.js';
import { type WeightsFile, weightsFile } from './weights-file.js';

export interface LearnedClassifier {
  /** Probability in (0, 1) that the cheap tier answers unacceptably, i.e. the prompt's difficulty. */
  score(text: string): number;
  /** The score above which `premiumShare` of calibration traffic falls (0 => never premium, 1 => always). */
  thresholdForShare(premiumShare: number): number;
  /** Share of calibration traffic scoring at or above `threshold`: the premium share a threshold implies. */
  shareAbove(threshold: number): number;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** Threshold for a target share, by linear interpolation in the calibration quantiles (pure). */
export function thresholdFromQuantiles(q: readonly number[], premiumShare: number): number {
  const share = Math.min(1, Math.max(0, premiumShare));
  if (share >= 1) return 0;
  if (share <= 0) return 1;
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
  const i = lo;
  const span = q[i + 1]! - q[i]!;
  const frac = span > 0 ? (threshold - q[i]!) / span : 1;
  return 1 - (i + frac) / (q.length - 1);
}

/** Builds a classifier from a parsed weights file (also used by the trainer to evaluate fresh weights). */
export function classifierFromWeights(file: WeightsFile): LearnedClassifier {
  const w = weightsFile.parse(file);
  if (w.hashBits !== HASH_BITS || w.dense.length !== STRUCT_DIM || w.structural.join() !== STRUCTURAL.join())
    throw new Error('weights.json was trained with a different feature layout; retrain it');
  const hashed = decodeFloat32(w.hashed);
  if (hashed.length !== 1 << HASH_BITS) throw new Error('weights.json: hashed weights have the wrong length');
  const dense = Float64Array.from(w.dense);
  const bias = w.bias;
  const q = w.calibration;
  // One buffer per classifier: scoring is synchronous, so it is never shared by two calls at once.
  const buf = newBuffers();
  return {
    score(text: string): number {
      let z = bias + hashedLogit(text, buf, hashed);
      const d = buf.dense;
      for (let i = 0; i < STRUCT_DIM; i++) z += dense[i]! * d[i]!;
      return sigmoid(z);
    },
    thresholdForShare: (share) => thresholdFromQuantiles(q, share),
    shareAbove: (t) => shareFromQuantiles(q, t),
  };
}
