/** ModelRoute: which providers and models a namespace may use, how they are tiered, and how requests are routed. */
import { z } from 'zod';
import { regexHazard } from '../routing/regex-hazard.js';
import { API_VERSION, dnsLabel, keyRef, labelSelector, modelName, objectMeta, statusBase } from './common.js';

export const providerTypes = [
  'openai',
  'anthropic',
  'openai-compatible',
  'gemini',
  'azure-openai',
  'simulated',
] as const;
export type ProviderType = (typeof providerTypes)[number];

export const simulatedSettings = z.object({
  latencyMs: z.number().int().min(0).max(600_000).default(40).describe('Fixed time to the full answer.'),
  tokensPerSecond: z.number().int().min(1).max(100_000).default(200).describe('Streaming pace.'),
  reply: z.string().max(8192).optional().describe('Fixed answer; by default the model echoes a summary.'),
});

export const azureSettings = z.object({
  apiVersion: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}(-preview)?$/, 'must look like 2024-10-21 or 2025-01-01-preview')
    .default('2024-10-21')
    .describe('The api-version query parameter.'),
  deployment: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must use only A-Z a-z 0-9 . _ -')
    .optional()
    .describe(
      "Deployment serving every model of this provider; by default a target's upstream model id names it.",
    ),
  auth: z
    .enum(['api-key', 'bearer'])
    .default('api-key')
    .describe(
      'api-key: apiKey is sent in the api-key header. bearer: apiKey holds an Entra ID access token (usually a file ' +
        'a token refresher rewrites), sent as Authorization: Bearer and re-read when it changes or expires.',
    ),
});
export type AzureSettings = z.infer<typeof azureSettings>;

export const provider = z
  .object({
    name: dnsLabel.describe('Name the models[].targets[].provider entries refer to; unique in the route.'),
    type: z
      .enum(providerTypes)
      .describe(
        'Wire format and defaults: openai, anthropic, gemini, azure-openai, openai-compatible (any server speaking ' +
          'the OpenAI API, baseURL required) or simulated (deterministic answers, no network, for tests and demos).',
      ),
    baseURL: z
      .string()
      .max(2048)
      .regex(/^https?:\/\/[^\s]+$/, 'must be an http(s) URL')
      .optional()
      .describe(
        'Defaults to the vendor URL for openai, anthropic and gemini; required for openai-compatible, and for ' +
          'azure-openai the resource endpoint (https://<resource>.openai.azure.com).',
      ),
    apiKey: keyRef
      .optional()
      .describe(
        'Where the API key comes from: exactly one of secretKeyRef (in a cluster), env or file (standalone). ' +
          'Required for openai, anthropic, gemini and azure-openai.',
      ),
    headers: z
      .record(z.string().max(256), z.string().max(1024))
      .meta({ maxProperties: 32 })
      .optional()
      .describe('Extra headers (never secrets).'),
    azure: azureSettings.optional().describe('azure-openai only: api-version, deployment and auth mode.'),
    simulated: simulatedSettings
      .optional()
      .describe('simulated only: latency, streaming pace and a fixed reply.'),
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: "self.type != 'openai-compatible' || has(self.baseURL)",
        message: 'openai-compatible providers need baseURL',
        fieldPath: '.baseURL',
      },
      {
        rule: "self.type != 'azure-openai' || has(self.baseURL)",
        message: 'azure-openai providers need baseURL (the resource endpoint)',
        fieldPath: '.baseURL',
      },
      {
        rule: "self.type == 'simulated' || self.type == 'openai-compatible' || has(self.apiKey)",
        message: 'openai, anthropic, gemini and azure-openai providers need apiKey',
        fieldPath: '.apiKey',
      },
      {
        rule: "self.type == 'azure-openai' || !has(self.azure)",
        message: 'azure settings apply to azure-openai providers only',
        fieldPath: '.azure',
      },
    ],
  });
export type Provider = z.infer<typeof provider>;

export const modelTarget = z.object({
  provider: dnsLabel.describe('Name of an entry in spec.providers.'),
  model: modelName.optional().describe("Upstream model id; defaults to the registry entry's name."),
});

/** Request parameters a model entry may default, cap or drop (the sampling and length knobs models disagree on). */
export const adaptableParams = [
  'temperature',
  'top_p',
  'max_tokens',
  'max_completion_tokens',
  'presence_penalty',
  'frequency_penalty',
  'seed',
  'n',
  'stop',
  'logprobs',
  'top_logprobs',
  'logit_bias',
  'parallel_tool_calls',
  'reasoning_effort',
  'user',
] as const;

/** The OpenAI API a target is called on: chat completions (the default) or the Responses API. */
export const upstreamApis = ['chat-completions', 'responses'] as const;
export type UpstreamApi = (typeof upstreamApis)[number];

