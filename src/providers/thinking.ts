/**
 * Reasoning requests between vendors: Anthropic's `thinking` budget, OpenAI's `reasoning_effort` and Gemini's
 * `thinkingConfig` for one internal request (the representation is documented in src/api/openai.ts). Which models
 * can think is the capability table's (routing/capabilities.ts `thinkingStyle`); this module only maps and strips.
 *
 * The effort <-> budget mapping is LiteLLM's, so a client moving from LiteLLM gets the same thinking:
 *   budget_tokens -> reasoning_effort: <= 1024 low, <= 2048 medium, else high
 *   reasoning_effort -> budget_tokens: minimal / low 1024, medium 2048, high 4096 (none: no thinking)
 */
import type { ChatCompletionRequest, ThinkingConfig } from '../api/openai.js';

export type Effort = 'low' | 'medium' | 'high';

/** Anthropic's smallest thinking budget. */
export const MIN_THINKING_BUDGET = 1024;

const BUDGET_FOR_EFFORT: Record<string, number> = {
  minimal: 1024,
  low: 1024,
  medium: 2048,
  high: 4096,
};

export function effortForBudget(budget: number): Effort {
  if (budget <= 1024) return 'low';
  if (budget <= 2048) return 'medium';
  return 'high';
}

/** The thinking budget for an OpenAI `reasoning_effort`, or undefined for none / a value without one. */
export function budgetForEffort(effort: unknown): number | undefined {
  return typeof effort === 'string' && Object.hasOwn(BUDGET_FOR_EFFORT, effort)
    ? BUDGET_FOR_EFFORT[effort]
    : undefined;
}

/** The request's thinking config when it asks for thinking (`disabled` and absent do not). */
export function requestedThinking(body: ChatCompletionRequest): ThinkingConfig | undefined {
  const t = body.thinking;
  return t && t.type !== 'disabled' ? t : undefined;
}

/**
 * The `reasoning_effort` an OpenAI reasoning model gets: the client's own when it set one, else the one for the
 * thinking budget (`adaptive` and `between_tools` leave the model's default, as they name no budget).
 */
export function effortFor(body: ChatCompletionRequest): unknown {
  const own = body['reasoning_effort'];
  if (own != null) return own;
  const t = requestedThinking(body);
  return t?.type === 'enabled' ? effortForBudget(t.budget_tokens) : undefined;
}

const hasBlocks = (m: object): boolean => (m as { thinking_blocks?: unknown }).thinking_blocks !== undefined;

/**
 * The request as the OpenAI wire takes it: without `thinking` (OpenAI refuses the unknown parameter) and without
 * `thinking_blocks` on history messages (OpenAI refuses unknown message fields; the blocks mean nothing to another
 * model). `reasoningModel`: whether the model takes `reasoning_effort`, which then carries the thinking budget (asked
 * only when there is thinking: the common request costs one scan of its messages). The same object when there is
 * nothing to change; the input is never mutated.
 */
export function forOpenAIWire(
  body: ChatCompletionRequest,
  reasoningModel: () => boolean,
): ChatCompletionRequest {
  const blocks = body.messages.some(hasBlocks);
  if (body.thinking === undefined && !blocks) return body;
  const { thinking: _, ...rest } = body;
  const out: ChatCompletionRequest = rest;
  if (body.thinking != null && reasoningModel()) {
    const effort = effortFor(body);
    if (effort !== undefined) out['reasoning_effort'] = effort;
  }
  if (blocks)
    out.messages = body.messages.map((m) => {
      if (!hasBlocks(m)) return m;
      const { thinking_blocks: _b, ...plain } = m;
      return plain as typeof m;
    });
  return out;
}
