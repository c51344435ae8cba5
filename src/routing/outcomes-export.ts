/**
 * Routing outcomes from a decision log: the `{prompt, weak, strong, group}` lines `tiermesh eval --outcomes` and
 * `tiermesh train --outcomes` read, or, without prompt text, the features of each decision for threshold
 * calibration.
 *
 *   exportOutcomes(entries, { assumeStrong? }): { outcomes, features, stats }
 *   SKIP_REASONS: what each `stats.skipped` reason means, in words
 *
 * An outcome line says how the route's cheapest tier ("weak") and the tier above it ("strong") did on one prompt, so
 * only a request whose first answer was asked of the cheapest tier is one: a request the router (or a task type, a
 * sticky conversation, a context bump, an explicit model) sent higher never tried the cheap tier, and one that tier
 * promotion moved off it got no cheap answer at all. Labelling those as the cheap tier's outcomes would teach a
 * model the router's own choices. Only decision-log v2 lines record where the first tier sits (`tierIndex`); older
 * lines are skipped and counted.
 *
 * Per original request (a `decision` without `retryOf`) that was first sent to the cheapest tier, `initialTier`:
 *   "weak", from the last answer of that tier (a strict retry may have answered twice):
 *     - the mean feedback score on the request, if that answer is the one the client got (the user's own rating of
 *       what they saw outranks a check, which may have fired wrongly on an answer served when escalation failed);
 *     - else 0 when a cascade check failed it (it escalated: empty, refusal, broken JSON, the judge);
 *     - else unknown.
 *   "strong", from the tier the cascade moved up to (its last answer there):
 *     - if that answer is the one the client got, the mean feedback score on the request;
 *     - else 0 when a cascade check failed that answer;
 *     - else, if it was served, 1 (it was served after the weaker answer failed);
 *     - else, with no answer above in the request itself, a feedback retry that re-ran it one tier up and was served
 *       (status 200), judged the same way from the retry's own answers and feedback; of several, the latest served
 *       one that tells it (a later retry that failed answered nothing);
 *     - else `assumeStrong` when given (e.g. 1: "the strong tier would have been right"), else unknown.
 *   So explicit feedback on the served answer > a cascade check's verdict > an assumption.
 *   Feedback and retries name a request by id, which a client may reuse (`x-request-id`): each belongs to the latest
 *   decision with that id before it in the log.
 *   A request with either unknown, or without prompt text, gives no outcome line; `stats.skipped` counts each
 *   skipped request once, under the first reason that applies. `group` is the route. Streams are never checked by
 *   the cascade, so only their feedback speaks for them.
 *
 * Features lines are written for every decision (the score distribution of all traffic is what threshold calibration
 * needs), with `weak`/`strong` only where the rules above tell them.
 */
import type { DecisionEntry, DecisionLogEntry } from '../api/decision-log.js';

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
  /** A learned route's model score (`gain`), its percentile and, for a tied gain, the tie (decision-log.ts). */
  learned?: DecisionEntry['learned'];
  weak?: number;
  strong?: number;
}

export type SkipReason =
  | 'old-format'
  | 'not-cheapest'
  | 'promoted'
  | 'weak-unknown'
  | 'strong-unknown'
  | 'no-prompt';

/** In the order they are tried: a request is counted under the first that applies. */
export const SKIP_REASONS: Readonly<Record<SkipReason, string>> = {
  'old-format': 'written before decision-log v2, which records the tier first tried',
  'not-cheapest': "first sent to a tier above the route's cheapest (or to a model on no tier)",
  promoted: 'tier promotion moved it off the cheapest tier before that tier answered',
  'weak-unknown': 'the cheap answer failed no check and has no feedback',
  'strong-unknown': 'nothing tells how the tier above would have done',
  'no-prompt': 'no prompt text (the sidecar ran without --log-prompts)',
};

export interface ExportStats {
  decisions: number;
  withPrompt: number;
  outcomes: number;
  /** Original requests that gave no outcome line, by the first reason that applies. */
  skipped: Record<SkipReason, number>;
  feedback: number;
  retries: number;
}

export interface ExportResult {
  outcomes: OutcomeLine[];
  features: FeatureLine[];
  stats: ExportStats;
}