export const requestAdaptation = z
  .object({
    api: z
      .enum(upstreamApis)
      .optional()
      .describe(
        'The OpenAI API this model is called on, for openai and openai-compatible providers: chat-completions, or ' +
          'responses (POST /responses) for models served only there. By default responses for the Responses-only ' +
          'OpenAI models (gpt-5-codex, gpt-5-pro, o3-pro, o1-pro, codex-mini-latest families) on openai providers, ' +
          'chat-completions otherwise.',
      ),
    systemPrefix: z
      .string()
      .min(1)
      .max(8192)
      .optional()
      .describe('Prepended to the system prompt (a system message is added when the request has none).'),
    defaults: z
      .object({
        temperature: z.number().min(0).max(2).optional().describe('Sampling temperature, 0 to 2.'),
        top_p: z.number().min(0).max(1).optional().describe('Nucleus sampling mass, 0 to 1.'),
        max_tokens: z
          .number()
          .int()
          .min(1)
          .max(10_000_000)
          .optional()
          .describe('Output limit (sent as maxTokensParam says).'),
        reasoning_effort: z
          .enum(['minimal', 'low', 'medium', 'high'])
          .optional()
          .describe('For reasoning models: minimal, low, medium or high.'),
      })
      .optional()
      .describe('Set when the request leaves them out.'),
    maxTokensCap: z
      .number()
      .int()
      .min(1)
      .max(10_000_000)
      .optional()
      .describe('Upper bound on max_tokens / max_completion_tokens sent to this model.'),
    maxTokensParam: z
      .enum(['max_tokens', 'max_completion_tokens'])
      .optional()
      .describe(
        'The one parameter that carries the output limit to this model (the other is renamed to it). By default ' +
          'max_completion_tokens for OpenAI reasoning models (o1, o3, o4-mini, gpt-5 families, by upstream model id ' +
          'or entry name) on openai and azure-openai providers, which refuse max_tokens; as the client sent it ' +
          'otherwise. Set it for an Azure deployment whose names do not tell the model.',
      ),
    drop: z
      .array(z.enum(adaptableParams))
      .max(adaptableParams.length)
      .optional()
      .describe('Parameters removed before the call (e.g. temperature for reasoning models that reject it).'),
  })
  .strict();
export type RequestAdaptation = z.infer<typeof requestAdaptation>;

export const modelEntry = z.object({
  name: modelName.describe(
    'Registry name: what tiers, requests (model: <name>) and budgets refer to; the upstream id unless a target overrides it.',
  ),
  targets: z.array(modelTarget).min(1).max(8).describe('Provider targets in failover order.'),
  pricing: z
    .object({
      inputPerMTok: z.number().min(0).max(10_000).describe('USD per 1M input tokens.'),
      outputPerMTok: z.number().min(0).max(10_000).describe('USD per 1M output tokens.'),
      cachedInputPerMTok: z
        .number()
        .min(0)
        .max(10_000)
        .optional()
        .describe('USD per 1M input tokens read from a prompt cache (default: inputPerMTok).'),
      cacheWritePerMTok: z
        .number()
        .min(0)
        .max(10_000)
        .optional()
        .describe('USD per 1M input tokens written to a prompt cache (default: inputPerMTok).'),
    })
    .describe('Price list the sidecar costs every call with (budgets, savings, x-tiermesh-cost-usd).'),
  contextWindow: z.number().int().min(256).max(100_000_000).describe('Max prompt + completion tokens.'),
  maxOutputTokens: z
    .number()
    .int()
    .min(1)
    .max(10_000_000)
    .optional()
    .describe('Most tokens the model writes in one answer; used to estimate cost and fit before the call.'),
  capabilities: z
    .object({
      vision: z.boolean().optional().describe('Image content parts.'),
      tools: z.boolean().optional().describe('tools / tool_calls (and the legacy functions API).'),
      jsonSchema: z.boolean().optional().describe('response_format json_schema.'),
      streaming: z.boolean().optional().describe('stream: true.'),
    })
    .optional()
    .describe(
      'What the model supports; an absent field means supported. Requests needing a capability set to false skip the model.',
    ),
  request: requestAdaptation
    .optional()
    .describe(
      'How a request is adapted for this model after routing: a system prefix, parameter defaults and caps, parameters it rejects.',
    ),
});
export type ModelEntry = z.infer<typeof modelEntry>;

export const tier = z.object({
  name: dnsLabel.describe(
    'Tier name, used by taskTypes, classifier rules, priority classes and x-tiermesh-tier.',
  ),
  models: z.array(modelName).min(1).max(16).describe('Models of this tier, in preference order.'),
});
export type Tier = z.infer<typeof tier>;

export const classifierRule = z.object({
  name: dnsLabel.describe('Rule name, shown in decisions (explain, the decision log).'),
  pattern: z
    .string()
    .max(1024)
    .superRefine((p, ctx) => {
      const hazard = regexHazard(p);
      if (hazard) ctx.addIssue({ code: 'custom', message: hazard });
    })
    .optional()
    .describe(
      'Case-insensitive regular expression over the prompt text. A repeated group that itself repeats (like (a+)+) is refused: it can take exponential time on some prompts.',
    ),
  keywords: z
    .array(z.string().max(128))
    .max(256)
    .optional()
    .describe(
      'Words or phrases matched as whole words, case-insensitively; any one of them makes the rule match.',
    ),
  tier: dnsLabel.describe('Tier the rule votes for.'),
  weight: z.number().min(0).max(10).default(1).describe('Weight of the vote (default 1).'),
});
export type ClassifierRule = z.infer<typeof classifierRule>;

