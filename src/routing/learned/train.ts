/**
 * The training pipeline, shared by scripts/train-classifier.ts (the shipped model) and `tiermesh train` (a team's
 * own outcomes): ridge heads on the strong model's gain, a one-vs-rest ridge recogniser, int8 model file.
 *
 *   fitHead(design, rows, labels, spec): LinearModel
 *   fitRecogniser(design, rowsByClass, options): LinearModel[]
 *   recognise(models, design, row, minScore): class index or -1
 *   toModelFile(...): ModelFile
 */
import { encodeInt8 } from './codec.js';
import type { Design } from './design.js';
import { HASH_BITS, HASH_DIM, STRUCT_DIM, STRUCTURAL } from './features.js';
import { fitRidge, type LinearModel, predict } from './ridge.js';
import { MODEL_FORMAT, type ModelFile } from './weights-file.js';

/**
 * Which features a head reads: nothing (the source's mean gain: no ranking within it, the honest choice where no
 * feature validated), prompt length only (what transfers to unseen topics), all structure, the static sentence
 * embedding (what a prompt is about, in 16 numbers: it carries to unseen words and subjects), structure and the
 * embedding together, structure + n-grams, or n-grams alone (a source whose structure carries no signal, where the
 * structure weights only add noise to what the words say: RouterBench MBPP).
 */
export type FeatureSet =
  | 'constant'
  | 'length'
  | 'structure'
  | 'embedding'
  | 'structure+embedding'
  | 'ngrams'
  | 'ngrams-only';

export interface HeadSpec {
  name: string;
  features: FeatureSet;
  lambdaDense: number;
  /** L2 on the hashed weights (n-gram heads only). */
  lambdaHashed?: number | undefined;
  /** N-gram heads: buckets seen in fewer fitted prompts get no weight (RidgeOptions.minCount). */
  minCount?: number | undefined;
  /**
   * Structure and embedding heads: adds a fixed positive length direction, `lengthPrior` x the spread of the fitted scores per
   * standard deviation of log-length. Length is what transfers to unseen topics, but a fitted length weight can
   * flip sign from one set of subjects to the next; the prior keeps "longer = more gain" and lets structure refine it.
   */
  lengthPrior?: number | undefined;
  /** Trained on the gains of several cheap models against the strong one (RouterBench), not the pair's alone. */
  augmented?: boolean | undefined;
  /**
   * Also trained on these other sources' prompts (their own pairs' gains; augmented where they have several models):
   * a 700-prompt source borrows what a related, larger one knows. Scored on its own prompts only.
   */
  borrow?: readonly string[] | undefined;
  pair?: string | undefined;
}

/** The head reads hashed word / character n-grams (with structure or alone). */
export function isNgrams(f: FeatureSet): boolean {
  return f === 'ngrams' || f === 'ngrams-only';
}

const LENGTH_FEATURES = new Set(['log-chars']);
const LENGTH_MASK = STRUCTURAL.map((n) => LENGTH_FEATURES.has(n));
const NO_FEATURES = STRUCTURAL.map(() => false);

export function fitHead(
  d: Design,
  rows: readonly number[],
  labels: readonly number[],
  s: HeadSpec,
): LinearModel {
  const m = fitRidge(d, rows, labels, {
    lambdaDense: s.lambdaDense,
    lambdaHashed: isNgrams(s.features) ? (s.lambdaHashed ?? 10) : undefined,
    minCount: isNgrams(s.features) ? s.minCount : undefined,
    denseMask:
      s.features === 'length'
        ? LENGTH_MASK
        : s.features === 'constant' || s.features === 'embedding' || s.features === 'ngrams-only'
          ? NO_FEATURES
          : undefined,
    embedding: s.features === 'embedding' || s.features === 'structure+embedding',
    maxIter: 120,
    tol: 1e-4,
  });
  if (s.lengthPrior && s.features !== 'constant' && s.features !== 'length' && !isNgrams(s.features))
    addLengthPrior(m, d, rows, s.lengthPrior);
  return m;
}

/**
 * Moves `m` so that its mean score on `rows` is `level` (one bias shift: the ranking is unchanged). A head trained on
 * augmented labels or borrowed prompts ranks its source, but sits at another source's, or another pair's, level.
 */
export function levelHead(m: LinearModel, d: Design, rows: readonly number[], level: number): void {
  if (rows.length === 0) return;
  let mean = 0;
  for (const r of rows) mean += predict(m, d, r);
  m.bias += level - mean / rows.length;
}

const LOG_CHARS = STRUCTURAL.indexOf('log-chars');