/** A decision-log v2 line: it records where its first tier sits. */
type V2Decision = DecisionEntry & { tierIndex: number };
type Verdict = DecisionEntry['cascade'][number];

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * One decision and what the log says of it afterwards. Feedback and retries name a request by id, and a client may
 * send the same `x-request-id` on several requests: each line belongs to the latest decision with that id before it
 * in the log (the one the sidecar's ring held when it accepted the feedback), so one rating labels one decision.
 */
interface Decided {
  d: DecisionEntry;
  scores: number[];
  /** Feedback retries that re-ran this decision, in log order. */
  retries: Decided[];
}

export function exportOutcomes(
  entries: Iterable<DecisionLogEntry>,
  opts: { assumeStrong?: number | undefined } = {},
): ExportResult {
  const originals: Decided[] = [];
  const latest = new Map<string, Decided>();
  const skipped = Object.fromEntries(Object.keys(SKIP_REASONS).map((k) => [k, 0])) as Record<
    SkipReason,
    number
  >;
  const stats: ExportStats = { decisions: 0, withPrompt: 0, outcomes: 0, skipped, feedback: 0, retries: 0 };
  for (const e of entries) {
    if (e.type === 'feedback') {
      stats.feedback++;
      latest.get(e.requestId)?.scores.push(e.score);
      continue;
    }
    const decided: Decided = { d: e, scores: [], retries: [] };
    if (e.retryOf !== undefined) {
      stats.retries++;
      latest.get(e.retryOf)?.retries.push(decided);
    } else {
      originals.push(decided);
    }
    // After the lookup: a retry carrying its original's id still belongs to that original.
    latest.set(e.requestId, decided);
  }
  const outcomes: OutcomeLine[] = [];
  const features: FeatureLine[] = [];
  for (const decided of originals) {
    const d = decided.d;
    stats.decisions++;
    const hasPrompt = d.prompt !== undefined && d.prompt !== '';
    if (hasPrompt) stats.withPrompt++;
    const o = outcomeOf(decided, opts.assumeStrong);
    features.push({
      requestId: d.requestId,
      route: d.route,
      initialTier: d.initialTier,
      tier: d.tier,
      score: d.score,
      confidence: d.confidence,
      fingerprint: d.fingerprint,
      features: d.features,
      ...(d.learned ? { learned: d.learned } : {}),
      ...(o.weak !== undefined ? { weak: o.weak } : {}),
      ...(o.strong !== undefined ? { strong: o.strong } : {}),
    });
    if (o.skip !== undefined) skipped[o.skip]++;
    // An empty prompt (a request of system messages only) is nothing a router can learn from.
    else if (d.prompt === undefined || d.prompt === '') skipped['no-prompt']++;
    else {
      outcomes.push({ prompt: d.prompt, weak: o.weak, strong: o.strong, group: d.route });
      stats.outcomes++;
    }
  }
  return { outcomes, features, stats };
}

/** Both qualities, or why there is none (prompt aside), with whatever of them is known. */
type Outcome =
  | { weak: number; strong: number; skip?: undefined }
  | { weak?: number | undefined; strong?: number | undefined; skip: Exclude<SkipReason, 'no-prompt'> };

function outcomeOf({ d, scores, retries }: Decided, assumeStrong: number | undefined): Outcome {
  if (!isV2(d)) return { skip: 'old-format' };
  if (d.tierIndex !== 0) return { skip: 'not-cheapest' };
  if (d.promotedFrom !== undefined) return { skip: 'promoted' };
  const cheap = d.initialTier;
  const weak = tierQuality(d, cheap, scores, undefined);
  // The cascade only moves up: the first answer of another tier is the tier above's.
  const above = d.cascade.find((v) => v.tier !== cheap)?.tier;
  const strong =
    (above !== undefined ? tierQuality(d, above, scores, 1) : retryQuality(retries, cheap)) ?? assumeStrong;
  if (weak === undefined) return { weak, strong, skip: 'weak-unknown' };
  if (strong === undefined) return { weak, strong, skip: 'strong-unknown' };
  return { weak, strong };
}

function isV2(d: DecisionEntry): d is V2Decision {
  return d.v !== undefined && d.v >= 2 && d.tierIndex !== undefined;
}

/**
 * How `tier` did on request `d`, from its last answer there. When that answer is the one the client got, its
 * feedback speaks first: the user saw the answer, and a check (a refusal or empty-answer heuristic) may have fired
 * wrongly, and was served anyway when the escalation failed. Then a failed cascade check: 0. Then, for a served
 * answer without feedback, `unrated`. Else unknown.
 */
function tierQuality(
  d: DecisionEntry,
  tier: string,
  scores: number[],
  unrated: number | undefined,
): number | undefined {
  const last: Verdict | undefined = d.cascade.findLast((v) => v.tier === tier);
  if (!last) return undefined;
  const served = d.status === 200 && d.tier === tier && last === d.cascade.at(-1);
  if (served && scores.length > 0) return mean(scores);
  if (!last.ok) return 0;
  return served ? unrated : undefined;
}

/**
 * The strong tier's quality from a feedback retry one tier up: only a v2 retry first sent above `cheap` and served
 * (status 200). Of several retries the latest that tells it wins: the answer the user saw last, and a later retry
 * that failed (a 502) answered nothing, so it does not hide the good one before it.
 */
function retryQuality(retries: Decided[], cheap: string): number | undefined {
  for (let i = retries.length - 1; i >= 0; i--) {
    const { d: retry, scores } = retries[i] as Decided;
    if (!isV2(retry) || retry.status !== 200 || retry.promotedFrom !== undefined) continue;
    if (retry.tierIndex <= 0 || retry.initialTier === cheap) continue;
    const q = tierQuality(retry, retry.initialTier, scores, 1);
    if (q !== undefined) return q;
  }
  return undefined;
}
