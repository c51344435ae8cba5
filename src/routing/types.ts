/** What the router decides for one request, before any provider is called. */
import type { ModelEntry, ModelRouteSpec } from '../api/modelroute.js';
import type { Capability, Need } from './capabilities.js';
import type { Truncation } from './context.js';
import type { Features } from './features.js';
import type { PriorityWindow } from './priority.js';

export type DecisionSource =
  | 'explicit-model'
  | 'task'
  | 'rules'
  | 'learned'
  | 'hybrid'
  | 'split'
  | 'budget-downgrade';

export interface Classification {
  /** Estimated difficulty in [0, 1]; 0 is a greeting, 1 needs the strongest tier. */
  score: number;
  /** How sure the classifier is, in [0, 1]. */
  confidence: number;
  /** Index into the route's tiers (cheapest first) the score maps to, before escalation. */
  tierIndex: number;
  /** Names of the signals that fired (e.g. "code", "math", "long-prompt", "greeting"); never prompt text. */
  signals: string[];
  source: DecisionSource;
  /** The structural features the classifier read (counts and flags, no text); absent when it did not run. */
  features?: Features;
  /** What the learned classifier said, when it decided (learned) or took part (hybrid). */
  learned?: LearnedScore;
}

/**
 * The learned classifier's part of a classification. `score` above is a tier-scale value derived from `percentile`;
 * for a prompt whose gain ties with others, `percentile` is its place inside the tie's run, drawn from a hash of the
 * prompt (so ties split as premiumShare says), not anything the model said: `tie` marks it.
 */
export interface LearnedScore {
  /** The model's own output: the predicted gain (strong - weak quality), the scale of `classifier.threshold`. */
  gain?: number;
  /** Where the prompt was placed among the route's recent traffic (or the model's calibration mix), in [0, 1]. */
  percentile: number;
  /** Set when the gain tied with others: the percentile interval the tie spans; `percentile` is a place inside. */
  tie?: { lo: number; hi: number };
}

/** One tier the cascade may move up to, with only the models that fit the request. */
export interface EscalationStep {
  tierIndex: number;
  tierName: string;
  models: ModelEntry[];
}

/** A model of a considered tier that routing passed over: its context is too small, or it lacks a capability. */
export interface SkippedModel {
  model: string;
  tier: string;
  reason: 'context' | 'max_output_tokens' | Capability;
}

export interface RouteDecision {
  route: string;
  /** What decided the tier (or, for split, the first model). */
  source: DecisionSource;
  /** The route's spec, so callers need not look it up again (resilience, cascade, baseline pricing). */
  spec: ModelRouteSpec;
  /** Index of the chosen tier, or -1 when an explicit model outside every tier was requested. */
  tierIndex: number;
  /** Name of the chosen tier ("" when tierIndex is -1). */
  tierName: string;
  /** Models to try, in order: the tier's models that fit the prompt, then failover within the tier. */
  models: ModelEntry[];
  /** Tiers above the chosen one that have a model fitting the request, cheapest first: the cascade's next steps. */
  escalation: EscalationStep[];
  classification: Classification;
  /** True when a near-boundary score or a low confidence moved the request up one tier. */
  escalated: boolean;
  /** True when no model of the classified tier fitted the context and a higher tier was taken. */
  contextBumped: boolean;
  estimatedPromptTokens: number;
  /** max_completion_tokens ?? max_tokens from the request, 0 when absent. */
  requestedMaxTokens: number;
  /** x-tiermesh-user header, else the OpenAI `user` field. */
  user: string | undefined;
  /** x-tiermesh-task header, when set. */
  task: string | undefined;
  /** Capabilities the request needs, from its fields (routing/capabilities.ts). */
  needs: Need[];
  /** Models of the tiers considered that were passed over, and why (empty in the common case). */
  skipped: SkippedModel[];
  /** What conversation stickiness did, when the conversation was remembered. */
  sticky?: {
    kept: boolean;
    reason: 'tool-loop' | 'within-margin' | 'no-history' | 'past-margin';
    tierIndex: number;
    model: string;
  };
  /** The priority class that bounded the tiers, when one applied. */
  priority?: PriorityWindow;
  /**
   * Set when the context policy dropped old turns: `truncation.request` is what must be sent upstream (the decision's
   * classification and token counts are of it), and the answer carries x-tiermesh-truncated.
   */
  truncation?: Truncation;
}