export const classifierModes = ['rules', 'learned', 'hybrid'] as const;

/** Bounds of the operator's online calibration of one route (src/routing/online-calibration.ts). */
export const adapt = z
  .object({
    enabled: z.boolean().default(false).describe('Turn the online calibration on (default off).'),
    maxShift: z
      .number()
      .min(0)
      .max(0.5)
      .default(0.1)
      .describe('Most the premium share may be raised above the configured one (0.1: ten points).'),
    step: z.number().min(0.001).max(0.5).default(0.02).describe('Change of the premium share per move.'),
    intervalSeconds: z
      .number()
      .int()
      .min(5)
      .max(86_400)
      .default(300)
      .describe('Least time between two moves.'),
    minSamples: z
      .number()
      .int()
      .min(20)
      .max(1_000_000)
      .default(200)
      .describe('Requests routed since the last move before the next one may be decided.'),
    deadband: z
      .number()
      .min(0)
      .max(1)
      .default(0.02)
      .describe(
        'The shift is given back only while the escalation rate is this far below maxEscalationRate (hysteresis).',
      ),
  })
  .strict();
export type AdaptSpec = z.infer<typeof adapt>;

export const classifier = z.object({
  mode: z
    .enum(classifierModes)
    .default('learned')
    .describe(
      'learned (default): a linear model trained on real model outcomes scores the prompt; rules: the structural ' +
        'rule classifier (length, code, maths, reasoning words) plus spec.classifier.rules; hybrid: the mean of both ' +
        "scores. A route's own rules apply in every mode.",
    ),
  confidenceBand: z
    .number()
    .min(0)
    .max(0.5)
    .default(0.1)
    .describe('A score this close to a tier boundary escalates one tier.'),
  premiumShare: z
    .number()
    .min(0)
    .max(1)
    .optional()
    .describe('Learned mode: target share of requests sent above the cheapest tier; sets the threshold.'),
  threshold: z
    .number()
    .min(0)
    .max(1)
    .optional()
    .describe(
      "Learned mode: explicit threshold on the model's predicted quality gain (strong - weak); premiumShare is usually the better knob.",
    ),
  modelRef: z
    .string()
    .min(1)
    .max(1024)
    .optional()
    .describe(
      "Learned/hybrid mode: a model from 'tiermesh train' instead of the shipped one. In-cluster: a ConfigMap name whose model.json is mounted under the sidecar's model directory; standalone: a file path. Validated at load; a refused model keeps the previous one.",
    ),
  rules: z
    .array(classifierRule)
    .max(64)
    .optional()
    .describe("The route's own rules (every mode): each matching rule votes for its tier with its weight."),
  adapt: adapt
    .optional()
    .describe(
      'Online calibration (learned and hybrid mode, in a cluster): the operator moves the premium share within ' +
        'maxShift to hold spec.monitoring.maxEscalationRate on real traffic (docs/feedback.md). Off by default.',
    ),
});
export type ClassifierSpec = z.infer<typeof classifier>;

export const cascadeChecks = ['empty', 'refusal', 'json', 'hedging', 'logprobs', 'judge'] as const;

/** Thresholds of the `logprobs` check (src/routing/cascade.ts): applies when the provider returned token logprobs. */
export const logprobsCheck = z.object({
  minMean: z
    .number()
    .min(-100)
    .max(0)
    .default(-1)
    .describe('Escalate when the mean token logprob of the answer is below this.'),
  minToken: z
    .number()
    .min(-100)
    .max(0)
    .optional()
    .describe('Escalate when any single token logprob is below this.'),
});

/** The `judge` check (src/routing/judge.ts): a cheap model of the route rates the answer 0-1 against the question. */
export const judgeCheck = z.object({
  model: modelName.describe('Name of an entry in spec.models that does the rating; its cost is booked.'),
  minScore: z.number().min(0).max(1).default(0.5).describe('Escalate below this score.'),
  timeoutMs: z
    .number()
    .int()
    .min(100)
    .max(60_000)
    .default(5_000)
    .describe('A judge slower than this (or failing) passes the answer; counted.'),
});

/** Retry on the same tier with a stricter instruction when the `json` check fails (src/routing/strict-retry.ts). */
export const strictRetry = z.object({
  enabled: z.boolean().default(true).describe('Default true.'),
  instruction: z
    .string()
    .min(1)
    .max(2048)
    .optional()
    .describe('Opening of the stricter system message; the failure and the expected format are appended.'),
});

