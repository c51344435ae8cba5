/**
 * USD arithmetic from token counts and per-1M-token prices.
 *
 *   costUSD(pricing, inputTokens, outputTokens): number
 *   baselineCostUSD(spec, inputTokens, outputTokens): number     same tokens at spec.baselineModel's prices (0 without one)
 *   estimateCostUSD(model, promptTokens, maxTokens?): number     pre-call estimate; DEFAULT_OUTPUT_ESTIMATE when maxTokens is 0
 */
import type { ModelEntry, ModelRouteSpec } from '../api/modelroute.js';

export type Pricing = ModelEntry['pricing'];

/** Completion length assumed for a pre-call estimate when the client set no max_tokens. */
export const DEFAULT_OUTPUT_ESTIMATE = 512;

/** A count or amount as summed: a non-finite or negative one adds nothing (a NaN would poison every total). */
export function nonNegative(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}

export function costUSD(pricing: Pricing, inputTokens: number, outputTokens: number): number {
  return (
    (nonNegative(inputTokens) * pricing.inputPerMTok + nonNegative(outputTokens) * pricing.outputPerMTok) /
    1_000_000
  );
}

export function baselineCostUSD(spec: ModelRouteSpec, inputTokens: number, outputTokens: number): number {
  const baseline = spec.baselineModel ? spec.models.find((m) => m.name === spec.baselineModel) : undefined;
  return baseline ? costUSD(baseline.pricing, inputTokens, outputTokens) : 0;
}

/** An upper-ish estimate: the requested completion budget, capped by what the model can emit. */
export function estimateCostUSD(model: ModelEntry, promptTokens: number, maxTokens = 0): number {
  let output = maxTokens > 0 ? maxTokens : DEFAULT_OUTPUT_ESTIMATE;
  if (model.maxOutputTokens !== undefined) output = Math.min(output, model.maxOutputTokens);
  output = Math.min(output, Math.max(0, model.contextWindow - promptTokens));
  return costUSD(model.pricing, promptTokens, output);
}
