/**
 * USD arithmetic from token counts and per-1M-token prices.
 *
 *   costUSD(pricing, inputTokens, outputTokens, cache?): number  cache: {read, write}, parts of inputTokens
 *   baselineCostUSD(spec, inputTokens, outputTokens, cache?): number   same tokens at spec.baselineModel's prices (0 without one)
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

/**
 * The prompt-cache share of a prompt: tokens read from the cache and written to it, both inside the input count (as
 * the internal usage's prompt_tokens_details.cached_tokens / cache_creation_tokens are inside prompt_tokens).
 */
export interface CacheTokens {
  read?: number | undefined;
  write?: number | undefined;
}

/**
 * The one price of a usage: input tokens at inputPerMTok, except the cache reads and writes among them, at
 * cachedInputPerMTok and cacheWritePerMTok (each inputPerMTok when the model sets none: every input token at one
 * price, as before those fields existed). Cache counts above the input count are capped to it, so garbled counts
 * never price a token twice or below nothing.
 */
export function costUSD(
  pricing: Pricing,
  inputTokens: number,
  outputTokens: number,
  cache: CacheTokens = {},
): number {
  const input = nonNegative(inputTokens);
  const read = Math.min(nonNegative(cache.read ?? 0), input);
  const write = Math.min(nonNegative(cache.write ?? 0), input - read);
  const plain = input - read - write;
  return (
    (plain * pricing.inputPerMTok +
      read * (pricing.cachedInputPerMTok ?? pricing.inputPerMTok) +
      write * (pricing.cacheWritePerMTok ?? pricing.inputPerMTok) +
      nonNegative(outputTokens) * pricing.outputPerMTok) /
    1_000_000
  );
}

export function baselineCostUSD(
  spec: ModelRouteSpec,
  inputTokens: number,
  outputTokens: number,
  cache: CacheTokens = {},
): number {
  const baseline = spec.baselineModel ? spec.models.find((m) => m.name === spec.baselineModel) : undefined;
  return baseline ? costUSD(baseline.pricing, inputTokens, outputTokens, cache) : 0;
}

/** An upper-ish estimate: the requested completion budget, capped by what the model can emit. */
export function estimateCostUSD(model: ModelEntry, promptTokens: number, maxTokens = 0): number {
  let output = maxTokens > 0 ? maxTokens : DEFAULT_OUTPUT_ESTIMATE;
  if (model.maxOutputTokens !== undefined) output = Math.min(output, model.maxOutputTokens);
  output = Math.min(output, Math.max(0, model.contextWindow - promptTokens));
  return costUSD(model.pricing, promptTokens, output);
}
