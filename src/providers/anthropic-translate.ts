/** Pure translation between OpenAI chat completions and the Anthropic Messages API, whole and streamed. */

import { createHash } from 'node:crypto';
import type {
  CacheControl,
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  ChatMessage,
  ThinkingBlock,
  ThinkingConfig,
  Usage,
} from '../api/openai.js';
import { providerDecline, thinkingStyle } from '../routing/capabilities.js';
import { budgetForEffort } from './thinking.js';
import { invalidRequest as invalid, parseToolCall } from './tool-calls.js';
import { ProviderError } from './types.js';
import { reasonForAnthropicType } from './upstream-errors.js';

export const DEFAULT_MAX_TOKENS = 4096;

/** Every block (and tool) may end a cacheable prefix: `cache_control` marks a prompt-cache breakpoint. */
interface Cacheable {
  cache_control?: CacheControl;
}

export interface AnthropicTextBlock extends Cacheable {
  type: 'text';
  text: string;
}

export interface AnthropicImageBlock extends Cacheable {
  type: 'image';
  source: { type: 'base64'; media_type: string; data: string } | { type: 'url'; url: string };
}

export interface AnthropicToolUseBlock extends Cacheable {
  type: 'tool_use';
  id: string;
  name: string;
  input: unknown;
}

export interface AnthropicToolResultBlock extends Cacheable {
  type: 'tool_result';
  tool_use_id: string;
  content?: string | Array<AnthropicTextBlock | AnthropicImageBlock>;
}

/** A thinking or redacted_thinking block of an earlier answer, sent back exactly as Anthropic made it. */
export type AnthropicThinkingBlock = ThinkingBlock & Cacheable;

export type AnthropicBlock =
  | AnthropicThinkingBlock
  | AnthropicTextBlock
  | AnthropicImageBlock
  | AnthropicToolUseBlock
  | AnthropicToolResultBlock;

export interface AnthropicTool extends Cacheable {
  name: string;
  description?: string;
  input_schema: Record<string, unknown>;
}

export type AnthropicToolChoice =
  | { type: 'auto' | 'any' | 'none'; disable_parallel_tool_use?: boolean }
  | { type: 'tool'; name: string; disable_parallel_tool_use?: boolean };

export interface AnthropicRequest {
  model: string;
  max_tokens: number;
  messages: Array<{ role: 'user' | 'assistant'; content: AnthropicBlock[] }>;
  /** A string, or text blocks when a system part carries a cache breakpoint. */
  system?: string | AnthropicTextBlock[];
  stop_sequences?: string[];
  temperature?: number;
  top_p?: number;
  stream?: boolean;
  metadata?: { user_id: string };
  tools?: AnthropicTool[];
  tool_choice?: AnthropicToolChoice;
  thinking?: ThinkingConfig;
}

export interface AnthropicUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
}

export interface AnthropicMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: Array<{
    type: string;
    text?: string;
    id?: string;
    name?: string;
    input?: unknown;
    thinking?: string;
    signature?: string;
    data?: string;
  }>;
  stop_reason: string | null;
  stop_sequence?: string | null;
  usage: AnthropicUsage;
}

/** The text of an OpenAI message; non-text parts (images, audio) are not translated. */
export function messageText(m: Pick<ChatMessage, 'content'>): string {
  if (typeof m.content === 'string') return m.content;
  if (!Array.isArray(m.content)) return '';
  return m.content
    .map((p) =>
      p.type === 'text' && typeof (p as { text?: unknown }).text === 'string'
        ? (p as { text: string }).text
        : '',
    )
    .filter((t) => t !== '')
    .join('\n');
}

const JSON_INSTRUCTION = 'Respond with a single valid JSON value and nothing else.';

