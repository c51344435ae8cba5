/**
 * Score-to-tier arithmetic: tiers spread evenly over [0, 1], cheapest first.
 *
 *   scoreToTier(score, tiers): number                        tier whose interval holds the score; a boundary belongs to the upper tier
 *   tierCenter(index, tiers): number                         middle of a tier's interval (what a rule or task vote scores as)
 *   escalate(score, confidence, tiers, band): { tierIndex, escalated, reason }
 *   thresholdToScore(p, threshold, tiers, band?): number     learned percentile -> score, so `threshold` lands on the first boundary
 */

/** Below this confidence the classifier is guessing; a guess goes one tier up rather than risk a bad answer. */
export const LOW_CONFIDENCE = 0.35;

/** Absorbs float error so that a score computed as exactly k/n lands in tier k. */
const EPSILON = 1e-9;

export function clamp01(x: number): number {
  return Number.isNaN(x) ? 0 : Math.max(0, Math.min(1, x));
}

export function scoreToTier(score: number, tiers: number): number {
  if (tiers <= 1) return 0;
  return Math.min(tiers - 1, Math.floor(clamp01(score) * tiers + EPSILON));
}

export function tierCenter(index: number, tiers: number): number {
  return (index + 0.5) / Math.max(1, tiers);
}

export interface Escalation {
  tierIndex: number;
  escalated: boolean;
  reason: 'near-boundary' | 'low-confidence' | undefined;
}

/**
 * A score within `band` below the next boundary (inclusive) is too close to call and goes one tier up; so does a
 * low-confidence classification. Never more than one tier, never past the top.
 */
export function escalate(score: number, confidence: number, tiers: number, band: number): Escalation {
  const base = scoreToTier(score, tiers);
  if (base >= tiers - 1) return { tierIndex: base, escalated: false, reason: undefined };
  if (scoreToTier(score + band, tiers) > base)
    return { tierIndex: base + 1, escalated: true, reason: 'near-boundary' };
  if (confidence < LOW_CONFIDENCE) return { tierIndex: base + 1, escalated: true, reason: 'low-confidence' };
  return { tierIndex: base, escalated: false, reason: undefined };
}

/**
 * The learned classifier answers with a percentile. With an explicit threshold, stretch [0, threshold) onto the
 * cheapest tier's interval below its escalation band and [threshold, 1] onto the rest, so p >= threshold leaves
 * the cheapest tier and p < threshold stays there, whatever the tier count and band: the share above the cheapest
 * tier is exactly the share of percentiles at or above the threshold. Without one, the percentile is the score.
 */
export function thresholdToScore(p: number, threshold: number | undefined, tiers: number, band = 0): number {
  const q = clamp01(p);
  if (threshold === undefined || tiers <= 1) return q;
  const first = 1 / tiers;
  // Just under the band, so scoreToTier(score + band) stays in the cheapest tier.
  const cheapTop = Math.max(0, first - Math.max(0, band) - 1e-6);
  if (threshold <= 0) return first + q * (1 - first);
  if (threshold >= 1) return q >= threshold ? first : q * cheapTop;
  return q < threshold
    ? (q / threshold) * cheapTop
    : first + ((q - threshold) / (1 - threshold)) * (1 - first);
}
