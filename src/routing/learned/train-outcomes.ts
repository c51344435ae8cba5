/**
 * `tiermesh train` on a team's own outcomes: the same pipeline as the shipped model (ridge on the strong model's
 * gain, features and L2 chosen by cross-validation, whole groups held out when the outcomes carry groups), giving a
 * one-head model file. Pure: outcomes in, model file and validation rows out.
 *
 *   trainOnOutcomes(outcomes, options?): TrainResult     throws OutcomesError when there is too little to learn from
 *                                                        (too few outcomes, or no gain for a router to recover)
 */
import { assignFolds, type CvResult, crossValidate, headGrid, selectHead } from './cv.js';
import { buildDesign } from './design.js';
import { loadEmbedder } from './embedding.js';
import { summarize, unmeasurableReason } from './metrics.js';
import { type LoggedOutcome, OutcomesError } from './outcomes.js';
import { predict } from './ridge.js';
import { fitHead, isNgrams, quantiles, toModelFile } from './train.js';
import type { ModelFile } from './weights-file.js';

/** Fewer outcomes than this cannot choose between settings honestly (5 folds of 20). */
export const MIN_TRAIN_OUTCOMES = 100;
/** Groups needed before folds hold out whole groups (else random prompts). */
export const MIN_GROUPS_FOR_GROUP_FOLDS = 5;
const K = 5;

export interface TrainResult {
  file: ModelFile;
  /** Out-of-fold results of every setting tried, the chosen one first. */
  validation: { setting: string; apgr: number; folds: number[] }[];
  chosen: string;
  foldsBy: 'group' | 'prompt';
  lengthApgr: number;
  /** Folds held out. */
  folds: number;
  /** Folds not scored because the strong model is not better on their held-out outcomes (PGR undefined there). */
  noGainFolds: number;
  /**
   * False when the written model gives every prompt the same score (the constant head won: no setting beat it on
   * validation), so a route using it cannot tell prompts apart.
   */
  ranks: boolean;
}

const describe = (r: CvResult) =>
  isNgrams(r.spec.features)
    ? `${r.spec.features} (L2 ${r.spec.lambdaHashed}${(r.spec.minCount ?? 1) > 1 ? `, in >= ${r.spec.minCount} prompts` : ''})`
    : r.spec.features !== 'constant' && r.spec.features !== 'length'
      ? `${r.spec.features} (L2 ${r.spec.lambdaDense}${r.spec.lengthPrior ? `, length prior ${r.spec.lengthPrior}` : ''})`
      : r.spec.features;

/**
 * What decides an outcome's fold: its group, or its prompt text alone, so a prompt logged twice (real logs repeat
 * prompts) lands in one fold and is never validated on a copy of itself (that scored a word model 1.07 APGR).
 */
export function outcomeFoldKey(o: LoggedOutcome, by: 'group' | 'prompt'): string {
  return by === 'group' ? `g:${o.group ?? ''}` : `p:${o.prompt}`;
}

export function trainOnOutcomes(outcomes: readonly LoggedOutcome[], name = 'own'): TrainResult {
  if (outcomes.length < MIN_TRAIN_OUTCOMES)
    throw new OutcomesError(
      `${outcomes.length} outcomes: at least ${MIN_TRAIN_OUTCOMES} are needed to train`,
    );
  // Validation measures recovered gain; with none to recover it could only pick a head blind.
  const noGain = unmeasurableReason(outcomes);
  if (noGain !== null)
    throw new OutcomesError(`${noGain} on these outcomes: there is nothing for a router to learn`);
  const X = buildDesign(
    outcomes.map((o) => o.prompt),
    loadEmbedder(),
  );
  const rows = outcomes.map((_, i) => i);
  const labels = outcomes.map((o) => o.strong - o.weak);
  const groups = new Set(outcomes.map((o) => o.group ?? ''));
  const foldsBy = groups.size >= MIN_GROUPS_FOR_GROUP_FOLDS ? 'group' : 'prompt';
  const folds = assignFolds(
    outcomes.map((o) => outcomeFoldKey(o, foldsBy)),
    K,
  );
  const results = headGrid(name).map((spec) => crossValidate(X, rows, labels, folds, outcomes, spec));
  const best = selectHead(results);
  const model = fitHead(X, rows, labels, best.spec);
  const fitted = rows.map((i) => predict(model, X, i));
  const file = toModelFile({
    heads: [{ spec: best.spec, model }],
    // The scale a route starts on, before it has seen enough of its own traffic (online calibration).
    calibration: quantiles(fitted, 201),
    training: {
      data: 'tiermesh train --outcomes',
      outcomes: outcomes.length,
      label: 'strong - weak quality (ridge regression)',
      foldsBy,
      head: best.spec,
      validationApgr: Number(best.apgr.toFixed(4)),
    },
  });
  return {
    file,
    validation: [best, ...results.filter((r) => r !== best)].map((r) => ({
      setting: describe(r),
      apgr: r.apgr,
      folds: r.foldApgr,
    })),
    chosen: describe(best),
    foldsBy,
    folds: new Set(folds).size,
    noGainFolds: best.noGainFolds,
    ranks: fitted.some((x) => x !== fitted[0]),
    lengthApgr: summarize(
      outcomes.map((o) => o.prompt.length),
      outcomes,
    ).apgr,
  };
}