/**
 * What this translation cannot carry faithfully: the legacy `functions` API, content parts other than text and
 * images (audio, files), and what the Messages API has no counterpart for that changes the answer: `n` > 1,
 * `logprobs` / `top_logprobs`, whitespace-only stop sequences (Anthropic refuses them), audio output (the table in
 * routing/capabilities.ts, which routing consults too). Rather than silently dropping them (and answering a different
 * question), the adapter declines such requests so failover picks another target. Sampling hints that only tune the
 * answer (seed, presence/frequency penalties, logit_bias) are dropped: docs/providers.md lists them.
 */
export function untranslatable(body: ChatCompletionRequest): string | undefined {
  const b = body as ChatCompletionRequest & { functions?: unknown[]; function_call?: unknown };
  if ((Array.isArray(b.functions) && b.functions.length > 0) || b.function_call != null)
    return 'legacy function calling is not translated to Anthropic';
  for (const m of body.messages) {
    if (m.role === 'function') return 'legacy function messages are not translated to Anthropic';
    if (Array.isArray(m.content) && m.content.some((p) => p.type !== 'text' && p.type !== 'image_url'))
      return 'content parts other than text and images are not translated to Anthropic';
  }
  return providerDecline('anthropic', body);
}

/** The tool_use ids Anthropic accepts. */
const TOOL_USE_ID = /^[a-zA-Z0-9_-]+$/;

/**
 * A tool-call id as Anthropic accepts it. Other vendors' ids may hold characters Anthropic refuses (Kimi's
 * `functions.get_weather:0`), which a conversation brings along when it changes tier mid tool loop. The same id always
 * gives the same result, so a tool_use and the tool_result answering it still match; the short hash of the original
 * keeps ids that differ only in refused characters apart. Only history is rewritten: the ids of an answer are new ones
 * Anthropic made, and the client sends them back as they are.
 */
export function anthropicToolId(id: string): string {
  if (TOOL_USE_ID.test(id)) return id;
  const hash = createHash('sha256').update(id).digest('hex').slice(0, 8);
  return `${id.replace(/[^a-zA-Z0-9_-]/g, '_')}_${hash}`;
}

const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);

/** OpenAI `image_url` part to an Anthropic image block: data URLs inline as base64, http(s) URLs by reference. */
export function toImageBlock(part: unknown, where: string): AnthropicImageBlock {
  const iu = (part as { image_url?: unknown }).image_url;
  const url = typeof iu === 'string' ? iu : (iu as { url?: unknown } | undefined)?.url;
  if (typeof url !== 'string' || url === '') throw invalid(`${where}: image_url.url is required`);
  const data = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  if (data) {
    const mediaType = (data[1] ?? '').toLowerCase();
    if (!IMAGE_TYPES.has(mediaType))
      throw invalid(
        `${where}: image type ${JSON.stringify(mediaType)} is not supported (jpeg, png, gif, webp)`,
      );
    if (!data[2]) throw invalid(`${where}: image data is empty`);
    return { type: 'image', source: { type: 'base64', media_type: mediaType, data: data[2] } };
  }
  if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } };
  throw invalid(`${where}: image_url.url must be a base64 data URL or an http(s) URL`);
}

/** A breakpoint of the internal request (on a part, a message, a tool call or a tool), if it has one. */
function breakpointOf(o: unknown): CacheControl | undefined {
  const cc = (o as { cache_control?: unknown } | null)?.cache_control;
  return typeof cc === 'object' && cc !== null ? (cc as CacheControl) : undefined;
}

/** `block` with `cc` as its breakpoint, when there is one. */
function marked<B extends Cacheable>(block: B, cc: CacheControl | undefined): B {
  return cc ? { ...block, cache_control: cc } : block;
}

/**
 * Text and image blocks of one user/assistant message, in order; empty text parts are dropped. A part's breakpoint
 * stays on its block; a message-level one (LiteLLM's form for string content) goes on the message's last block.
 */
