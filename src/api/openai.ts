/** The OpenAI chat-completions request the sidecar accepts, and the response shapes it returns. */
import { z } from 'zod';
import { jsonType } from '../config/issues.js';
import { userId } from './common.js';
import { oneOfType } from './tagged.js';

/**
 * A prompt-cache breakpoint (LiteLLM's convention, Anthropic's shape): on a text or image content part, on a message
 * whose content is a string (its last block), and on a tool. The Anthropic provider sends it on; OpenAI-wire providers
 * drop it (OpenAI caches prefixes by itself), Gemini ignores it (it has explicit caches only). docs/providers.md.
 */
export const cacheControl = z.looseObject({
  type: z.literal('ephemeral'),
  ttl: z.enum(['5m', '1h']).optional(),
});
export type CacheControl = z.infer<typeof cacheControl>;

const textPart = z.looseObject({
  type: z.literal('text'),
  text: z.string(),
  cache_control: cacheControl.nullish(),
});
/**
 * Any other part (image_url, input_audio, file, ...) passes through; a `type: "text"` part must match textPart, and a
 * `cache_control` on any part must be a breakpoint. The union tries textPart first, so this names what failed.
 */
const otherPart = z.looseObject({ type: z.string() }).superRefine((p, ctx) => {
  const cc = (p as Record<string, unknown>)['cache_control'];
  if (cc != null && !cacheControl.safeParse(cc).success) {
    ctx.addIssue({
      code: 'custom',
      path: ['cache_control'],
      message: 'must be {"type": "ephemeral"} with an optional ttl of "5m" or "1h"',
    });
    return;
  }
  if (p.type !== 'text') return;
  const text = (p as Record<string, unknown>)['text'];
  ctx.addIssue({
    code: 'custom',
    path: ['text'],
    message: text === undefined ? 'required field is missing' : `expected string, received ${jsonType(text)}`,
  });
});

/**
 * Reasoning in the internal request and answer: one representation, Anthropic's blocks carried opaquely.
 *
 * - `thinking_blocks` on an assistant message (history) and on an answer's message: Anthropic's `thinking` blocks
 *   (`thinking` text + `signature`) and `redacted_thinking` blocks (`data`), in their order, exactly as Anthropic sent
 *   them. The Anthropic translation sends them back first in the assistant turn (Anthropic requires the previous
 *   turn's blocks, signatures intact, to continue a tool-use turn with thinking on); every other provider drops them.
 *   A thinking block whose signature is `""` did not come from Anthropic (a Gemini thought, an OpenAI-compatible
 *   server's `reasoning_content`) and is never sent to Anthropic, which would refuse it. LiteLLM names the field alike.
 * - `reasoning_content` on an answer's message: the thinking text, for OpenAI-style clients (vLLM and DeepSeek answer
 *   with it, and nothing else, when their models reason); the joined text of `thinking_blocks` when there are blocks.
 * - In a stream, `delta.reasoning_content` is a fragment of the current thinking block's text and `delta.thinking_blocks`
 *   holds whole blocks: a `thinking` one ends the block its fragments started (or is a block of its own when none is
 *   open), a `redacted_thinking` one is a block of its own. So a stream has the same blocks as the whole answer.
 * - `thinking` on the request: Anthropic's thinking config (`{type: "enabled", budget_tokens}`, `adaptive`,
 *   `between_tools`), as the Messages API or a chat client (LiteLLM's convention) sent it; `reasoning_effort` stays
 *   OpenAI's. Each provider maps whichever its model understands (src/providers/thinking.ts).
 */
export const thinkingBlock = oneOfType({
  thinking: z.looseObject({ type: z.literal('thinking'), thinking: z.string(), signature: z.string() }),
  redacted_thinking: z.looseObject({ type: z.literal('redacted_thinking'), data: z.string() }),
});
export type ThinkingBlock = z.infer<typeof thinkingBlock>;

/** Anthropic's thinking config, as the installed @anthropic-ai/sdk defines it (ThinkingConfigParam). */
const thinkingDisplay = z.enum(['summarized', 'omitted']).nullish();
export const thinkingConfig = oneOfType({
  enabled: z.looseObject({
    type: z.literal('enabled'),
    budget_tokens: z.number().int().min(1024, 'must be at least 1024'),
    display: thinkingDisplay,
  }),
  adaptive: z.looseObject({ type: z.literal('adaptive'), display: thinkingDisplay }),
  between_tools: z.looseObject({ type: z.literal('between_tools') }),
  disabled: z.looseObject({ type: z.literal('disabled') }),
});
export type ThinkingConfig = z.infer<typeof thinkingConfig>;

