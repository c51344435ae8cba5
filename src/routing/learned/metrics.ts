/**
 * RouteLLM's routing-quality measures for a strong/weak model pair. A router is a score per prompt; at a
 * strong-call share s the top s of prompts (by score) go to the strong model. PGR(s) is the share of the
 * strong model's quality gain recovered, APGR its area over s in [0, 1], CPT(x) the share needed for PGR x.
 * Tied scores are split in expectation, so a constant-score router is exactly the random router.
 *
 * PGR divides by the strong model's gain (qStrong - qWeak). Where the strong model is not better (a group of a team's
 * logs where it is worse, or about as good) there is no gain to recover and PGR is undefined: a negative span turns
 * the ranking upside down, a near-zero one gives APGRs in the thousands. Such outcomes are not measured (NaN here,
 * `null` / "n/a" in `tiermesh eval`), never reported as a number.
 */

export interface PairOutcome {
  weak: number;
  strong: number;
}

/**
 * Smallest mean gain (qStrong - qWeak, qualities in [0, 1]) PGR is measured on: one point of quality. Below it the
 * strong model is, for routing, no better than the weak one, and PGR divides a ranking's gain by (almost) nothing.
 */
export const MIN_MEAN_GAIN = 0.01;

/** Mean quality of the weak and the strong model over `outcomes` (pure; NaN for none). */
export function meanQualities(outcomes: readonly PairOutcome[]): { qWeak: number; qStrong: number } {
  let w = 0;
  let s = 0;
  for (const o of outcomes) {
    w += o.weak;
    s += o.strong;
  }
  return { qWeak: w / outcomes.length, qStrong: s / outcomes.length };
}

// The epsilon keeps a gain of exactly one point (1 prompt in 100) measurable whatever the float rounding of the means.
const hasGainToRecover = (qWeak: number, qStrong: number) => qStrong - qWeak >= MIN_MEAN_GAIN - 1e-12;

/** Why PGR cannot be measured on `outcomes` (no gain to recover), or null when it can (pure). */
export function unmeasurableReason(outcomes: readonly PairOutcome[]): string | null {
  if (outcomes.length === 0) return 'no outcomes';
  const { qWeak, qStrong } = meanQualities(outcomes);
  if (hasGainToRecover(qWeak, qStrong)) return null;
  return `no gain to recover: the strong model is ${qStrong > qWeak ? `less than ${MIN_MEAN_GAIN} better than` : 'not better than'} the weak one (mean quality ${qWeak.toFixed(3)} -> ${qStrong.toFixed(3)})`;
}

export interface PgrCurve {
  /** Strong-call shares 0, 1/n, ..., 1. */
  share: Float64Array;
  /** PGR at each share (NaN throughout when not `measurable`). */
  pgr: Float64Array;
  /** The strong model gains at least MIN_MEAN_GAIN on average: PGR is defined. */
  measurable: boolean;
  qWeak: number;
  qStrong: number;
}

/** PGR at every k = 0..n strong calls; tie groups are filled in expectation (pure). NaN when not measurable. */
export function pgrCurve(scores: ArrayLike<number>, outcomes: readonly PairOutcome[]): PgrCurve {
  const n = outcomes.length;
  if (scores.length !== n) throw new Error('pgrCurve: scores and outcomes differ in length');
  if (n === 0) throw new Error('pgrCurve: no outcomes');
  let qWeakSum = 0;
  let qStrongSum = 0;
  for (const o of outcomes) {
    qWeakSum += o.weak;
    qStrongSum += o.strong;
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  const gain = new Float64Array(n + 1); // cumulative quality gain from sending the top k to strong
  let i = 0;
  let k = 0;
  while (i < n) {
    let j = i;
    let groupGain = 0;
    while (j < n && scores[order[j]!] === scores[order[i]!]) {
      const o = outcomes[order[j]!]!;
      groupGain += o.strong - o.weak;
      j++;
    }
    const size = j - i;
    for (let t = 1; t <= size; t++) gain[k + t] = gain[k]! + (groupGain * t) / size;
    k += size;
    i = j;
  }
  const span = qStrongSum - qWeakSum;
  const measurable = hasGainToRecover(qWeakSum / n, qStrongSum / n);
  const share = new Float64Array(n + 1);
  const pgr = new Float64Array(n + 1);
  for (let t = 0; t <= n; t++) {
    share[t] = t / n;
    pgr[t] = measurable ? gain[t]! / span : Number.NaN;
  }
  return { share, pgr, measurable, qWeak: qWeakSum / n, qStrong: qStrongSum / n };
}

/** PGR at an arbitrary share, interpolating between whole prompts (pure). */
export function pgrAt(c: PgrCurve, s: number): number {
  const n = c.share.length - 1;
  const pos = Math.min(1, Math.max(0, s)) * n;
  const lo = Math.floor(pos);
  const hi = Math.min(n, lo + 1);
  return c.pgr[lo]! + (c.pgr[hi]! - c.pgr[lo]!) * (pos - lo);
}

/** Area under PGR over the strong-call share, by the trapezoid rule (pure). */
export function apgr(c: PgrCurve): number {
  const n = c.share.length - 1;
  let area = 0;
  for (let t = 1; t <= n; t++) area += ((c.pgr[t - 1]! + c.pgr[t]!) / 2) * (1 / n);
  return area;
}

/**
 * Smallest strong-call share whose PGR reaches `target` (e.g. 0.5 for CPT(50%)); 1 if never reached, NaN when the
 * curve is not measurable (pure).
 */
export function cpt(c: PgrCurve, target: number): number {
  if (!c.measurable) return Number.NaN;
  const n = c.share.length - 1;
  if (c.pgr[0]! >= target) return 0;
  for (let t = 1; t <= n; t++) {
    if (c.pgr[t]! >= target) {
      const a = c.pgr[t - 1]!;
      const b = c.pgr[t]!;
      return (t - 1 + (target - a) / (b - a)) / n;
    }
  }
  return 1;
}

export interface RouterReport {
  pgr20: number;
  pgr50: number;
  pgr80: number;
  apgr: number;
  cpt50: number;
  cpt80: number;
}

/** The RouteLLM measures of one router; every field NaN when the outcomes are not measurable (unmeasurableReason). */
export function summarize(scores: ArrayLike<number>, outcomes: readonly PairOutcome[]): RouterReport {
  const c = pgrCurve(scores, outcomes);
  return {
    pgr20: pgrAt(c, 0.2),
    pgr50: pgrAt(c, 0.5),
    pgr80: pgrAt(c, 0.8),
    apgr: apgr(c),
    cpt50: cpt(c, 0.5),
    cpt80: cpt(c, 0.8),
  };
}