function contentBlocks(m: ChatMessage, where: string): Array<AnthropicTextBlock | AnthropicImageBlock> {
  const out: Array<AnthropicTextBlock | AnthropicImageBlock> = [];
  if (typeof m.content === 'string') {
    if (m.content) out.push({ type: 'text', text: m.content });
  } else if (Array.isArray(m.content)) {
    for (const [j, p] of m.content.entries()) {
      if (p.type === 'image_url') out.push(marked(toImageBlock(p, `${where}.content.${j}`), breakpointOf(p)));
      else if (p.type === 'text' && typeof p['text'] === 'string' && p['text'] !== '')
        out.push(marked<AnthropicTextBlock>({ type: 'text', text: p['text'] as string }, breakpointOf(p)));
    }
  }
  const cc = breakpointOf(m);
  if (cc && out.length > 0) out[out.length - 1] = marked(out[out.length - 1]!, cc);
  return out;
}

/** Anthropic takes at most this many breakpoints per request (and refuses the request with more). */
export const MAX_BREAKPOINTS = 4;

/**
 * Keeps the last MAX_BREAKPOINTS breakpoints in prompt order (tools, system, messages) and drops the earlier ones:
 * the last ones cover the longest prefixes, and a client that sent more (a conversation that grew a breakpoint per
 * turn) gets what Anthropic would cache for its newest turns rather than a 400. Mutates the request it is given.
 */
export function limitBreakpoints(req: AnthropicRequest): void {
  const holders: Cacheable[] = [];
  for (const t of req.tools ?? []) if (t.cache_control) holders.push(t);
  if (Array.isArray(req.system)) for (const b of req.system) if (b.cache_control) holders.push(b);
  for (const m of req.messages)
    for (const b of m.content) {
      if (b.cache_control) holders.push(b);
      if (b.type === 'tool_result' && Array.isArray(b.content))
        for (const inner of b.content) if (inner.cache_control) holders.push(inner);
    }
  for (const h of holders.slice(0, Math.max(0, holders.length - MAX_BREAKPOINTS))) delete h.cache_control;
}

/** An assistant message's OpenAI `tool_calls` as Anthropic `tool_use` blocks; arguments must be a JSON object. */
function toolUseBlocks(m: ChatMessage, where: string): AnthropicToolUseBlock[] {
  return (m.tool_calls ?? []).map((raw, k) => {
    const { id, name, args } = parseToolCall(raw, `${where}.tool_calls.${k}`);
    return marked<AnthropicToolUseBlock>(
      { type: 'tool_use', id: anthropicToolId(id), name, input: args },
      breakpointOf(raw),
    );
  });
}

/**
 * An assistant message's thinking blocks as Anthropic takes them back: unchanged, in order, and only those Anthropic
 * signed (a block with an empty signature came from another vendor's reasoning, which Anthropic would refuse).
 */
function thinkingBlocks(m: ChatMessage): AnthropicThinkingBlock[] {
  const blocks = m.thinking_blocks;
  if (!Array.isArray(blocks)) return [];
  return blocks.filter((b) => b.type === 'redacted_thinking' || b.signature !== '');
}

/**
 * Whether the request continues a tool call (the last assistant turn called tools, and tool results follow it) whose
 * turn carries no thinking Anthropic signed. With thinking on, Anthropic refuses such a request ("a final assistant
 * message must start with a thinking block"), and it is common here: another vendor answered that turn (the router
 * picks the model per request), or a chat or Responses client did not send the blocks back. The request is then served
 * without thinking, as for a model that has none.
 */
function continuesUnsignedToolTurn(body: ChatCompletionRequest): boolean {
  const i = body.messages.findLastIndex((m) => m.role === 'assistant');
  const turn = body.messages[i];
  if (!turn || (turn.tool_calls?.length ?? 0) === 0) return false;
  if (!body.messages.slice(i + 1).some((m) => m.role === 'tool')) return false;
  return thinkingBlocks(turn).length === 0;
}