export const cascade = z.object({
  enabled: z.boolean().default(true).describe('Check answers and escalate failing ones (default true).'),
  checks: z
    .array(z.enum(cascadeChecks))
    .max(6)
    .default(['empty', 'refusal', 'json'])
    .describe(
      'Checks an answer must pass: empty, refusal, json (when JSON was asked for), hedging, logprobs, judge ' +
        '(needs cascade.judge). Default empty, refusal, json.',
    ),
  maxEscalations: z
    .number()
    .int()
    .min(0)
    .max(4)
    .default(1)
    .describe('Most times one request is sent one tier up after a failed check (default 1; 0: never).'),
  logprobs: logprobsCheck.optional().describe('Thresholds of the logprobs check.'),
  judge: judgeCheck.optional().describe('The model and score of the judge check.'),
  strictRetry: strictRetry
    .optional()
    .describe(
      'When an answer fails the json check, ask the same tier once more with a stricter system instruction before escalating.',
    ),
});

export const resilience = z.object({
  timeoutMs: z
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(60_000)
    .describe('Whole-call deadline per attempt: a whole JSON answer, or a stream until its first chunk.'),
  firstByteTimeoutMs: z
    .number()
    .int()
    .min(50)
    .max(600_000)
    .optional()
    .describe(
      'Deadline for the first output. Streams: the first chunk with text, a tool call or a finish (a chunk with only ' +
        'the role does not count); 15000 when unset. Raise it for reasoning models, which think before their first ' +
        'text. Whole (non-streamed) answers: OpenAI-style servers send nothing before the whole answer, so only a set ' +
        'value applies to them; unset, timeoutMs alone bounds them.',
    ),
  streamIdleTimeoutMs: z
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(30_000)
    .describe(
      'Streams: longest wait for the next chunk once the first arrived; a stream that keeps flowing runs on. ' +
        'Also the longest a streaming client may take nothing (its socket full): it is then cut, the upstream call ' +
        'closed and what was streamed booked.',
    ),
  streamTimeoutMs: z
    .number()
    .int()
    .min(1_000)
    .max(86_400_000)
    .optional()
    .describe(
      'Streams: optional deadline for the whole stream, first chunk to last. Unset: no limit while chunks flow.',
    ),
  retries: z
    .object({
      attempts: z.number().int().min(0).max(5).default(1).describe('Retries per target after the first try.'),
      backoffMs: z
        .number()
        .int()
        .min(0)
        .max(60_000)
        .default(100)
        .describe('First retry delay; doubles per retry (default 100).'),
      maxBackoffMs: z
        .number()
        .int()
        .min(0)
        .max(120_000)
        .default(2_000)
        .describe(
          'Longest retry delay, and longest Retry-After honoured before failing over (default 2000).',
        ),
    })
    .default({ attempts: 1, backoffMs: 100, maxBackoffMs: 2_000 })
    .describe('Retries of a failed call on the same target before the next target.'),
  breaker: z
    .object({
      errorThresholdPercentage: z
        .number()
        .int()
        .min(1)
        .max(100)
        .default(50)
        .describe(
          'Failure rate (percent of calls in the window) above which the breaker opens (default 50).',
        ),
      volumeThreshold: z
        .number()
        .int()
        .min(1)
        .max(10_000)
        .default(5)
        .describe('Calls in the window before the rate can open the breaker (default 5).'),
      resetTimeoutMs: z
        .number()
        .int()
        .min(100)
        .max(600_000)
        .default(10_000)
        .describe('How long an open breaker refuses calls before one probe is let through (default 10000).'),
      rollingWindowMs: z
        .number()
        .int()
        .min(1_000)
        .max(3_600_000)
        .default(30_000)
        .describe('Window the failure rate is measured over (default 30000).'),
    })
    .default({
      errorThresholdPercentage: 50,
      volumeThreshold: 5,
      resetTimeoutMs: 10_000,
      rollingWindowMs: 30_000,
    })
    .describe(
      'Circuit breaker per provider and upstream model: an open one is skipped (failover, promotion).',
    ),
});

/** Tier promotion when every target of a tier failed or is breaker-open (src/routing/promotion.ts). */
export const promotion = z.object({
  policy: z
    .enum(['up', 'none'])
    .default('up')
    .describe(
      'up: try the next costlier tier with a fitting model (down instead when a downgrade budget cannot cover it); none: fail.',
    ),
  maxSteps: z.number().int().min(1).max(7).default(1).describe('Tiers tried after the chosen one, at most.'),
});

/** Per-route context-window policy (src/routing/context.ts). */
export const contextPolicies = ['promote', 'reject', 'truncate-oldest'] as const;
export const contextWindow = z.object({
  maxInputTokens: z
    .number()
    .int()
    .min(1)
    .max(100_000_000)
    .optional()
    .describe('Largest prompt (estimated tokens) the route accepts, whatever the models hold.'),
  policy: z
    .enum(contextPolicies)
    .default('promote')
    .describe(
      'When the prompt fits no model of the chosen tier (or exceeds maxInputTokens): promote to a tier that fits, reject with 400, or drop the oldest non-system turns until it fits.',
    ),
});

