/**
 * Plugs the learned classifier into the router: a LearnedScorer for decide(), and the ModelRoute
 * `classifier.premiumShare` turned into the `threshold` decide() reads, via the shipped calibration quantiles.
 */
import type { ClassifierSpec } from '../../api/modelroute.js';
import type { Snapshot } from '../../api/snapshot.js';
import type { LearnedClassifier } from './classifier.js';
import { loadLearnedClassifier } from './model.js';

/** Share of calibration traffic sent above the cheapest tier when a learned route sets neither knob. */
export const DEFAULT_PREMIUM_SHARE = 0.3;

/** decide()'s `learned` input: (text, features) => P(cheapest tier fails). */
export function learnedScorer(c: LearnedClassifier = loadLearnedClassifier()): (text: string) => number {
  return (text) => c.score(text);
}

/** The difficulty threshold a classifier spec means: explicit `threshold` wins, else `premiumShare`, else the default share. */
export function learnedThreshold(spec: ClassifierSpec, c: LearnedClassifier): number {
  if (spec.threshold !== undefined) return spec.threshold;
  return c.thresholdForShare(spec.premiumShare ?? DEFAULT_PREMIUM_SHARE);
}

/**
 * The snapshot with every learned/hybrid route's threshold resolved (pure: new objects, input untouched).
 * Rules-mode routes and routes with an explicit threshold keep their spec object, so caches keyed by it survive.
 */
export function withLearnedThresholds(
  snapshot: Snapshot,
  c: LearnedClassifier = loadLearnedClassifier(),
): Snapshot {
  return {
    ...snapshot,
    routes: snapshot.routes.map((r) => {
      const cl = r.spec.classifier;
      if (cl.mode === 'rules' || cl.threshold !== undefined) return r;
      return { ...r, spec: { ...r.spec, classifier: { ...cl, threshold: learnedThreshold(cl, c) } } };
    }),
  };
}