/**
 * The `thinking` Anthropic gets, on `out` (whose sampling, tools and max_tokens are set), for a model that can think
 * (routing/capabilities.ts): the request's own config as it came, else one from OpenAI's `reasoning_effort` with the
 * budget of src/providers/thinking.ts. max_tokens must exceed the budget, so a limit at or below it is raised by the
 * budget (the answer keeps the room the client asked for). Anthropic refuses thinking with a sampling temperature,
 * top_p below 0.95 or forced tool use; a `reasoning_effort` then asks for no thinking, as for a model that has none.
 * Neither asks for thinking when the request continues a tool call without its signed thinking (above).
 */
function withThinking(body: ChatCompletionRequest, out: AnthropicRequest): void {
  if (thinkingStyle('anthropic', body.model) !== 'anthropic') return;
  if (continuesUnsignedToolTurn(body)) return;
  if (body.thinking != null) {
    out.thinking = body.thinking;
    // Only a request without a limit of its own (the default then) can be at or below its budget: raised above it.
    if (body.thinking.type === 'enabled' && out.max_tokens <= body.thinking.budget_tokens)
      out.max_tokens += body.thinking.budget_tokens;
    return;
  }
  const budget = budgetForEffort(body['reasoning_effort']);
  if (budget === undefined) return;
  const forced = out.tool_choice?.type === 'any' || out.tool_choice?.type === 'tool';
  const sampled = (out.temperature !== undefined && out.temperature !== 1) || (out.top_p ?? 1) < 0.95;
  if (forced || sampled) return;
  out.thinking = { type: 'enabled', budget_tokens: budget };
  if (out.max_tokens <= budget) out.max_tokens += budget;
}

/** OpenAI `tools` to Anthropic's; only function tools exist in both. */
export function toAnthropicTools(tools: unknown): AnthropicTool[] {
  if (!Array.isArray(tools)) throw invalid('tools must be an array');
  return tools.map((raw, i) => {
    const t = raw as {
      type?: unknown;
      function?: { name?: unknown; description?: unknown; parameters?: unknown };
    };
    if (t?.type !== 'function') throw invalid(`tools.${i}.type must be "function"`);
    const name = t.function?.name;
    if (typeof name !== 'string' || name === '') throw invalid(`tools.${i}.function.name is required`);
    const params = t.function?.parameters;
    if (params !== undefined && (typeof params !== 'object' || params === null || Array.isArray(params)))
      throw invalid(`tools.${i}.function.parameters must be a JSON schema object`);
    // OpenAI allows omitting parameters (a tool without arguments); Anthropic requires an object schema.
    const input_schema = (params as Record<string, unknown> | undefined) ?? {
      type: 'object',
      properties: {},
    };
    const out: AnthropicTool = { name, input_schema };
    if (typeof t.function?.description === 'string') out.description = t.function.description;
    const cc = breakpointOf(t);
    if (cc) out.cache_control = cc;
    return out;
  });
}

/** OpenAI `tool_choice` (+ `parallel_tool_calls`) to Anthropic's. */
export function toAnthropicToolChoice(choice: unknown, parallel: unknown): AnthropicToolChoice | undefined {
  const noParallel = parallel === false ? { disable_parallel_tool_use: true } : {};
  if (choice == null || choice === 'auto')
    return parallel === false ? { type: 'auto', ...noParallel } : undefined;
  if (choice === 'none') return { type: 'none' };
  if (choice === 'required') return { type: 'any', ...noParallel };
  const c = choice as { type?: unknown; function?: { name?: unknown } };
  if (c?.type === 'function' && typeof c.function?.name === 'string' && c.function.name !== '')
    return { type: 'tool', name: c.function.name, ...noParallel };
  throw invalid('tool_choice must be "auto", "none", "required" or {type:"function",function:{name}}');
}

/**
 * OpenAI request to Anthropic request. System and developer messages become `system`; assistant tool calls become
 * `tool_use` blocks and tool messages `tool_result` blocks in a user turn; consecutive messages of one role are
 * merged (Anthropic requires alternation, and all results for one assistant turn in the next user turn) and the
 * conversation must open with a user turn; empty messages are dropped (Anthropic rejects empty text blocks).
 * Throws a `client_error` ProviderError for tool calls, tools or images no upstream would accept.
 */