/** Folds `beta` x (fitted-score spread / log-length spread) into the log-length weight; the mean score is kept. */
export function addLengthPrior(m: LinearModel, d: Design, rows: readonly number[], beta: number): void {
  const n = rows.length;
  if (n < 2) return;
  let sl = 0;
  let sp = 0;
  for (const r of rows) {
    sl += d.dense[r * STRUCT_DIM + LOG_CHARS]!;
    sp += predict(m, d, r);
  }
  const ml = sl / n;
  const mp = sp / n;
  let vl = 0;
  let vp = 0;
  for (const r of rows) {
    vl += (d.dense[r * STRUCT_DIM + LOG_CHARS]! - ml) ** 2;
    vp += (predict(m, d, r) - mp) ** 2;
  }
  const sdl = Math.sqrt(vl / n);
  if (sdl < 1e-9) return;
  const w = (beta * Math.sqrt(vp / n)) / sdl;
  m.dense[LOG_CHARS] = m.dense[LOG_CHARS]! + w;
  m.bias -= w * ml;
}

export interface RecogniserOptions {
  lambdaHashed: number;
  lambdaDense: number;
  /** Word unigrams/bigrams only (no character 4-grams): formats are recognisable by their words, at a third of the cost. */
  wordsOnly?: boolean | undefined;
}

/**
 * One ridge regression per class onto its 0/1 indicator, every class weighted equally (a 300-prompt source counts
 * as much as a 5,000-prompt one). Scores near 1 mean "looks like this class", near 0 "like none".
 */
export function fitRecogniser(
  d: Design,
  rowsByClass: readonly (readonly number[])[],
  o: RecogniserOptions,
): LinearModel[] {
  const rows = rowsByClass.flat();
  const weights = new Float64Array(rows.length);
  let p = 0;
  for (const rs of rowsByClass)
    for (let i = 0; i < rs.length; i++) weights[p++] = rows.length / rowsByClass.length / rs.length;
  return rowsByClass.map((_, c) => {
    const y: number[] = [];
    rowsByClass.forEach((rs, k) => {
      for (let i = 0; i < rs.length; i++) y.push(k === c ? 1 : 0);
    });
    return fitRidge(d, rows, y, {
      lambdaHashed: o.lambdaHashed,
      lambdaDense: o.lambdaDense,
      weights,
      wordsOnly: o.wordsOnly,
      maxIter: 80,
      tol: 1e-4,
    });
  });
}

/** The class a design row is recognised as, or -1 when every class scores below `minScore`. */
export function recognise(models: readonly LinearModel[], d: Design, row: number, minScore: number): number {
  let best = -1;
  let bestScore = Number.NEGATIVE_INFINITY;
  models.forEach((m, c) => {
    const z = predict(m, d, row);
    if (z > bestScore) {
      bestScore = z;
      best = c;
    }
  });
  return bestScore < minScore ? -1 : best;
}

/** Quantiles 0%..100% of `xs` in `points` equal steps (pure). */
export function quantiles(xs: readonly number[], points: number): number[] {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return [0, 0];
  return Array.from({ length: points }, (_, i) => {
    const pos = (i / (points - 1)) * (s.length - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(s.length - 1, lo + 1);
    return Number((s[lo]! + (s[hi]! - s[lo]!) * (pos - lo)).toPrecision(7));
  });
}

const round = (x: number) => Number(x.toPrecision(7));

export interface ModelParts {
  heads: { spec: HeadSpec; model: LinearModel }[];
  recogniser?: { classes: string[]; models: LinearModel[]; minScore: number } | undefined;
  fallback?: string | undefined;
  calibration: number[];
  training: Record<string, unknown>;
}

export function toModelFile(p: ModelParts): ModelFile {
  const file: ModelFile = {
    format: MODEL_FORMAT,
    hashBits: HASH_BITS,
    structural: [...STRUCTURAL],
    heads: p.heads.map(({ spec, model }) => ({
      name: spec.name,
      ...(spec.pair ? { pair: spec.pair } : {}),
      ...(model.hashed ? { hashed: encodeInt8(model.hashed) } : {}),
      dense: Array.from(model.dense, round),
      ...(model.emb ? { embedding: Array.from(model.emb, round) } : {}),
      bias: round(model.bias),
    })),
    calibration: p.calibration,
    training: p.training,
  };
  if (p.fallback !== undefined) file.fallback = p.fallback;
  const r = p.recogniser;
  if (r) {
    const K = r.models.length;
    const table = new Float32Array(HASH_DIM * K);
    r.models.forEach((m, c) => {
      for (let f = 0; f < HASH_DIM; f++) table[f * K + c] = m.hashed ? m.hashed[f]! : 0;
    });
    file.recogniser = {
      classes: r.classes,
      hashed: encodeInt8(table),
      dense: r.models.map((m) => Array.from(m.dense, round)),
      bias: r.models.map((m) => round(m.bias)),
      minScore: r.minScore,
      ...(r.models.some((m) => m.wordsOnly) ? { wordsOnly: true } : {}),
    };
  }
  return file;
}

export { STRUCT_DIM };