export const chatMessage = z
  .looseObject({
    role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
    content: z.union([z.string(), z.array(z.union([textPart, otherPart])), z.null()]).optional(),
    name: z.string().optional(),
    tool_calls: z.array(z.unknown()).optional(),
    tool_call_id: z.string().optional(),
    cache_control: cacheControl.nullish(),
    thinking_blocks: z.array(thinkingBlock).optional(),
  })
  .superRefine((m, ctx) => {
    // OpenAI lets content be null or absent only on an assistant message that calls tools instead of answering.
    if (m.content !== undefined && m.content !== null) return;
    const callsTools =
      (m.tool_calls?.length ?? 0) > 0 || (m as { function_call?: unknown }).function_call != null;
    if (m.role === 'assistant' && callsTools) return;
    ctx.addIssue({
      code: 'custom',
      path: ['content'],
      message:
        m.content === null
          ? 'must be a string or an array of content parts; null is allowed only on an assistant message with tool_calls'
          : 'required field is missing',
    });
  });
export type ChatMessage = z.infer<typeof chatMessage>;

export const responseFormat = oneOfType({
  text: z.object({ type: z.literal('text') }),
  json_object: z.object({ type: z.literal('json_object') }),
  json_schema: z.object({
    type: z.literal('json_schema'),
    json_schema: z.looseObject({
      name: z.string(),
      schema: z.record(z.string(), z.unknown()).optional(),
      strict: z.boolean().nullish(),
    }),
  }),
});
export type ResponseFormat = z.infer<typeof responseFormat>;

/** Unknown fields pass through to OpenAI-shaped upstreams untouched (tools, seed, logprobs, ...). */
export const chatCompletionRequest = z
  .looseObject({
    model: z.string().min(1, 'must not be empty'),
    messages: z.array(chatMessage).min(1, 'must not be empty'),
    stream: z.boolean().nullish(),
    stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
    temperature: z.number().min(0).max(2).nullish(),
    top_p: z.number().min(0).max(1).nullish(),
    max_tokens: z.number().int().min(1).nullish(),
    max_completion_tokens: z.number().int().min(1).nullish(),
    /** OpenAI caps n at 128. */
    n: z.number().int().min(1).max(128).nullish(),
    stop: z.union([z.string(), z.array(z.string())]).nullish(),
    tools: z.array(z.looseObject({ type: z.string(), cache_control: cacheControl.nullish() })).nullish(),
    response_format: responseFormat.nullish(),
    user: userId.nullish(),
    thinking: thinkingConfig.nullish(),
  })
  .superRefine((r, ctx) => {
    // As Anthropic checks it (and the Messages API inbound): a budget must leave room for the answer.
    const max = r.max_completion_tokens ?? r.max_tokens;
    if (r.thinking?.type === 'enabled' && max != null && r.thinking.budget_tokens >= max)
      ctx.addIssue({
        code: 'custom',
        path: ['thinking', 'budget_tokens'],
        message: `must be less than ${r.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens'}`,
      });
  });
export type ChatCompletionRequest = z.infer<typeof chatCompletionRequest>;

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /**
   * `cached_tokens` is the part of prompt_tokens read from a prompt cache, `cache_creation_tokens` (LiteLLM's name) the
   * part written to it; both are inside prompt_tokens, never added to it.
   */
  prompt_tokens_details?: { cached_tokens?: number; cache_creation_tokens?: number };
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    message: {
      role: 'assistant';
      content: string | null;
      tool_calls?: unknown[];
      refusal?: string | null;
      reasoning_content?: string | null;
      thinking_blocks?: ThinkingBlock[];
    };
    finish_reason: string | null;
    logprobs?: unknown;
  }>;
  usage?: Usage;
  system_fingerprint?: string | null;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    delta: {
      role?: 'assistant';
      content?: string | null;
      refusal?: string | null;
      tool_calls?: unknown[];
      reasoning_content?: string | null;
      thinking_blocks?: ThinkingBlock[];
    };
    finish_reason: string | null;
    logprobs?: unknown;
  }>;
  usage?: Usage | null;
}

/** OpenAI's error body: `{ error: { message, type, param, code } }`. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}