export function toAnthropicRequest(
  body: ChatCompletionRequest,
  maxTokensDefault = DEFAULT_MAX_TOKENS,
): AnthropicRequest {
  const system: AnthropicTextBlock[] = [];
  const messages: AnthropicRequest['messages'] = [];
  // History thinking goes back only to a model that thinks; it is Anthropic's own, so nothing else reads it.
  const thinks = thinkingStyle('anthropic', body.model) === 'anthropic';
  const push = (role: 'user' | 'assistant', blocks: AnthropicBlock[]) => {
    if (blocks.length === 0) return;
    const last = messages[messages.length - 1];
    if (last && last.role === role) {
      // Anthropic wants tool results before any text in a user turn.
      if (role === 'user' && blocks.every((b) => b.type === 'tool_result')) {
        const firstOther = last.content.findIndex((b) => b.type !== 'tool_result');
        if (firstOther >= 0) {
          last.content.splice(firstOther, 0, ...blocks);
          return;
        }
      }
      last.content.push(...blocks);
    } else messages.push({ role, content: [...blocks] });
  };
  for (const [i, m] of body.messages.entries()) {
    const where = `messages.${i}`;
    if (m.role === 'system' || m.role === 'developer') {
      // Parts stay blocks only when one carries a breakpoint: without one the system prompt is the joined text.
      const blocks = contentBlocks(m, where).filter((b) => b.type === 'text');
      if (blocks.some((b) => b.cache_control)) system.push(...blocks);
      else {
        const text = messageText(m);
        if (text) system.push({ type: 'text', text });
      }
      continue;
    }
    if (m.role === 'tool') {
      if (typeof m.tool_call_id !== 'string' || m.tool_call_id === '')
        throw invalid(`${where}.tool_call_id is required for tool messages`);
      // Anthropic rejects empty text, so an empty result is sent without content. Images in a result (a screenshot
      // tool, say) go as image blocks, which tool_result content may hold; text alone stays a string.
      const hasImages = Array.isArray(m.content) && m.content.some((p) => p.type === 'image_url');
      const content = hasImages ? contentBlocks(m, where) : messageText(m);
      // A breakpoint on a text-only result (on the message or one of its parts) marks the tool_result block.
      const cc = hasImages
        ? undefined
        : (breakpointOf(m) ??
          (Array.isArray(m.content) ? m.content.map(breakpointOf).findLast(Boolean) : undefined));
      push('user', [
        marked<AnthropicToolResultBlock>(
          {
            type: 'tool_result',
            tool_use_id: anthropicToolId(m.tool_call_id),
            ...(content.length > 0 ? { content } : {}),
          },
          cc,
        ),
      ]);
      continue;
    }
    if (m.role === 'assistant') {
      // Thinking first, as Anthropic answers it: a turn that continues a tool call with thinking on must start with it.
      push('assistant', [
        ...(thinks ? thinkingBlocks(m) : []),
        ...contentBlocks(m, where),
        ...toolUseBlocks(m, where),
      ]);
      continue;
    }
    push('user', contentBlocks(m, where));
  }
  if (messages[0]?.role !== 'user')
    messages.unshift({ role: 'user', content: [{ type: 'text', text: '(conversation start)' }] });
  const rf = body.response_format?.type;
  if (rf === 'json_object' || rf === 'json_schema') {
    const schema =
      body.response_format?.type === 'json_schema' ? body.response_format.json_schema.schema : undefined;
    system.push({
      type: 'text',
      text: schema
        ? `${JSON_INSTRUCTION} It must match this JSON schema: ${JSON.stringify(schema)}`
        : JSON_INSTRUCTION,
    });
  }
  const out: AnthropicRequest = {
    model: body.model,
    max_tokens: body.max_completion_tokens ?? body.max_tokens ?? maxTokensDefault,
    messages,
  };
  if (system.length > 0)
    out.system = system.some((b) => b.cache_control) ? system : system.map((b) => b.text).join('\n\n');
  if (body.stop != null) {
    // An empty stop sequence stops nothing; whitespace-only ones were declined (untranslatable).
    const stops = (Array.isArray(body.stop) ? body.stop : [body.stop]).filter((s) => s !== '');
    if (stops.length > 0) out.stop_sequences = stops;
  }
  // OpenAI temperature runs 0..2, Anthropic's 0..1.
  if (body.temperature != null) out.temperature = Math.min(1, body.temperature);
  if (body.top_p != null) out.top_p = body.top_p;
  if (body.user) out.metadata = { user_id: body.user };
  const tools = body['tools'];
  if (tools != null && !(Array.isArray(tools) && tools.length === 0)) {
    out.tools = toAnthropicTools(tools);
    const choice = toAnthropicToolChoice(body['tool_choice'], body['parallel_tool_calls']);
    if (choice) {
      if (choice.type === 'tool' && !out.tools.some((t) => t.name === choice.name))
        throw invalid(`tool_choice names function "${choice.name}", which is not in tools`);
      out.tool_choice = choice;
    }
  } else if (
    body['tool_choice'] != null &&
    body['tool_choice'] !== 'none' &&
    body['tool_choice'] !== 'auto'
  ) {
    throw invalid('tool_choice requires tools');
  }
  withThinking(body, out);
  if (body.stream) out.stream = true;
  limitBreakpoints(out);
  return out;
}

