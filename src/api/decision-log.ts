/**
 * The decision log's lines (JSONL, opt-in with `tiermesh sidecar --decision-log`): one `decision` line per answered
 * chat request (the routing decision and its outcome: cascade checks, escalations, cost, status) and one
 * `feedback` line per accepted POST /v1/feedback. A feedback retry is a new `decision` whose `retryOf` names the
 * request it re-ran. `prompt` and `comment` appear only when the sidecar runs with --log-prompts.
 *
 * `tiermesh outcomes export` reads these lines back; loose objects so a newer sidecar's extra fields still parse.
 */
import { z } from 'zod';

export const cascadeVerdictEntry = z.looseObject({
  tier: z.string(),
  model: z.string(),
  ok: z.boolean(),
  check: z.string().optional(),
  to: z.string().optional().describe('Tier the cascade moved on to after this failed check.'),
});

export const decisionEntry = z.looseObject({
  type: z.literal('decision'),
  at: z.string().describe('RFC 3339 time the answer finished.'),
  requestId: z.string(),
  route: z.string(),
  initialTier: z.string().describe('Tier chosen before any cascade escalation.'),
  tier: z.string().describe('Tier that served the answer.'),
  model: z.string(),
  provider: z.string(),
  source: z.string(),
  score: z.number(),
  confidence: z.number(),
  signals: z.array(z.string()),
  fingerprint: z.string(),
  features: z.record(z.string(), z.union([z.number(), z.boolean()])).optional(),
  task: z.string().optional(),
  feature: z.string().optional(),
  costUSD: z.number(),
  cascade: z.array(cascadeVerdictEntry).describe('One verdict per checked answer, in order.'),
  escalations: z.number().int().min(0),
  bandEscalated: z
    .boolean()
    .describe("The classifier's confidence band moved the request up one tier before the call."),
  status: z.number().int(),
  stream: z.boolean(),
  retryOf: z.string().optional(),
  prompt: z.string().optional(),
});
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
