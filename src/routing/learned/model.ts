/** The shipped learned difficulty classifier (weights.json), decoded once per process. */
import { classifierFromWeights, type LearnedClassifier } from './classifier.js';
import shipped from './weights.json' with { type: 'json' };
import type { WeightsFile } from './weights-file.js';

export type { LearnedClassifier } from './classifier.js';

let cached: LearnedClassifier | undefined;

/** The shipped classifier, decoded once per process. */
export function loadLearnedClassifier(): LearnedClassifier {
  cached ??= classifierFromWeights(shipped as WeightsFile);
  return cached;
}