export function finishReason(stop: string | null | undefined): string | null {
  switch (stop) {
    case 'end_turn':
    case 'stop_sequence':
    case 'pause_turn':
      return 'stop';
    case 'max_tokens':
    // The answer ran into the model's context window (newer models): cut short, as by max_tokens.
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    case null:
    case undefined:
      return null;
    default:
      return 'stop';
  }
}

/**
 * Prompt tokens include cache writes and reads: all of them were billed as input (at their own prices: budget/cost.ts).
 * Cache reads are also reported as `prompt_tokens_details.cached_tokens` and writes as `cache_creation_tokens`, parts
 * of prompt_tokens as in OpenAI's usage (never added to it again).
 */
export function toUsage(input: AnthropicUsage, output: number): Usage {
  const read = input.cache_read_input_tokens ?? 0;
  const write = input.cache_creation_input_tokens ?? 0;
  const prompt = (input.input_tokens ?? 0) + write + read;
  const details = {
    ...(read > 0 ? { cached_tokens: read } : {}),
    ...(write > 0 ? { cache_creation_tokens: write } : {}),
  };
  return {
    prompt_tokens: prompt,
    completion_tokens: output,
    total_tokens: prompt + output,
    ...(read > 0 || write > 0 ? { prompt_tokens_details: details } : {}),
  };
}

export function isAnthropicMessage(v: unknown): v is AnthropicMessage {
  const m = v as AnthropicMessage | null;
  return (
    typeof m === 'object' &&
    m !== null &&
    m.type === 'message' &&
    Array.isArray(m.content) &&
    typeof m.usage === 'object'
  );
}

/** A thinking block of an answer, as the internal answer keeps it (api/openai.ts): its fields exactly, nothing added. */
function thinkingOf(b: {
  type: string;
  thinking?: unknown;
  signature?: unknown;
  data?: unknown;
}): ThinkingBlock | undefined {
  if (b.type === 'thinking' && typeof b.thinking === 'string')
    return {
      type: 'thinking',
      thinking: b.thinking,
      signature: typeof b.signature === 'string' ? b.signature : '',
    };
  if (b.type === 'redacted_thinking' && typeof b.data === 'string')
    return { type: 'redacted_thinking', data: b.data };
  return undefined;
}