/** Priority classes from request metadata only (src/routing/priority.ts). */
export const priorityClass = z.object({
  minTier: dnsLabel.optional().describe('Cheapest tier this class may use.'),
  maxTier: dnsLabel.optional().describe('Costliest tier this class may use.'),
});
export const priority = z.object({
  classes: z
    .record(dnsLabel, priorityClass)
    .meta({ maxProperties: 16 })
    .describe('x-tiermesh-priority value to the tiers it may use.'),
  users: z
    .record(z.string().max(256), dnsLabel)
    .meta({ maxProperties: 1024 })
    .optional()
    .describe('User (x-tiermesh-user, else the request `user`) to class, when no header says.'),
  groups: z
    .record(z.string().max(256), dnsLabel)
    .meta({ maxProperties: 256 })
    .optional()
    .describe('x-tiermesh-group value to class, when neither the header nor the user says.'),
  default: dnsLabel.optional().describe('Class for requests nothing else maps.'),
});

/** Latency-aware selection (src/routing/latency.ts): targets whose recent p95 breaks these are skipped. */
const sloLimits = {
  maxTTFTMs: z.number().int().min(1).max(600_000).optional().describe('p95 time to first byte.'),
  maxLatencyMs: z.number().int().min(1).max(3_600_000).optional().describe('p95 time to the whole answer.'),
};
export const slo = z.object({
  ...sloLimits,
  policy: z
    .enum(['cheapest', 'first', 'fail'])
    .default('first')
    .describe('When no target meets the SLO: try the cheapest first, keep the configured order, or fail.'),
  minSamples: z
    .number()
    .min(1)
    .max(10_000)
    .default(5)
    .describe('Decayed observations a target needs before it can be skipped.'),
  halfLifeSeconds: z.number().int().min(1).max(86_400).default(60).describe('How fast observations fade.'),
  taskTypes: z
    .record(z.string().max(63), z.object(sloLimits))
    .meta({ maxProperties: 32 })
    .optional()
    .describe('Per x-tiermesh-task limits, replacing the route-wide ones.'),
});

/** Hedged requests (src/routing/hedge.ts): a second target after a delay, first answer wins. */
export const hedge = z.object({
  enabled: z.boolean().default(false).describe('Default false.'),
  delay: z
    .enum(['fixed', 'p95'])
    .default('fixed')
    .describe(
      "fixed: wait delayMs; p95: the first target's observed p95 (spec.slo observations; time to first byte for streams), else delayMs.",
    ),
  delayMs: z
    .number()
    .int()
    .min(1)
    .max(600_000)
    .default(500)
    .describe('Wait before the second target is started (default 500).'),
  minDelayMs: z.number().int().min(1).max(600_000).default(50).describe('Lower bound of a p95 delay.'),
  taskTypes: z
    .array(z.string().max(63))
    .max(32)
    .optional()
    .describe('Hedge only requests with one of these x-tiermesh-task values; all requests when absent.'),
});

/** Conversation stickiness (src/routing/sticky.ts). */
export const stickiness = z.object({
  enabled: z.boolean().default(false).describe('Default false.'),
  ttlSeconds: z
    .number()
    .int()
    .min(1)
    .max(86_400)
    .default(1_800)
    .describe('How long a conversation is remembered.'),
  margin: z
    .number()
    .min(0)
    .max(1)
    .default(0.1)
    .describe("A new turn leaves the conversation's tier only when its score is this far past the boundary."),
  maxConversations: z
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(10_000)
    .describe('Memory bound per sidecar.'),
});

/** Per provider-model concurrency limits with a priority queue in front (src/routing/queue.ts). */
export const queue = z.object({
  limits: z
    .array(
      z.object({
        provider: dnsLabel.describe('Name of an entry in spec.providers.'),
        model: modelName.describe('Name of an entry in spec.models served by that provider.'),
        maxInFlight: z.number().int().min(1).max(100_000).describe('Requests sent to it at once, at most.'),
      }),
    )
    .min(1)
    .max(64)
    .describe('Concurrency limit per provider and model; requests past it wait in the queue.'),
  maxQueued: z
    .number()
    .int()
    .min(0)
    .max(100_000)
    .default(100)
    .describe(
      'Requests waiting per provider-model, all priorities; past this a request gets 429 with Retry-After.',
    ),
  waitMs: z
    .number()
    .int()
    .min(1)
    .max(600_000)
    .default(10_000)
    .describe('Longest an interactive request waits for a slot before 429.'),
  batchWaitMs: z
    .number()
    .int()
    .min(1)
    .max(3_600_000)
    .default(120_000)
    .describe('Longest a batch request waits for a slot before 429.'),
  batchClasses: z
    .array(dnsLabel)
    .max(16)
    .default(['batch'])
    .describe('spec.priority classes that wait as batch (behind every interactive request).'),
});
export type QueueSpec = z.infer<typeof queue>;

