/**
 * The Anthropic Messages API request the sidecar accepts on `POST /v1/messages`, and the shapes it answers with.
 * Fields tiermesh cannot carry to every upstream (server tools, documents) are refused by the
 * translation in src/sidecar/apis/anthropic-messages.ts with an error naming the field, never dropped silently.
 */
import { z } from 'zod';
import { userId } from './common.js';
import { type ThinkingBlock, thinkingConfig } from './openai.js';
import { byType, oneOfType, stringOr } from './tagged.js';

const cacheControl = z.looseObject({ type: z.string() }).nullish();

export const anthropicTextBlock = z.looseObject({
  type: z.literal('text'),
  text: z.string(),
  cache_control: cacheControl,
});

export const anthropicImageBlock = z.looseObject({
  type: z.literal('image'),
  source: oneOfType({
    base64: z.looseObject({
      type: z.literal('base64'),
      media_type: z.string().min(1),
      data: z.string().min(1),
    }),
    url: z.looseObject({ type: z.literal('url'), url: z.string().min(1) }),
  }),
  cache_control: cacheControl,
});

export const anthropicToolUseBlock = z.looseObject({
  type: z.literal('tool_use'),
  id: z.string().min(1),
  name: z.string().min(1),
  input: z.record(z.string(), z.unknown()),
  cache_control: cacheControl,
});

export const anthropicToolResultBlock = z.looseObject({
  type: z.literal('tool_result'),
  tool_use_id: z.string().min(1),
  content: stringOr(z.array(byType({ text: anthropicTextBlock, image: anthropicImageBlock }))).optional(),
  is_error: z.boolean().optional(),
  cache_control: cacheControl,
});

/** A thinking block of an earlier answer, sent back with its signature (extended thinking). */
export const anthropicThinkingBlock = z.looseObject({
  type: z.literal('thinking'),
  thinking: z.string(),
  signature: z.string(),
});

export const anthropicRedactedThinkingBlock = z.looseObject({
  type: z.literal('redacted_thinking'),
  data: z.string(),
});

/** Blocks by type; other types (document, server tool results) reach the translation, which names them. */
export const anthropicContentBlock = byType({
  text: anthropicTextBlock,
  image: anthropicImageBlock,
  tool_use: anthropicToolUseBlock,
  tool_result: anthropicToolResultBlock,
  thinking: anthropicThinkingBlock,
  redacted_thinking: anthropicRedactedThinkingBlock,
});

export const anthropicInboundMessage = z.object({
  role: z.enum(['user', 'assistant']),
  content: stringOr(z.array(anthropicContentBlock)),
});

export const anthropicInboundTool = z.looseObject({
  name: z.string().min(1).max(128),
  description: z.string().optional(),
  input_schema: z.record(z.string(), z.unknown()).optional(),
  /** Client tools have no type or `custom`; server tools (web_search_..., bash_...) carry a versioned type. */
  type: z.string().nullish(),
});

export const anthropicInboundToolChoice = oneOfType({
  auto: z.object({ type: z.literal('auto'), disable_parallel_tool_use: z.boolean().optional() }),
  any: z.object({ type: z.literal('any'), disable_parallel_tool_use: z.boolean().optional() }),
  none: z.object({ type: z.literal('none') }),
  tool: z.object({
    type: z.literal('tool'),
    name: z.string().min(1),
    disable_parallel_tool_use: z.boolean().optional(),
  }),
});

/**
 * `output_config`: the answer's JSON schema (structured outputs, the SDKs' `messages.parse()`) and effort. Loose, so
 * the translation can name a key it does not carry.
 */
export const anthropicOutputConfig = z.looseObject({
  format: z.looseObject({ type: z.string(), schema: z.record(z.string(), z.unknown()).optional() }).nullish(),
  effort: z.string().nullish(),
});

/**
 * Unknown top-level fields pass the schema; the translation refuses every one it does not carry, by name, and
 * ignores only those that carry no meaning for the answer (its TOP_LEVEL lists say which).
 */
export const anthropicMessagesRequest = z.looseObject({
  model: z.string().min(1, 'model is required'),
  max_tokens: z.number().int().min(1),
  messages: z.array(anthropicInboundMessage).min(1, 'messages must not be empty'),
  system: stringOr(z.array(anthropicTextBlock)).optional(),
  stop_sequences: z.array(z.string()).optional(),
  temperature: z.number().min(0).max(1).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.number().int().min(0).optional(),
  stream: z.boolean().optional(),
  metadata: z.looseObject({ user_id: userId.nullish() }).optional(),
  tools: z.array(anthropicInboundTool).optional(),
  tool_choice: anthropicInboundToolChoice.optional(),
  /** The types the installed @anthropic-ai/sdk defines (enabled with budget_tokens >= 1024, adaptive, ...). */
  thinking: thinkingConfig.optional(),
  output_config: anthropicOutputConfig.nullish(),
});
export type AnthropicMessagesRequest = z.infer<typeof anthropicMessagesRequest>;

/**
 * POST /v1/messages/count_tokens: the body a /v1/messages call would send, without max_tokens or stream (the
 * Anthropic SDK's messages.countTokens sends neither).
 */
export const anthropicCountTokensRequest = anthropicMessagesRequest
  .omit({ max_tokens: true, stream: true })
  .extend({ max_tokens: z.number().int().min(1).optional() });
export type AnthropicCountTokensRequest = z.infer<typeof anthropicCountTokensRequest>;
export type AnthropicInboundBlock = z.infer<typeof anthropicContentBlock>;

/** The answer shape (`type: "message"`), as the Anthropic SDKs parse it. */
export interface AnthropicMessageResponse {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: Array<
    | ThinkingBlock
    | { type: 'text'; text: string }
    | { type: 'tool_use'; id: string; name: string; input: unknown; extra_content?: unknown }
  >;
  stop_reason: 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use' | 'refusal' | null;
  stop_sequence: string | null;
  usage: {
    input_tokens: number;
    output_tokens: number;
    cache_creation_input_tokens: number | null;
    cache_read_input_tokens: number | null;
  };
}