/** An answer's thinking as the internal message's `thinking_blocks` and `reasoning_content`; nothing without any. */
function answerThinking(content: AnthropicMessage['content']): {
  reasoning_content?: string;
  thinking_blocks?: ThinkingBlock[];
} {
  const blocks: ThinkingBlock[] = [];
  for (const b of content) {
    const t = thinkingOf(b);
    if (t) blocks.push(t);
  }
  if (blocks.length === 0) return {};
  const text = blocks.map((b) => (b.type === 'thinking' ? b.thinking : '')).filter((t) => t !== '');
  return { reasoning_content: text.join('\n\n'), thinking_blocks: blocks };
}

export function fromAnthropicMessage(
  m: AnthropicMessage,
  created = Math.floor(Date.now() / 1000),
): ChatCompletion {
  const text = m.content
    .filter((b) => b.type === 'text')
    .map((b) => b.text ?? '')
    .join('');
  const thinking = answerThinking(m.content);
  const toolCalls = m.content
    .filter((b) => b.type === 'tool_use')
    .map((b) => ({
      id: b.id ?? '',
      type: 'function' as const,
      function: { name: b.name ?? '', arguments: JSON.stringify(b.input ?? {}) },
    }));
  // OpenAI sends null content when the answer is only tool calls.
  const content = toolCalls.length > 0 && text === '' ? null : text;
  return {
    id: m.id,
    object: 'chat.completion',
    created,
    model: m.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
          refusal: null,
          ...thinking,
        },
        finish_reason: finishReason(m.stop_reason),
        logprobs: null,
      },
    ],
    usage: toUsage(m.usage, m.usage.output_tokens ?? 0),
  };
}

/**
 * Anthropic stream events in, OpenAI chunks out, one event at a time. Emits a role chunk on message_start, a content
 * chunk per text delta, a tool_calls chunk per tool_use block start (id, name, empty arguments) and per
 * input_json_delta (argument fragment), a `reasoning_content` chunk per thinking_delta and a `thinking_blocks` chunk with
 * each thinking block whole (its signature too) at its stop and each redacted_thinking block at its start, a
 * finish_reason chunk on message_delta, and a usage chunk (empty choices, as OpenAI sends with include_usage) on
 * message_stop. `done` turns true on message_stop; an `error` event throws a ProviderError.
 */
export class AnthropicStreamTranslator {
  done = false;
  private id = '';
  private model: string;
  private input: AnthropicUsage = {};
  private output = 0;
  /** Anthropic content-block index to OpenAI tool-call index, and whether any arguments were sent for it. */
  private tools = new Map<number, { index: number; sentArgs: boolean }>();
  /** Open thinking blocks by content-block index: the text so far and the signature, sent whole at the block's stop. */
  private thinking = new Map<number, { thinking: string; signature: string }>();

  constructor(
    private readonly provider: string,
    requestedModel: string,
    private readonly created = Math.floor(Date.now() / 1000),
  ) {
    this.model = requestedModel;
  }

