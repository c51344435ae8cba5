/** ModelBudget: how much a namespace (or one of its routes) may spend per window, and what happens past it. */
import { z } from 'zod';
import { isValidTimeZone } from '../budget/window.js';
import { API_VERSION, dnsLabel, objectMeta, statusBase, userId } from './common.js';

export const budgetPeriods = ['daily', 'weekly', 'monthly'] as const;
export type BudgetPeriod = (typeof budgetPeriods)[number];

export const budgetActions = ['reject', 'downgrade'] as const;
export type BudgetAction = (typeof budgetActions)[number];

export const budgetStates = ['Ok', 'Warning', 'Exceeded'] as const;
export type BudgetState = (typeof budgetStates)[number];

export const modelBudgetSpec = z
  .object({
    routeRef: dnsLabel.optional().describe('Limit only this ModelRoute; the whole namespace when empty.'),
    window: z
      .object({
        period: z
          .enum(budgetPeriods)
          .describe('daily (from midnight), weekly (from Monday) or monthly (from the 1st), in timezone.'),
        timezone: z
          .string()
          .max(64)
          .regex(
            /^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$|^UTC$/,
            'must be an IANA time zone such as UTC or Europe/Berlin',
          )
          // The pattern lets a typo through (Europe/Berln); this runtime's zone database decides.
          .refine(
            isValidTimeZone,
            'must be an IANA time zone this runtime knows, such as UTC or Europe/Berlin',
          )
          .default('UTC')
          .describe('IANA time zone the window boundaries fall in, e.g. Europe/Berlin (default UTC).'),
      })
      .describe('The period spend is counted over; it starts again at each boundary.'),
    limit: z
      .object({
        usd: z.number().min(0).max(100_000_000).describe('Spend allowed per window, in USD.'),
        tokens: z.number().int().min(0).optional().describe('Tokens (input + output) allowed per window.'),
      })
      .describe('What may be spent per window; past it, action applies.'),
    perUser: z
      .object({
        usd: z.number().min(0).optional().describe('Spend allowed per x-tiermesh-user per window.'),
        rpm: z.number().int().min(1).max(1_000_000).optional().describe('Requests per minute per user.'),
      })
      .optional()
      .describe(
        'Limits per user (x-tiermesh-user, else the request user field); requests naming no user skip them.',
      ),
    action: z
      .enum(budgetActions)
      .default('reject')
      .describe('reject answers 429; downgrade serves the cheapest tier.'),
    alertThresholds: z
      .array(z.number().int().min(1).max(100))
      .max(10)
      .default([50, 80, 100])
      .describe('Percent of the limit at which an Event is emitted.'),
  })
  // CEL for the apiserver, refine for standalone mode: the same rule either way.
  .refine((b) => b.perUser?.usd === undefined || b.perUser.usd <= b.limit.usd, {
    message: 'perUser.usd cannot exceed limit.usd',
    path: ['perUser', 'usd'],
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: '!has(self.perUser) || !has(self.perUser.usd) || self.perUser.usd <= self.limit.usd',
        message: 'perUser.usd cannot exceed limit.usd',
        fieldPath: '.perUser.usd',
      },
    ],
  });
export type ModelBudgetSpec = z.infer<typeof modelBudgetSpec>;

export const modelBudgetStatus = z.object({
  ...statusBase(
    'Ready: True while the budget is enforced; False with a reason (Invalid, RouteNotFound) and what to fix.',
  ),
  windowStart: z.string().optional().describe('RFC 3339 start of the current window.'),
  spentUSD: z
    .number()
    .min(0)
    .optional()
    .describe('USD spent in the current window, as the sidecars reported it.'),
  remainingUSD: z.number().optional().describe('spec.limit.usd less spentUSD (negative when overspent).'),
  spentTokens: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe('Tokens (input + output) used in the current window.'),
  state: z
    .enum(budgetStates)
    .optional()
    .describe(
      'Ok; Warning once an alert threshold below 100 was crossed; Exceeded at the limit (action applies).',
    ),
  alertsFired: z
    .array(z.number().int())
    .max(10)
    .optional()
    .describe('Thresholds already announced this window.'),
  topSpenders: z
    .array(
      z.object({
        user: userId.describe('x-tiermesh-user (or the OpenAI user field) as the app sent it.'),
        usd: z.number().min(0).describe('USD this user spent in the window.'),
        requests: z.number().int().min(0).describe('Requests this user made in the window.'),
        errorUSD: z.number().min(0).describe('How much of usd may be spend of users this entry replaced.'),
      }),
    )
    .max(10)
    .optional()
    .describe('Biggest spenders of the current window (bounded summary; no prompt data).'),
  /** Highest usage-batch sequence applied per sidecar, so a replayed batch is never counted twice. */
  reporters: z
    .record(z.string().max(253), z.number().int().min(0))
    .optional()
    .describe('Last applied usage batch per sidecar, for exactly-once accounting across restarts.'),
  /** When each reporter last had a batch applied (unix seconds): entries idle past the retention are compacted. */
  reportersSeen: z
    .record(z.string().max(253), z.number().int().min(0))
    .optional()
    .describe(
      'Unix seconds of the last applied batch per sidecar; idle entries are compacted after a retention.',
    ),
  /** Spend sidecars made on local knowledge while the operator was unreachable (also counted in spentUSD). */
  localSpentUSD: z
    .number()
    .min(0)
    .optional()
    .describe('USD sidecars spent beyond their slices while the operator was unreachable, this window.'),
  /** Slices the leader handed out and sidecars have not reported as spent yet; a new leader starts from these. */
  grants: z
    // usd < 0: the sidecar overdrew its slice (requests cost more than estimated) and owes that from its next one.
    .record(
      z.string().max(253),
      z.object({
        usd: z.number().describe('USD left in the slice (negative: overdrawn, owed from the next slice).'),
        expiresAt: z.number().int().min(0).describe('When the slice lapses, in epoch milliseconds.'),
      }),
    )
    .optional()
    .describe(
      'Outstanding allowance slices per sidecar (USD, negative when overdrawn; expiry in epoch ms), so a failover never re-grants them.',
    ),
});
export type ModelBudgetStatus = z.infer<typeof modelBudgetStatus>;

export const modelBudget = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('ModelBudget'),
  metadata: objectMeta,
  spec: modelBudgetSpec,
  status: modelBudgetStatus.optional(),
});
export type ModelBudget = z.infer<typeof modelBudget>;
