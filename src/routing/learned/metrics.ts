/**
 * RouteLLM's routing-quality measures for a strong/weak model pair. A router is a score per prompt; at a
 * strong-call share s the top s of prompts (by score) go to the strong model. PGR(s) is the share of the
 * strong model's quality gain recovered, APGR its area over s in [0, 1], CPT(x) the share needed for PGR x.
 * Tied scores are split in expectation, so a constant-score router is exactly the random router.
 */

export interface PairOutcome {
  weak: number;
  strong: number;
}

export interface PgrCurve {
  /** Strong-call shares 0, 1/n, ..., 1. */
  share: Float64Array;
  /** PGR at each share. */
  pgr: Float64Array;
  qWeak: number;
  qStrong: number;
}

/** PGR at every k = 0..n strong calls; tie groups are filled in expectation (pure). */
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
  const share = new Float64Array(n + 1);
  const pgr = new Float64Array(n + 1);
  for (let t = 0; t <= n; t++) {
    share[t] = t / n;
    pgr[t] = span === 0 ? 1 : gain[t]! / span;
  }
  return { share, pgr, qWeak: qWeakSum / n, qStrong: qStrongSum / n };
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

/** Smallest strong-call share whose PGR reaches `target` (e.g. 0.5 for CPT(50%)); 1 if never reached (pure). */
export function cpt(c: PgrCurve, target: number): number {
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