/** Task types whose answers need a person's review before the app uses them (x-tiermesh-review: required). */
export const review = z.object({
  taskTypes: z
    .record(
      z.string().max(63),
      z.object({
        requireHumanReview: z
          .boolean()
          .default(false)
          .describe('Answers carry x-tiermesh-review: required (default false).'),
      }),
    )
    .meta({ maxProperties: 32 })
    .describe(
      'Per x-tiermesh-task (a spec.taskTypes key): whether its answers are flagged for human review.',
    ),
});
export type ReviewSpec = z.infer<typeof review>;

/** Production routing-quality monitoring (docs/feedback.md); its own sub-object, every field defaulted. */
export const monitoring = z.object({
  maxEscalationRate: z
    .number()
    .min(0)
    .max(1)
    .default(0.1)
    .describe(
      'Share of requests escalated from their first tier above which the operator emits a Warning Event.',
    ),
  maxTierShareDrift: z
    .number()
    .min(0)
    .max(1)
    .default(0.2)
    .describe(
      'Largest change of any tier share between the baseline window and the current one before an Event.',
    ),
  windowSeconds: z
    .number()
    .int()
    .min(60)
    .max(7 * 86_400)
    .default(3600)
    .describe('Window over which status.routing is computed.'),
  features: z
    .array(dnsLabel)
    .max(32)
    .optional()
    .describe(
      'Declared x-tiermesh-feature values: the only ones that become a metric label (others count as "other").',
    ),
});
export type MonitoringSpec = z.infer<typeof monitoring>;

/** A route's monitoring settings with every default filled in (the sub-object itself is optional). */
export function monitoringOf(spec: { monitoring?: MonitoringSpec | undefined }): MonitoringSpec {
  return spec.monitoring ?? monitoring.parse({});
}

/** Exact-match response cache of one route (src/sidecar/cache.ts). */
export const responseCache = z.object({
  enabled: z.boolean().default(false).describe('Default false.'),
  ttlSeconds: z
    .number()
    .int()
    .min(1)
    .max(604_800)
    .default(300)
    .describe('How long an answer is served from the cache.'),
  maxBytes: z
    .number()
    .int()
    .min(1024)
    .max(1_073_741_824)
    .default(16_777_216)
    .describe("Bound on this route's cached answers in the sidecar's memory; least recently used go first."),
});
export type ResponseCacheSpec = z.infer<typeof responseCache>;

export const split = z.object({
  model: modelName.describe('Name of an entry in spec.models.'),
  percent: z.number().min(0).max(100).describe('Share of routed requests sent to this model instead.'),
});