  onEvent(type: string | undefined, data: unknown): ChatCompletionChunk[] {
    // biome-ignore lint/suspicious/noExplicitAny: untrusted vendor JSON; every field used is checked with typeof first
    const d = (data ?? {}) as Record<string, any>;
    switch (type ?? d['type']) {
      case 'message_start': {
        const msg = d['message'] ?? {};
        this.id = typeof msg.id === 'string' ? msg.id : this.id;
        if (typeof msg.model === 'string') this.model = msg.model;
        this.input = msg.usage ?? {};
        this.output = msg.usage?.output_tokens ?? 0;
        return [this.chunk({ role: 'assistant', content: '' }, null)];
      }
      case 'content_block_start': {
        const block = d['content_block'];
        if (block?.type === 'thinking' && typeof d['index'] === 'number') {
          const text = typeof block.thinking === 'string' ? block.thinking : '';
          const signature = typeof block.signature === 'string' ? block.signature : '';
          this.thinking.set(d['index'], { thinking: text, signature });
          return text !== '' ? [this.chunk({ reasoning_content: text }, null)] : [];
        }
        if (block?.type === 'redacted_thinking' && typeof block.data === 'string')
          return [this.chunk({ thinking_blocks: [{ type: 'redacted_thinking', data: block.data }] }, null)];
        if (block?.type === 'tool_use' && typeof d['index'] === 'number') {
          const index = this.tools.size;
          this.tools.set(d['index'], { index, sentArgs: false });
          const id = typeof block.id === 'string' ? block.id : '';
          const name = typeof block.name === 'string' ? block.name : '';
          return [
            this.chunk(
              { tool_calls: [{ index, id, type: 'function', function: { name, arguments: '' } }] },
              null,
            ),
          ];
        }
        const text = block?.type === 'text' ? block.text : undefined;
        return typeof text === 'string' && text !== '' ? [this.chunk({ content: text }, null)] : [];
      }
      case 'content_block_delta': {
        const delta = d['delta'];
        if (delta?.type === 'text_delta' && typeof delta.text === 'string')
          return [this.chunk({ content: delta.text }, null)];
        const thought = typeof d['index'] === 'number' ? this.thinking.get(d['index']) : undefined;
        if (thought && delta?.type === 'thinking_delta' && typeof delta.thinking === 'string') {
          if (delta.thinking === '') return [];
          thought.thinking += delta.thinking;
          return [this.chunk({ reasoning_content: delta.thinking }, null)];
        }
        if (thought && delta?.type === 'signature_delta' && typeof delta.signature === 'string') {
          thought.signature = delta.signature;
          return [];
        }
        const tool = typeof d['index'] === 'number' ? this.tools.get(d['index']) : undefined;
        if (delta?.type === 'input_json_delta' && tool && typeof delta.partial_json === 'string') {
          if (delta.partial_json === '') return [];
          tool.sentArgs = true;
          return [this.toolArgs(tool.index, delta.partial_json)];
        }
        return [];
      }
      case 'content_block_stop': {
        // A thinking block ends whole, signature included (api/openai.ts): its text already went as fragments.
        const thought = typeof d['index'] === 'number' ? this.thinking.get(d['index']) : undefined;
        if (thought) {
          this.thinking.delete(d['index']);
          return [this.chunk({ thinking_blocks: [{ type: 'thinking', ...thought }] }, null)];
        }
        // A tool called without arguments streams no JSON at all; OpenAI clients expect "{}" to parse.
        const tool = typeof d['index'] === 'number' ? this.tools.get(d['index']) : undefined;
        if (tool && !tool.sentArgs) {
          tool.sentArgs = true;
          return [this.toolArgs(tool.index, '{}')];
        }
        return [];
      }
      case 'message_delta': {
        if (typeof d['usage']?.output_tokens === 'number') this.output = d['usage'].output_tokens;
        // Newer API versions may report input counts again here; keep the latest.
        for (const k of ['input_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens'] as const)
          if (typeof d['usage']?.[k] === 'number') this.input = { ...this.input, [k]: d['usage'][k] };
        return [this.chunk({}, finishReason(d['delta']?.stop_reason ?? 'end_turn'))];
      }
      case 'message_stop':
        this.done = true;
        return [{ ...this.chunk({}, null), choices: [], usage: toUsage(this.input, this.output) }];
      case 'error': {
        const e = d['error'] ?? {};
        const reason = reasonForAnthropicType(typeof e.type === 'string' ? e.type : undefined, undefined);
        const msg = typeof e.type === 'string' ? ` (${e.type})` : '';
        throw new ProviderError(reason, `provider "${this.provider}" sent an error event${msg}`, {
          overloaded: e.type === 'overloaded_error',
        });
      }
      default:
        // ping and event types added later carry nothing we translate.
        return [];
    }
  }

  private toolArgs(index: number, args: string): ChatCompletionChunk {
    return this.chunk({ tool_calls: [{ index, function: { arguments: args } }] }, null);
  }

  private chunk(
    delta: ChatCompletionChunk['choices'][number]['delta'],
    finish: string | null,
  ): ChatCompletionChunk {
    return {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
    };
  }
}
