/** What the router decides for one request, before any provider is called. */
import type { ModelEntry } from '../api/modelroute.js';

export type DecisionSource = 'explicit-model' | 'task' | 'rules' | 'learned' | 'hybrid' | 'split' | 'budget-downgrade';

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
}

export interface RouteDecision {
  route: string;
  tierIndex: number;
  tierName: string;
  /** Models to try, in order: the tier's models that fit the prompt, then failover within the tier. */
  models: ModelEntry[];
  classification: Classification;
  /** True when a near-boundary score moved the request up one tier. */
  escalated: boolean;
  estimatedPromptTokens: number;
}