export const modelRouteSpec = z
  .object({
    providers: z
      .array(provider)
      .min(1)
      .max(16)
      .describe('Upstream LLM APIs the models are served by, each with its key source.'),
    models: z
      .array(modelEntry)
      .min(1)
      .max(64)
      .describe('Model registry: each model with its failover targets, prices and context window.'),
    tiers: z
      .array(tier)
      .min(1)
      .max(8)
      .describe('Cheapest first; the classifier picks one per request, the cascade escalates up.'),
    classifier: classifier
      .default({ mode: 'learned', confidenceBand: 0.1 })
      .describe('How a request is scored to pick its tier (docs/classifier.md).'),
    taskTypes: z
      .record(z.string().max(63), dnsLabel)
      .meta({ maxProperties: 32 })
      .optional()
      .describe('x-tiermesh-task header value to tier name.'),
    cascade: cascade
      .default({ enabled: true, checks: ['empty', 'refusal', 'json'], maxEscalations: 1 })
      .describe('Checks of each answer; one that fails is asked again one tier up (docs/routing.md).'),
    resilience: resilience
      .default({
        timeoutMs: 60_000,
        streamIdleTimeoutMs: 30_000,
        retries: { attempts: 1, backoffMs: 100, maxBackoffMs: 2_000 },
        breaker: {
          errorThresholdPercentage: 50,
          volumeThreshold: 5,
          resetTimeoutMs: 10_000,
          rollingWindowMs: 30_000,
        },
      })
      .describe('Timeouts, retries and circuit breakers of the upstream calls.'),
    promotion: promotion
      .default({ policy: 'up', maxSteps: 1 })
      .describe('What happens when every target of the chosen tier failed or is breaker-open.'),
    context: contextWindow
      .default({ policy: 'promote' })
      .describe('What happens to a prompt too long for the models of its tier.'),
    priority: priority
      .optional()
      .describe(
        'Priority classes from request metadata (x-tiermesh-priority, user, group) bounding the tiers used.',
      ),
    slo: slo
      .optional()
      .describe('Latency targets: targets whose recent p95 breaks them are skipped (docs/routing.md).'),
    stickiness: stickiness
      .optional()
      .describe('Keep a conversation (x-tiermesh-session) on its tier across turns.'),
    hedge: hedge
      .optional()
      .describe(
        'Start a second target when the first is slow; the first answer wins, the other is aborted and what it spent is booked.',
      ),
    baselineModel: modelName
      .optional()
      .describe('Model every request would have used; savings are measured against it.'),
    split: z
      .array(split)
      .max(8)
      // Twice, as everywhere: CEL for the apiserver, refine for standalone mode.
      .refine((l) => l.reduce((sum, s) => sum + s.percent, 0) <= 100, {
        message: 'split percentages must sum to at most 100',
      })
      .meta({
        'x-kubernetes-validations': [
          {
            rule: 'self.map(s, s.percent).sum() <= 100.0',
            message: 'split percentages must sum to at most 100',
          },
        ],
      })
      .optional()
      .describe(
        'Send these shares of routed requests to other models instead (canary); at most 100 in total.',
      ),
    shadow: z
      .object({
        model: modelName.describe('Name of an entry in spec.models.'),
        percent: z.number().min(0).max(100).describe('Share of requests shadowed, 0 to 100.'),
      })
      .optional()
      .describe('Also send a share of requests to this model, discarding the answer.'),
    cache: responseCache
      .optional()
      .describe(
        'Serve identical requests (same route, model, messages and parameters) from memory. Only requests with ' +
          'temperature 0, or the x-tiermesh-cache: on header, are cached; cache-control: no-cache bypasses it.',
      ),
    podSelector: labelSelector
      .optional()
      .describe('Pods this route serves; all pods in the namespace when empty.'),
    monitoring: monitoring
      .optional()
      .describe(
        'Bounds on escalation rate and tier drift that produce Warning Events; status.routing window.',
      ),
    review: review.optional().describe('Task types whose answers are flagged for human review.'),
    queue: queue
      .optional()
      .describe(
        'Concurrency limits per provider and model, with a priority queue in front (docs/routing.md).',
      ),
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: 'self.models.all(m, m.targets.all(t, self.providers.exists(p, p.name == t.provider)))',
        message: 'every models[].targets[].provider must name an entry in providers',
        fieldPath: '.models',
      },
      {
        rule: 'self.tiers.all(t, t.models.all(n, self.models.exists(m, m.name == n)))',
        message: 'every tiers[].models entry must name an entry in models',
        fieldPath: '.tiers',
      },
      {
        rule: '!has(self.baselineModel) || self.models.exists(m, m.name == self.baselineModel)',
        message: 'baselineModel must name an entry in models',
        fieldPath: '.baselineModel',
      },
      {
        rule: '!has(self.taskTypes) || self.taskTypes.all(k, self.tiers.exists(t, t.name == self.taskTypes[k]))',
        message: 'every taskTypes value must name a tier',
        fieldPath: '.taskTypes',
      },
      {
        rule: '!has(self.queue) || self.queue.limits.all(l, self.models.exists(m, m.name == l.model && m.targets.exists(t, t.provider == l.provider)))',
        message: 'every queue.limits entry must name a model of spec.models and one of its target providers',
        fieldPath: '.queue.limits',
      },
      {
        rule: '!has(self.review) || self.review.taskTypes.all(k, has(self.taskTypes) && k in self.taskTypes)',
        message: 'every review.taskTypes key must be a taskTypes key',
        fieldPath: '.review.taskTypes',
      },
      {
        rule:
          '!has(self.priority) || self.priority.classes.all(k, ' +
          '(!has(self.priority.classes[k].minTier) || self.tiers.exists(t, t.name == self.priority.classes[k].minTier)) && ' +
          '(!has(self.priority.classes[k].maxTier) || self.tiers.exists(t, t.name == self.priority.classes[k].maxTier)))',
        message: 'every priority class minTier/maxTier must name a tier',
        fieldPath: '.priority.classes',
      },
      {
        rule:
          '!has(self.priority) || ((!has(self.priority.users) || self.priority.users.all(u, self.priority.users[u] in self.priority.classes)) && ' +
          '(!has(self.priority.groups) || self.priority.groups.all(g, self.priority.groups[g] in self.priority.classes)) && ' +
          '(!has(self.priority.default) || self.priority.default in self.priority.classes))',
        message: 'priority users, groups and default must name a priority class',
        fieldPath: '.priority',
      },
      {
        rule: '!has(self.cascade) || !has(self.cascade.judge) || self.models.exists(m, m.name == self.cascade.judge.model)',
        message: 'cascade.judge.model must name an entry in models',
        fieldPath: '.cascade.judge.model',
      },
      {
        rule: "!has(self.cascade) || !has(self.cascade.checks) || !('judge' in self.cascade.checks) || has(self.cascade.judge)",
        message: 'the judge check needs cascade.judge',
        fieldPath: '.cascade.checks',
      },
      {
        rule:
          '!has(self.classifier) || !has(self.classifier.adapt) || !has(self.classifier.adapt.enabled) || ' +
          "!self.classifier.adapt.enabled || !has(self.classifier.mode) || self.classifier.mode != 'rules'",
        message: 'classifier.adapt needs mode learned or hybrid (rules mode has no threshold to move)',
        fieldPath: '.classifier.adapt',
      },
      {
        rule: '!has(self.classifier) || !has(self.classifier.rules) || self.classifier.rules.all(r, self.tiers.exists(t, t.name == r.tier))',
        message: 'every classifier.rules[].tier must name a tier',
        fieldPath: '.classifier.rules',
      },
      {
        rule: '!has(self.split) || self.split.all(s, self.models.exists(m, m.name == s.model))',
        message: 'every split[].model must name an entry in models',
        fieldPath: '.split',
      },
      {
        rule: '!has(self.shadow) || self.models.exists(m, m.name == self.shadow.model)',
        message: 'shadow.model must name an entry in models',
        fieldPath: '.shadow.model',
      },
      {
        rule: 'self.providers.all(p, self.providers.exists_one(q, q.name == p.name))',
        message: 'providers[].name must be unique',
        fieldPath: '.providers',
      },
      {
        rule: 'self.models.all(m, self.models.exists_one(q, q.name == m.name))',
        message: 'models[].name must be unique',
        fieldPath: '.models',
      },
      {
        rule: 'self.tiers.all(t, self.tiers.exists_one(q, q.name == t.name))',
        message: 'tiers[].name must be unique',
        fieldPath: '.tiers',
      },
    ],
  });
