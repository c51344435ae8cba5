/**
 * The decision log's lines (JSONL, opt-in with `tiermesh sidecar --decision-log`): one `decision` line per answered
 * chat request (the routing decision and its outcome: cascade checks, escalations, cost, status) and one
 * `feedback` line per accepted POST /v1/feedback. A feedback retry is a new `decision` whose `retryOf` names the
 * request it re-ran. `prompt` and `comment` appear only when the sidecar runs with --log-prompts.
 *
 * `tiermesh outcomes export` reads these lines back; loose objects so a newer sidecar's extra fields still parse.
 *
 * Versions (`v` on a decision line; absent means 1). v2 adds what tells whether an outcome compares the cheapest tier
 * with a stronger one: `tierIndex` (where `initialTier` sits among the route's tiers), `promotedFrom` (tier promotion
 * moved the request off `initialTier` before any answer) and `checked` on each cascade verdict. A v1 line still
 * parses; the export skips (and counts) it, since it cannot tell a request first sent to premium from one that
 * escalated there. Later v2 lines may carry `learned` (the learned model's own score, apart from the tier-scale
 * `score`); a line without it still parses.
 */
import { z } from 'zod';

/** The decision-log line format this sidecar writes. */
export const DECISION_LOG_VERSION = 2;

export const cascadeVerdictEntry = z.looseObject({
  tier: z.string(),
  model: z.string(),
  ok: z.boolean(),
  checked: z
    .boolean()
    .optional()
    .describe(
      'v2: a quality check ran on this answer (false: served unchecked: a stream, a cascade that is off, or a ' +
        "last step whose only check left was the judge). The last step's answer (no tier above, or no escalation " +
        'left) is checked only to record the verdict: a failed one was served anyway and has no `to`.',
    ),
  check: z.string().optional(),
  to: z
    .string()
    .optional()
    .describe(
      'Tier the cascade moved on to after this failed check; absent on a failed check of the answer served last.',
    ),
});

export const learnedScoreEntry = z.looseObject({
  gain: z
    .number()
    .optional()
    .describe(
      "The learned model's own score for the prompt: its predicted gain (strong - weak quality), the scale of " +
        '`classifier.threshold`.',
    ),
  percentile: z
    .number()
    .describe(
      "Where the router placed the prompt among the route's recent traffic (or the model's calibration mix), in " +
        '[0, 1]; `score` is derived from it. For a tied gain, a place inside the tie drawn from a hash of the prompt.',
    ),
  tie: z
    .looseObject({ lo: z.number(), hi: z.number() })
    .optional()
    .describe(
      'Set when the gain tied with others: the percentile interval the tie spans. `percentile` (and `score`) then ' +
        'say where the prompt hash put it inside, not anything the model said.',
    ),
});

export const decisionEntry = z
  .looseObject({
    type: z.literal('decision'),
    v: z.number().int().min(2).optional().describe('Line format version; absent on v1 lines.'),
    at: z.string().describe('RFC 3339 time the answer finished.'),
    requestId: z.string(),
    route: z.string(),
    initialTier: z.string().describe('Tier chosen before any cascade escalation or tier promotion.'),
    tierIndex: z
      .number()
      .int()
      .min(-1)
      .optional()
      .describe(
        "v2: index of initialTier in the route's tiers, 0 being the cheapest; -1 for an explicit model on no tier.",
      ),
    promotedFrom: z
      .string()
      .optional()
      .describe(
        'v2: every target of initialTier failed and tier promotion served the request from another tier.',
      ),
    tier: z.string().describe('Tier that served the answer.'),
    model: z.string(),
    provider: z.string(),
    source: z.string(),
    score: z
      .number()
      .describe(
        "The classifier's difficulty score on the route's tier scale; for a learned route derived from " +
          '`learned.percentile`.',
      ),
    confidence: z.number(),
    signals: z.array(z.string()),
    fingerprint: z.string(),
    features: z.record(z.string(), z.union([z.number(), z.boolean()])).optional(),
    learned: learnedScoreEntry
      .optional()
      .describe('What the learned classifier said, when it decided (learned) or took part (hybrid).'),
    task: z.string().optional(),
    feature: z.string().optional(),
    costUSD: z.number(),
    cascade: z
      .array(cascadeVerdictEntry)
      .describe(
        "One verdict per answer of the route's tiers, in order (not a hedge's loser, not the judge's).",
      ),
    escalations: z
      .number()
      .int()
      .min(0)
      .describe(
        'Failed checks that moved the request on (those with `to`); a check recorded on the last answer is none.',
      ),
    bandEscalated: z
      .boolean()
      .describe("The classifier's confidence band moved the request up one tier before the call."),
    status: z.number().int(),
    stream: z.boolean(),
    retryOf: z.string().optional(),
    prompt: z.string().optional(),
  })
  // A line that says v2 and lacks what v2 adds is broken, not old: refused rather than read as either.
  .refine(
    (e) =>
      e.v === undefined || (e.tierIndex !== undefined && e.cascade.every((c) => c.checked !== undefined)),
    {
      message: 'a v2 decision line needs tierIndex and a checked flag on every cascade verdict',
      path: ['tierIndex'],
    },
  );
export type DecisionEntry = z.infer<typeof decisionEntry>;

export const feedbackEntry = z.looseObject({
  type: z.literal('feedback'),
  at: z.string(),
  requestId: z.string(),
  route: z.string(),
  tier: z.string(),
  initialTier: z.string(),
  model: z.string(),
  score: z.number().min(0).max(1),
  rating: z.enum(['up', 'down']).optional(),
  comment: z.string().optional(),
  retry: z.boolean(),
});
export type FeedbackEntry = z.infer<typeof feedbackEntry>;

export const decisionLogEntry = z.discriminatedUnion('type', [decisionEntry, feedbackEntry]);
export type DecisionLogEntry = z.infer<typeof decisionLogEntry>;
