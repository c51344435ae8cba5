/**
 * Trains the learned difficulty classifier on the train split of ../shared/data and writes
 * src/routing/learned/weights.json. Deterministic: same data and seed, same bytes.
 *
 *   tsx scripts/train-classifier.ts [--data ../shared/data] [--out src/routing/learned/weights.json]
 */
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { classifierFromWeights } from '../src/routing/learned/classifier.js';
import { encodeFloat32 } from '../src/routing/learned/codec.js';
import {
  type Dataset,
  defaultDataDir,
  hasData,
  loadAll,
  needsStrong,
} from '../src/routing/learned/datasets.js';
import { HASH_BITS, STRUCTURAL } from '../src/routing/learned/features.js';
import { summarize } from '../src/routing/learned/metrics.js';
import { SPLIT_SEED } from '../src/routing/learned/split.js';
import type { WeightsFile } from '../src/routing/learned/weights-file.js';
import { auc, buildDesign, logit, logLoss, type TrainOptions, train } from './train/logreg.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// Chosen on the calibration split's loss (3 settings tried), never on held-out numbers.
const OPTIONS: TrainOptions = { seed: 20251123, epochs: 4, batchSize: 32, learningRate: 0.002, l2: 3e-3 };
const CALIBRATION_POINTS = 201;
/** Sources the classifier trains on; MT-Bench (80 questions) is evaluation only. */
const TRAIN_SOURCES = new Set(['mmlu', 'gsm8k', 'llmrouter']);

function pick(sets: Dataset[], part: 'train' | 'calibration') {
  const texts: string[] = [];
  const labels: number[] = [];
  for (const d of sets) {
    if (!TRAIN_SOURCES.has(d.name)) continue;
    for (const o of d.items) {
      if (o.part !== part) continue;
      texts.push(o.prompt);
      labels.push(needsStrong(o));
    }
  }
  return { texts, labels };
}

function quantiles(xs: number[], points: number): number[] {
  const s = [...xs].sort((a, b) => a - b);
  return Array.from({ length: points }, (_, i) => {
    const pos = (i / (points - 1)) * (s.length - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(s.length - 1, lo + 1);
    return Number((s[lo]! + (s[hi]! - s[lo]!) * (pos - lo)).toPrecision(6));
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string', default: defaultDataDir(repoRoot) },
      out: { type: 'string', default: join(repoRoot, 'src', 'routing', 'learned', 'weights.json') },
      epochs: { type: 'string' },
      lr: { type: 'string' },
      l2: { type: 'string' },
    },
  });
  const opts: TrainOptions = {
    ...OPTIONS,
    ...(values.epochs ? { epochs: Number(values.epochs) } : {}),
    ...(values.lr ? { learningRate: Number(values.lr) } : {}),
    ...(values.l2 ? { l2: Number(values.l2) } : {}),
  };
  const dataDir = resolve(values.data!);
  if (!hasData(dataDir)) {
    process.stderr.write(`no training data at ${dataDir}\n`);
    return 1;
  }
  const t0 = performance.now();
  const sets = loadAll(dataDir);
  const tr = pick(sets, 'train');
  const cal = pick(sets, 'calibration');
  const dTrain = buildDesign(tr.texts, tr.labels);
  const dCal = buildDesign(cal.texts, cal.labels);
  const positives = tr.labels.filter((y) => y >= 0.5).length;
  process.stdout.write(
    `train ${dTrain.n} prompts (${positives} need strong), calibration ${dCal.n}, ${dTrain.idx.length} feature entries\n`,
  );
  const params = train(dTrain, opts, (epoch, p) => {
    process.stdout.write(
      `epoch ${epoch}: train loss ${logLoss(p, dTrain).toFixed(4)}, calibration loss ${logLoss(p, dCal).toFixed(4)}\n`,
    );
  });
  const calScores = Array.from({ length: dCal.n }, (_, i) => 1 / (1 + Math.exp(-logit(params, dCal, i))));
  const prior = tr.labels.reduce((a, b) => a + b, 0) / tr.labels.length;
  const priorLoss = -(prior * Math.log(prior) + (1 - prior) * Math.log(1 - prior));
  const calAuc = auc(calScores, cal.labels);
  const file: WeightsFile = {
    format: 'tiermesh-learned-v1',
    hashBits: HASH_BITS,
    structural: [...STRUCTURAL],
    hashed: encodeFloat32(params.hashed),
    dense: Array.from(params.dense, (x) => Number(x.toPrecision(7))),
    bias: Number(params.bias.toPrecision(7)),
    calibration: quantiles(calScores, CALIBRATION_POINTS),
    training: {
      sources: [...TRAIN_SOURCES],
      splitSeed: SPLIT_SEED,
      options: opts,
      trainPrompts: dTrain.n,
      calibrationPrompts: dCal.n,
      label: 'cheap model wrong and strong model right',
      calibrationLogLoss: Number(logLoss(params, dCal).toFixed(4)),
      priorLogLoss: Number(priorLoss.toFixed(4)),
      calibrationAuc: Number(calAuc.toFixed(4)),
    },
  };
  // Sanity check: the written file scores exactly like the in-memory model.
  const check = classifierFromWeights(file);
  const drift = Math.abs(check.score(cal.texts[0] ?? '') - (calScores[0] ?? check.score('')));
  if (drift > 1e-4) throw new Error(`weights round-trip drift ${drift}`);
  writeFileSync(values.out!, `${JSON.stringify(file)}\n`);
  const calOutcomes = sets
    .filter((d) => TRAIN_SOURCES.has(d.name))
    .flatMap((d) => d.items.filter((o) => o.part === 'calibration'));
  const r = summarize(calScores, calOutcomes);
  process.stdout.write(
    `calibration: AUC ${calAuc.toFixed(3)}, APGR ${r.apgr.toFixed(3)} (log loss ${file.training['calibrationLogLoss']} vs prior ${file.training['priorLogLoss']})\n` +
      `wrote ${values.out} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
  );
  return 0;
}

process.exitCode = await main();