export type ModelRouteSpec = z.infer<typeof modelRouteSpec>;
export type ModelRouteSpecInput = z.input<typeof modelRouteSpec>;

/** What the sidecars' reports say about a route's traffic over the last window (operator: routing-status.ts). */
export const routingStatus = z.object({
  windowSeconds: z.number().int().min(1).describe('Length of the window these figures cover.'),
  from: z.string().describe('RFC 3339 start of the window.'),
  to: z.string().describe('RFC 3339 end of the window (the latest report).'),
  requests: z.number().int().min(0).describe('Requests the reporting sidecars routed in the window.'),
  sidecars: z.number().int().min(0).describe('Sidecars that reported in the window.'),
  shareByTier: z
    .record(z.string().max(63), z.number().min(0).max(1))
    .meta({ maxProperties: 16 })
    .describe('Share of requests first sent to each tier.'),
  escalationRate: z
    .number()
    .min(0)
    .describe('Escalations (cascade checks and feedback retries) per request.'),
  drift: z
    .number()
    .min(0)
    .max(1)
    .optional()
    .describe('Largest change of a tier share against the window before (absent without a baseline).'),
  feedback: z
    .object({
      count: z.number().int().min(0).describe('Feedback ratings received in the window.'),
      mean: z.number().min(0).max(1).optional().describe('Mean feedback score in [0, 1].'),
    })
    .optional()
    .describe('POST /v1/feedback ratings of this route in the window.'),
});
export type RoutingStatus = z.infer<typeof routingStatus>;

/** The online calibration's state (operator: src/routing/online-calibration.ts); a new leader resumes from it. */
export const calibrationStatus = z.object({
  offset: z
    .number()
    .min(0)
    .max(0.5)
    .describe('Added to the premium share of the route (the sidecars get it in the compiled config).'),
  since: z.string().describe('RFC 3339: the last move, or when the controller started observing.'),
  samples: z.number().int().min(0).describe('Requests routed since `since`.'),
  escalationRate: z.number().min(0).optional().describe('Escalations per request since `since`.'),
  premiumShare: z
    .number()
    .min(0)
    .max(1)
    .optional()
    .describe('Share of requests first sent above the cheapest tier since `since`.'),
  lastMove: z.string().optional().describe('RFC 3339 time of the last change of the offset.'),
  moves: z.number().int().min(0).describe('Changes of the offset so far.'),
  reason: z.string().max(1024).describe('Why the controller moved or held, in words.'),
});
export type CalibrationStatus = z.infer<typeof calibrationStatus>;

export const modelRouteStatus = z.object({
  ...statusBase(
    'Ready: True (Compiled) when the route is in the config its sidecars run; False with a reason (Invalid, ' +
      'SidecarRejected) and a message naming what to fix.',
  ),
  configVersion: z
    .string()
    .max(128)
    .optional()
    .describe(
      'Content hash of the namespace snapshot holding this route; absent while it is Invalid (left out).',
    ),
  tiers: z.number().int().optional().describe('Number of spec.tiers.'),
  sidecars: z
    .object({
      connected: z.number().int().min(0).describe('Sidecars of the namespace connected to the operator.'),
      acked: z.number().int().min(0).describe('Connected sidecars running configVersion.'),
      nacked: z
        .number()
        .int()
        .min(0)
        .describe('Connected sidecars that refused configVersion (see lastNack).'),
    })
    .optional()
    .describe('The sidecars of the namespace, over every operator replica.'),
  lastNack: z.string().max(4096).optional().describe('Why a sidecar refused the last snapshot.'),
  routing: routingStatus
    .optional()
    .describe("Traffic over the last spec.monitoring.windowSeconds, from the sidecars' reports."),
  calibration: calibrationStatus
    .optional()
    .describe('State of the online calibration (spec.classifier.adapt).'),
});
export type ModelRouteStatus = z.infer<typeof modelRouteStatus>;

export const modelRoute = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('ModelRoute'),
  metadata: objectMeta,
  spec: modelRouteSpec,
  status: modelRouteStatus.optional(),
});
export type ModelRoute = z.infer<typeof modelRoute>;
