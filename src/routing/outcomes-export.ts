/**
 * Routing outcomes from a decision log: the `{prompt, weak, strong, group}` lines `tiermesh eval --outcomes` and
 * `tiermesh train --outcomes` read, or, without prompt text, the features of each decision for threshold
 * calibration.
 *
 *   exportOutcomes(entries, { assumeStrong? }): { outcomes, features, stats }
 *
 * How weak and strong are derived, per original request (a `decision` without `retryOf`):
 *   "weak" is the quality of the answer from the tier the request was first sent to (`initialTier`):
 *     - 0 when the cascade's quality check failed that answer (it escalated: empty, refusal, broken JSON);
 *     - else the mean feedback score on that request, if the answer the client got came from `initialTier`;
 *     - else unknown.
 *   "strong" is the quality of the answer from the tier above it:
 *     - when the cascade escalated and the escalated answer was served: the mean feedback score on the request,
 *       or 1 without feedback (it was served after the weaker answer failed);
 *     - else when a feedback retry re-ran it one tier up and that answer was served (status 200): the mean
 *       feedback score on the retry, or 1 without feedback;
 *     - else `assumeStrong` when given (e.g. 1: "the strong tier would have been right"), else unknown.
 *   A request with either unknown, or without prompt text, gives no outcome line (counted in `stats`); `group` is
 *   the route. Streams are never checked by the cascade, so only their feedback speaks for them.
 */
import type { DecisionEntry, DecisionLogEntry, FeedbackEntry } from '../api/decision-log.js';

export interface OutcomeLine {
  prompt: string;
  weak: number;
  strong: number;
  group: string;
}

/** One decision's features and what is known of its outcome: no prompt text, for threshold calibration. */
export interface FeatureLine {
  requestId: string;
  route: string;
  initialTier: string;
  tier: string;
  score: number;
  confidence: number;
  fingerprint: string;
  features?: Record<string, number | boolean> | undefined;
  weak?: number;
  strong?: number;
}

export interface ExportStats {
  decisions: number;
  withPrompt: number;
  outcomes: number;
  /** Requests whose weak or strong quality the log does not tell. */
  unknownWeak: number;
  unknownStrong: number;
  feedback: number;
  retries: number;
}

export interface ExportResult {
  outcomes: OutcomeLine[];
  features: FeatureLine[];
  stats: ExportStats;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export function exportOutcomes(
  entries: Iterable<DecisionLogEntry>,
  opts: { assumeStrong?: number | undefined } = {},
): ExportResult {
  const originals: DecisionEntry[] = [];
  const retryOf = new Map<string, DecisionEntry>();
  const feedback = new Map<string, number[]>();
  const stats: ExportStats = {
    decisions: 0,
    withPrompt: 0,
    outcomes: 0,
    unknownWeak: 0,
    unknownStrong: 0,
    feedback: 0,
    retries: 0,
  };
  for (const e of entries) {
    if (e.type === 'feedback') {
      stats.feedback++;
      addFeedback(feedback, e);
    } else if (e.retryOf !== undefined) {
      stats.retries++;
      // The last retry of a request wins: it is the answer the user saw last.
      retryOf.set(e.retryOf, e);
    } else {
      originals.push(e);
    }
  }
  const outcomes: OutcomeLine[] = [];
  const features: FeatureLine[] = [];
  for (const d of originals) {
    stats.decisions++;
    const scores = feedback.get(d.requestId);
    const weak = weakQuality(d, scores);
    const strong = strongQuality(d, scores, retryOf.get(d.requestId), feedback) ?? opts.assumeStrong;
    if (weak === undefined) stats.unknownWeak++;
    if (strong === undefined) stats.unknownStrong++;
    features.push({
      requestId: d.requestId,
      route: d.route,
      initialTier: d.initialTier,
      tier: d.tier,
      score: d.score,
      confidence: d.confidence,
      fingerprint: d.fingerprint,
      features: d.features,
      ...(weak !== undefined ? { weak } : {}),
      ...(strong !== undefined ? { strong } : {}),
    });
    // An empty prompt (a request of system messages only) is nothing a router can learn from.
    if (d.prompt === undefined || d.prompt === '') continue;
    stats.withPrompt++;
    if (weak === undefined || strong === undefined) continue;
    outcomes.push({ prompt: d.prompt, weak, strong, group: d.route });
    stats.outcomes++;
  }
  return { outcomes, features, stats };
}

function addFeedback(m: Map<string, number[]>, f: FeedbackEntry): void {
  const xs = m.get(f.requestId);
  if (xs) xs.push(f.score);
  else m.set(f.requestId, [f.score]);
}

function weakQuality(d: DecisionEntry, scores: number[] | undefined): number | undefined {
  const first = d.cascade[0];
  if (first && first.tier === d.initialTier && !first.ok) return 0;
  if (d.tier === d.initialTier && d.status === 200 && scores) return mean(scores);
  return undefined;
}

function strongQuality(
  d: DecisionEntry,
  scores: number[] | undefined,
  retry: DecisionEntry | undefined,
  feedback: Map<string, number[]>,
): number | undefined {
  if (d.tier !== d.initialTier && d.status === 200) return scores ? mean(scores) : 1;
  if (retry && retry.status === 200 && retry.tier !== d.initialTier) {
    const r = feedback.get(retry.requestId);
    return r ? mean(r) : 1;
  }
  return undefined;
}
