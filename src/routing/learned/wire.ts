/**
 * Plugs the learned model into the router. decide() gets a difficulty *percentile* (the share of the route's recent
 * traffic with a smaller predicted gain), not the raw gain: percentiles spread evenly over [0, 1], so the route's
 * `premiumShare` s becomes the percentile threshold 1 - s and keeps its promise on the route's own traffic. Before a
 * route has MIN_SAMPLES requests, the model's calibration quantiles give the percentile. An explicit `threshold`
 * is a predicted gain (strong - weak quality) and becomes its percentile on the calibration mix.
 */
import type { ClassifierSpec } from '../../api/modelroute.js';
import type { Snapshot } from '../../api/snapshot.js';
import type { LearnedScorer } from '../decide.js';
import { calibrationRun, MIN_SAMPLES, placeInRun, RollingPercentile, type TieRun } from './calibration.js';
import type { LearnedClassifier } from './classifier.js';
import { loadLearnedClassifier } from './model.js';
import { RouteModels } from './model-ref.js';

/** A percentile threshold above every percentile: premiumShare 0. */
export const NEVER = 2;

/** Share of traffic sent above the cheapest tier when a learned route sets neither knob. */
export const DEFAULT_PREMIUM_SHARE = 0.3;

export interface LearnedScorerOptions {
  /** Requests before a route's own traffic sets the scale (tests lower it). */
  minSamples?: number;
  window?: number;
  /** A route's own model (spec.classifier.modelRef), else `c` scores it. */
  modelFor?: (route: string) => LearnedClassifier | undefined;
}

/** What a RouteScorer call leaves for decide() to report: the tie run and the model's own score. */
interface LastCall {
  readonly tie: TieRun;
  /** The model's own output for the last prompt scored (its predicted gain), before it became a percentile. */
  readonly gain: number;
}

/** A scorer without the `peek` of its own. */
type Scoring = ((text: string, route?: string) => number) & LearnedScorer & LastCall;

/**
 * learnedScorer()'s function: `route` may be left out (one unnamed window), `tie` and `gain` are always set.
 * `peek` scores the same way against the window as it is, and records nothing.
 */
export type RouteScorer = Scoring & { readonly peek: Scoring };

/**
 * decide()'s `learned` input: (text, route) => percentile in [0, 1], monotone in the predicted gain.
 * Keeps one rolling window per route name: a route's share tracks its own traffic, not its neighbours'.
 * A score tied with others takes its place in the tie by its prompt's hash (calibration.ts), so ties split as the
 * threshold says; `scorer.tie` holds the last call's run (lo = hi when untied) and `scorer.gain` its model score,
 * for decide() to report. `scorer.peek` (for /v1/explain) gives exactly what a real request would get now, without
 * adding the prompt to the window: explaining a thousand prompts moves no real request's percentile.
 */
export function learnedScorer(
  c: LearnedClassifier = loadLearnedClassifier(),
  o: LearnedScorerOptions = {},
): RouteScorer {
  const min = o.minSamples ?? MIN_SAMPLES;
  const windows = new Map<string, { model: LearnedClassifier; window: RollingPercentile }>();
  // One run and one gain, rewritten by every call (peek's too): scoring is synchronous and decide() reads them right
  // after.
  const tie: TieRun = { lo: 0, hi: 0 };
  let gain = Number.NaN;
  const score = (text: string, route: string, record: boolean): number => {
    const m = o.modelFor?.(route) ?? c;
    const s = m.score(text);
    gain = s;
    let w = windows.get(route);
    // A new model for the route scores on another scale: its window starts afresh (a peek only reads the calibration
    // quantiles, as the first real request would, and leaves the old window for that request to replace).
    if (!w || w.model !== m) {
      if (!record) {
        calibrationRun(m, s, tie);
        return placeInRun(tie, text);
      }
      w = { model: m, window: new RollingPercentile(o.window) };
      windows.set(route, w);
    }
    if (w.window.samples >= min) w.window.locate(s, tie);
    else calibrationRun(m, s, tie);
    const p = placeInRun(tie, text);
    if (record) w.window.record(s);
    return p;
  };
  const withLast = (f: (text: string, route?: string) => number): Scoring =>
    Object.defineProperties(f, {
      tie: { value: tie, enumerable: true },
      gain: { get: () => gain, enumerable: true },
    }) as Scoring;
  const peek = withLast((text, route = '') => score(text, route, false));
  return Object.assign(
    withLast((text, route = '') => score(text, route, true)),
    { peek },
  );
}

/**
 * The percentile threshold a classifier spec means: an explicit gain `threshold` wins (as its calibration
 * percentile), else `premiumShare`, else the default share; `offset` (status.calibration) is added to that share.
 */
export function learnedThreshold(spec: ClassifierSpec, c: LearnedClassifier, offset = 0): number {
  // The operator's online calibration (spec.classifier.adapt) raises the share by `offset`; this rolling
  // percentile then keeps the raised share exactly, as it keeps the configured one.
  if (spec.threshold !== undefined && offset <= 0) return 1 - c.shareAbove(spec.threshold);
  const configured =
    spec.threshold !== undefined
      ? c.shareAbove(spec.threshold)
      : (spec.premiumShare ?? DEFAULT_PREMIUM_SHARE);
  const share = Math.min(1, Math.max(0, configured + offset));
  // Share 0 is "never": a threshold no percentile reaches (percentile 1 itself would still leave the cheapest tier).
  return share <= 0 ? NEVER : 1 - share;
}

/**
 * The snapshot with every learned/hybrid route's threshold put on the percentile scale (pure: new objects,
 * input untouched). Rules-mode routes keep their spec object, so caches keyed by it survive. Use it together
 * with learnedScorer(): the two share one scale.
 */
export function withLearnedThresholds(
  snapshot: Snapshot,
  c: LearnedClassifier = loadLearnedClassifier(),
  modelFor: (route: string) => LearnedClassifier | undefined = () => undefined,
): Snapshot {
  return {
    ...snapshot,
    routes: snapshot.routes.map((r) => {
      const cl = r.spec.classifier;
      if (cl.mode === 'rules') return r;
      const threshold = learnedThreshold(cl, modelFor(r.name) ?? c, r.calibration?.offset);
      return { ...r, spec: { ...r.spec, classifier: { ...cl, threshold } } };
    }),
  };
}

/**
 * One-shot wiring for the offline tools (explain, report): thresholds and scorer with each route's modelRef model
 * (else the shipped one). Throws ModelFileError naming the route when a referenced model is refused.
 */
export function wireLearned(snapshot: Snapshot): {
  snapshot: Snapshot;
  learned: (text: string, route?: string) => number;
} {
  const models = new RouteModels().resolve(snapshot);
  const modelFor = (r: string) => models.get(r);
  return {
    snapshot: withLearnedThresholds(snapshot, undefined, modelFor),
    learned: learnedScorer(undefined, { modelFor }),
  };
}
