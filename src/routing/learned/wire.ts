/**
 * Plugs the learned classifier into the router. decide() gets the difficulty *percentile* (the share of
 * calibration prompts scoring lower), not the raw probability: the raw probabilities of a text-only model
 * bunch up near the base rate, which would leave upper tiers unreachable, while percentiles spread evenly
 * over [0, 1]. The ModelRoute knobs are translated to that scale: `premiumShare` s becomes threshold 1 - s,
 * an explicit probability `threshold` becomes its percentile.
 */
import type { ClassifierSpec } from '../../api/modelroute.js';
import type { Snapshot } from '../../api/snapshot.js';
import type { LearnedClassifier } from './classifier.js';
import { loadLearnedClassifier } from './model.js';

/** Share of calibration traffic sent above the cheapest tier when a learned route sets neither knob. */
export const DEFAULT_PREMIUM_SHARE = 0.3;

/** decide()'s `learned` input: (text, features) => difficulty percentile in [0, 1], monotone in P(cheapest tier fails). */
export function learnedScorer(c: LearnedClassifier = loadLearnedClassifier()): (text: string) => number {
  return (text) => 1 - c.shareAbove(c.score(text));
}

/**
 * The percentile threshold a classifier spec means: an explicit probability `threshold` wins (as its
 * percentile), else `premiumShare`, else the default share.
 */
export function learnedThreshold(spec: ClassifierSpec, c: LearnedClassifier): number {
  if (spec.threshold !== undefined) return 1 - c.shareAbove(spec.threshold);
  return 1 - Math.min(1, Math.max(0, spec.premiumShare ?? DEFAULT_PREMIUM_SHARE));
}

/**
 * The snapshot with every learned/hybrid route's threshold put on the percentile scale (pure: new objects,
 * input untouched). Rules-mode routes keep their spec object, so caches keyed by it survive. Use it together
 * with learnedScorer(): the two share one scale.
 */
export function withLearnedThresholds(
  snapshot: Snapshot,
  c: LearnedClassifier = loadLearnedClassifier(),
): Snapshot {
  return {
    ...snapshot,
    routes: snapshot.routes.map((r) => {
      const cl = r.spec.classifier;
      if (cl.mode === 'rules') return r;
      return { ...r, spec: { ...r.spec, classifier: { ...cl, threshold: learnedThreshold(cl, c) } } };
    }),
  };
}
