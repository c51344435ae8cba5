/**
 * The Anthropic Messages API inbound (`POST /v1/messages`), as pure translation to and from the internal request
 * (the OpenAI chat shape every stage and provider speaks): the request, the whole answer, and the stream as the
 * Anthropic event sequence. The provider direction (OpenAI -> Anthropic upstream) is src/providers/anthropic-translate.ts;
 * this is its mirror image, so a request that comes in as Anthropic and is served by an Anthropic target makes the
 * round trip through the internal shape unchanged in meaning.
 *
 * Extended thinking is carried: `thinking` as the internal request's, an assistant turn's thinking and
 * redacted_thinking blocks as its `thinking_blocks`, and the answer's as thinking blocks again, first in the content
 * (the representation: src/api/openai.ts; per provider: src/providers/thinking.ts, docs/providers.md).
 *
 * Not carried (refused with a 400 naming the field, never dropped): server tools (web search, bash, ...), document
 * and search-result blocks, and every top-level field not in TRANSLATED or IGNORED below.
 */
import { randomBytes } from 'node:crypto';
import type {
  AnthropicInboundBlock,
  AnthropicMessageResponse,
  AnthropicMessagesRequest,
} from '../../api/anthropic-messages.js';
import type {
  CacheControl,
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  ChatMessage,
  ThinkingBlock,
} from '../../api/openai.js';
import { TiermeshError } from '../../errors.js';
import { markLastBlock } from '../../providers/cache-control.js';
import { sseEvent } from '../../providers/sse.js';
import { invalid } from './invalid.js';
import { StreamParts, thinkingParts, wholeArguments } from './stream-parts.js';

/** The request header the SDKs send; any value is accepted (the answer shape has been stable across versions). */
export const ANTHROPIC_VERSION_HEADER = 'anthropic-version';

/** A part may end a cacheable prefix: the block's `cache_control`, carried as the internal request's (api/openai.ts). */
type TextPart = { type: 'text'; text: string; cache_control?: CacheControl };
type ImagePart = { type: 'image_url'; image_url: { url: string }; cache_control?: CacheControl };
type ToolCall = {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
  /** Gemini's thought signature (`{google: {thought_signature}}`), which the next turn must send back. */
  extra_content?: unknown;
  cache_control?: CacheControl;
};

/** Top-level fields the translation carries into the internal request. */
const TRANSLATED = new Set([
  'model',
  'max_tokens',
  'messages',
  'system',
  'stop_sequences',
  'temperature',
  'top_p',
  'stream',
  'metadata',
  'tools',
  'tool_choice',
  'thinking',
  'output_config',
  'output_format',
  'cache_control',
]);

/**
 * Top-level fields dropped on purpose: they do not change what the answer says. `top_k` (a sampling knob with no
 * OpenAI equivalent), `service_tier` (capacity, not content), `diagnostics`
 * (asks for cache-miss diagnostics in the answer), `context_management` (server-side context editing, e.g. clearing
 * old tool results: without it the model reads the whole conversation, as a request without the beta does; Claude
 * Code sends it on every turn, so refusing it would refuse Claude Code), and the SDKs' header params should they
 * arrive in the body.
 */
const IGNORED = new Set([
  'top_k',
  'service_tier',
  'diagnostics',
  'context_management',
  'user_profile_id',
  'workspace_id',
]);

/** Values of refused fields that ask for nothing beyond the default (null, [], speed standard), so they pass. */
function isDefault(key: string, value: unknown): boolean {
  return (
    value === null ||
    value === undefined ||
    (Array.isArray(value) && value.length === 0) ||
    (key === 'speed' && value === 'standard')
  );
}

/** Fields of the Messages API that change the answer and have no internal counterpart: named in logs too. */
const REFUSED = new Set(['mcp_servers', 'container', 'inference_geo', 'speed']);

/**
 * Every top-level field the translation neither carries nor may drop is refused, by name. A field of no known API
 * is the client's text: its answer names it, the log line only its length.
 */
function refuseUntranslated(req: AnthropicMessagesRequest): void {
  for (const [key, value] of Object.entries(req)) {
    if (TRANSLATED.has(key) || IGNORED.has(key) || isDefault(key, value)) continue;
    if (REFUSED.has(key)) throw invalid(key, 'is not supported by this endpoint');
    const shown = key.slice(0, 100);
    throw new TiermeshError('TM_INVALID_REQUEST', `${shown}: is not supported by this endpoint`, {
      param: shown,
      logMessage: `an unknown top-level field (${key.length} chars) is not supported by this endpoint`,
    });
  }
}

/** OpenAI's reasoning_effort values; Anthropic's xhigh and max have none. */
const EFFORTS = new Set(['low', 'medium', 'high']);

/**
 * `output_config` (and the older `output_format`): a JSON schema becomes `response_format` json_schema, strict as
 * Anthropic's structured outputs are (every provider adapter translates it); `effort` becomes `reasoning_effort`.
 */
function outputConfig(req: AnthropicMessagesRequest, out: ChatCompletionRequest): void {
  const config = req.output_config ?? {};
  for (const key of Object.keys(config))
    if (key !== 'format' && key !== 'effort' && !isDefault(key, config[key]))
      throw invalid(`output_config.${key}`, 'is not supported by this endpoint');
  const legacy = (req as { output_format?: unknown }).output_format;
  const [format, where] =
    config.format != null ? [config.format, 'output_config.format'] : [legacy, 'output_format'];
  if (format != null) {
    const f = format as { type?: unknown; schema?: unknown };
    if (f.type !== 'json_schema')
      throw invalid(`${where}.type`, (q) => `format ${q(String(f.type))} is not supported by this endpoint`);
    if (typeof f.schema !== 'object' || f.schema === null || Array.isArray(f.schema))
      throw invalid(`${where}.schema`, 'required field is missing');
    out.response_format = {
      type: 'json_schema',
      json_schema: { name: 'output', schema: f.schema as Record<string, unknown>, strict: true },
    };
  }
  const effort = config.effort;
  if (effort != null) {
    if (!EFFORTS.has(effort))
      throw invalid(
        'output_config.effort',
        (q) => `effort ${q(effort)} has no equivalent here; use low, medium or high`,
      );
    out['reasoning_effort'] = effort;
  }
}

/** The id of a tool_use block whose upstream call had none: the client must send it back with the result. */
function newToolUseId(): string {
  return `toolu_${randomBytes(12).toString('hex')}`;
}

/**
 * A block's cache breakpoint as the internal request takes it (`{type: "ephemeral", ttl?}`); another type or ttl is
 * refused by name rather than sent on for Anthropic to refuse (or dropped, which would cost the client its cache).
 */
function breakpoint(block: unknown, where: string): CacheControl | undefined {
  const cc = (block as { cache_control?: unknown } | null)?.cache_control;
  if (cc == null) return undefined;
  const c = cc as { type?: unknown; ttl?: unknown };
  const at = where ? `${where}.cache_control` : 'cache_control';
  if (c.type !== 'ephemeral') throw invalid(`${at}.type`, 'must be "ephemeral"');
  if (c.ttl !== undefined && c.ttl !== '5m' && c.ttl !== '1h')
    throw invalid(`${at}.ttl`, 'must be "5m" or "1h"');
  return c.ttl === undefined ? { type: 'ephemeral' } : { type: 'ephemeral', ttl: c.ttl };
}

/** `part` with the breakpoint of `block`, when it has one. */
function withBreakpoint<P extends { cache_control?: CacheControl }>(
  part: P,
  block: unknown,
  where: string,
): P {
  const cc = breakpoint(block, where);
  return cc ? { ...part, cache_control: cc } : part;
}

function imagePart(block: AnthropicInboundBlock, where: string): ImagePart {
  const source = (block as { source?: { type: string; media_type?: string; data?: string; url?: string } })
    .source;
  if (source?.type === 'base64')
    return withBreakpoint<ImagePart>(
      { type: 'image_url', image_url: { url: `data:${source.media_type};base64,${source.data}` } },
      block,
      where,
    );
  if (source?.type === 'url' && typeof source.url === 'string')
    return withBreakpoint<ImagePart>({ type: 'image_url', image_url: { url: source.url } }, block, where);
  throw invalid(`${where}.source`, 'image source must be base64 or url');
}

/** Thinking belongs to assistant turns; in a user turn (where no answer puts it) it is dropped instead of refused. */
const ASSISTANT_ONLY = new Set(['thinking', 'redacted_thinking']);

/** A thinking block as the internal message keeps it: its own fields, exactly as the client sent them back. */
function thinkingBlock(block: AnthropicInboundBlock): ThinkingBlock {
  if (block.type === 'redacted_thinking')
    return { type: 'redacted_thinking', data: (block as { data: string }).data };
  const b = block as { thinking: string; signature: string };
  return { type: 'thinking', thinking: b.thinking, signature: b.signature };
}

function unsupportedBlock(type: string, where: string): TiermeshError {
  return invalid(`${where}.type`, (q) => `content block type ${q(type)} is not supported by this endpoint`);
}

/** A tool result's text; images in it go to the user turn that follows (tool messages carry text only). */
function toolResult(
  block: Extract<AnthropicInboundBlock, { type: 'tool_result' }>,
  where: string,
): { text: string; images: ImagePart[]; cache: CacheControl | undefined } {
  const c = block.content;
  const images: ImagePart[] = [];
  let text = '';
  // The result is one tool message: a breakpoint on it or on one of its text blocks marks the whole result.
  let cache = breakpoint(block, where);
  if (typeof c === 'string') text = c;
  else if (Array.isArray(c)) {
    const texts: string[] = [];
    for (const [k, b] of c.entries()) {
      const at = `${where}.content[${k}]`;
      if (b.type === 'text') {
        texts.push((b as TextPart).text);
        cache = breakpoint(b, at) ?? cache;
      } else if (b.type === 'image') images.push(imagePart(b as AnthropicInboundBlock, at));
      else throw unsupportedBlock(b.type, at);
    }
    text = texts.join('\n');
  }
  // OpenAI has no error flag on tool messages; the model still needs to know the call failed.
  if (block.is_error === true) text = text ? `Error: ${text}` : 'Error';
  return { text, images, cache };
}

/** The system prompt: its blocks' text joined, or text parts when a block carries a cache breakpoint. */
function systemContent(system: AnthropicMessagesRequest['system']): string | TextPart[] {
  if (system === undefined) return '';
  if (typeof system === 'string') return system;
  const parts = system.map((b, i) =>
    withBreakpoint<TextPart>({ type: 'text', text: b.text }, b, `system[${i}]`),
  );
  return parts.some((p) => p.cache_control) ? parts : parts.map((p) => p.text).join('\n');
}

/** Text parts as one string (blocks joined by newline), unless a breakpoint must stay on its part. */
function joinedUnlessMarked(parts: Array<TextPart | ImagePart>): string | Array<TextPart | ImagePart> {
  const plain = parts.every((p) => p.type === 'text' && !p.cache_control);
  return plain ? parts.map((p) => (p as TextPart).text).join('\n') : parts;
}

/** The user turn's parts in order, with its tool results pulled out as tool messages placed before it. */
function userMessages(content: AnthropicInboundBlock[] | string, where: string): ChatMessage[] {
  // Anthropic refuses an empty user turn too; sending it on would have the upstream answer a made-up one.
  if (content === '' || (Array.isArray(content) && content.length === 0))
    throw invalid(`${where}.content`, 'user messages must have non-empty content');
  if (typeof content === 'string') return [{ role: 'user', content }];
  const tools: ChatMessage[] = [];
  const parts: Array<TextPart | ImagePart> = [];
  for (const [j, block] of content.entries()) {
    const at = `${where}.content[${j}]`;
    if (block.type === 'text')
      parts.push(withBreakpoint<TextPart>({ type: 'text', text: (block as TextPart).text }, block, at));
    else if (block.type === 'image') parts.push(imagePart(block, at));
    else if (block.type === 'tool_result') {
      const b = block as Extract<AnthropicInboundBlock, { type: 'tool_result' }>;
      const r = toolResult(b, at);
      tools.push({
        role: 'tool',
        tool_call_id: b.tool_use_id,
        // As a text part when it carries a breakpoint: the provider puts it on the tool_result block.
        content: r.cache ? [{ type: 'text', text: r.text, cache_control: r.cache }] : r.text,
      });
      parts.push(...r.images);
    } else if (!ASSISTANT_ONLY.has(block.type)) throw unsupportedBlock(block.type, at);
  }
  const out = [...tools];
  if (parts.length > 0) out.push({ role: 'user', content: joinedUnlessMarked(parts) });
  return out;
}

function assistantMessage(content: AnthropicInboundBlock[] | string, where: string): ChatMessage {
  if (typeof content === 'string') return { role: 'assistant', content };
  const texts: TextPart[] = [];
  const calls: ToolCall[] = [];
  const thinking: ThinkingBlock[] = [];
  for (const [j, block] of content.entries()) {
    const at = `${where}.content[${j}]`;
    if (block.type === 'text')
      texts.push(withBreakpoint<TextPart>({ type: 'text', text: (block as TextPart).text }, block, at));
    else if (block.type === 'tool_use') {
      const b = block as Extract<AnthropicInboundBlock, { type: 'tool_use' }>;
      calls.push(
        withBreakpoint<ToolCall>(
          {
            id: b.id,
            type: 'function',
            function: { name: b.name, arguments: JSON.stringify(b.input) },
            ...(b['extra_content'] != null ? { extra_content: b['extra_content'] } : {}),
          },
          b,
          at,
        ),
      );
    } else if (ASSISTANT_ONLY.has(block.type)) thinking.push(thinkingBlock(block));
    else throw unsupportedBlock(block.type, at);
  }
  // As in user turns: separate blocks stay separate words.
  const text = joinedUnlessMarked(texts);
  return {
    role: 'assistant',
    content: calls.length > 0 && text === '' ? null : text,
    ...(calls.length > 0 ? { tool_calls: calls } : {}),
    ...(thinking.length > 0 ? { thinking_blocks: thinking } : {}),
  };
}

/**
 * The top-level `cache_control` (Anthropic's automatic caching): a breakpoint on the last cacheable block, which moves
 * forward as the conversation grows. Translated as exactly that: the last part (or tool call) of the last message gets
 * the breakpoint, unless it already has one.
 */
function automaticBreakpoint(req: AnthropicMessagesRequest, messages: ChatMessage[]): void {
  const cc = breakpoint(req, '');
  if (cc) markLastBlock(messages, cc);
}

/**
 * Anthropic request to the internal request. System becomes the first system message; each tool_result becomes a
 * `tool` message ahead of the rest of its user turn (OpenAI wants results right after the assistant's tool calls);
 * tool_use blocks become tool_calls; images become image_url parts (base64 as data URLs). Throws a 400
 * TiermeshError naming the field for what cannot be carried.
 */
export function fromAnthropicRequest(req: AnthropicMessagesRequest): ChatCompletionRequest {
  refuseUntranslated(req);
  // Checked as Anthropic does (the schema checked the type and budget_tokens >= 1024): whatever model answers.
  if (req.thinking?.type === 'enabled' && req.thinking.budget_tokens >= req.max_tokens)
    throw invalid('thinking.budget_tokens', 'must be less than max_tokens');
  const messages: ChatMessage[] = [];
  const system = systemContent(req.system);
  if (system.length > 0) messages.push({ role: 'system', content: system });
  for (const [i, m] of req.messages.entries()) {
    const where = `messages[${i}]`;
    if (m.role === 'user') messages.push(...userMessages(m.content, where));
    else messages.push(assistantMessage(m.content, where));
  }
  // Empty user turns and thinking-only ones translate to nothing: an upstream must not get a request without turns.
  if (!messages.some((m) => m.role !== 'system'))
    throw invalid('messages', 'must hold at least one message with content');
  const out: ChatCompletionRequest = {
    model: req.model,
    messages,
    max_completion_tokens: req.max_tokens,
  };
  if (req.temperature !== undefined) out.temperature = req.temperature;
  if (req.top_p !== undefined) out.top_p = req.top_p;
  if (req.stop_sequences && req.stop_sequences.length > 0) out.stop = req.stop_sequences;
  if (req.metadata?.user_id) out.user = req.metadata.user_id;
  if (req.stream === true) out.stream = true;
  if (req.thinking) out.thinking = req.thinking;
  if (req.tools && req.tools.length > 0) {
    out['tools'] = req.tools.map((t, i) => {
      if (t.type != null && t.type !== 'custom')
        throw invalid(
          `tools[${i}].type`,
          (q) => `server tool ${q(t.type ?? '')} is not supported by this endpoint`,
        );
      if (!t.input_schema) throw invalid(`tools[${i}].input_schema`, 'required field is missing');
      const cc = breakpoint(t, `tools[${i}]`);
      return {
        type: 'function',
        function: {
          name: t.name,
          ...(t.description !== undefined ? { description: t.description } : {}),
          parameters: t.input_schema,
        },
        ...(cc ? { cache_control: cc } : {}),
      };
    });
  }
  automaticBreakpoint(req, messages);
  outputConfig(req, out);
  const choice = req.tool_choice;
  // `none` without tools asks for what a request without tools already is: no tool_choice upstream (OpenAI refuses one).
  if (choice && (choice.type !== 'none' || out['tools'])) {
    if (choice.type !== 'none' && !out['tools'])
      throw invalid('tool_choice', (q) => `tool_choice ${q(choice.type)} requires tools`);
    if (choice.type === 'tool' && !req.tools?.some((t) => t.name === choice.name))
      throw invalid('tool_choice.name', (q) => `names tool ${q(choice.name)}, which is not in tools`);
    out['tool_choice'] =
      choice.type === 'auto'
        ? 'auto'
        : choice.type === 'any'
          ? 'required'
          : choice.type === 'none'
            ? 'none'
            : { type: 'function', function: { name: choice.name } };
    if (choice.type !== 'none' && choice.disable_parallel_tool_use === true && out['tools'])
      out['parallel_tool_calls'] = false;
  }
  return out;
}

/** OpenAI finish_reason to Anthropic stop_reason. */
export function stopReason(finish: string | null | undefined): AnthropicMessageResponse['stop_reason'] {
  switch (finish) {
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
    case 'function_call':
      return 'tool_use';
    case 'content_filter':
      return 'refusal';
    case null:
    case undefined:
      return null;
    default:
      return 'end_turn';
  }
}

/**
 * The stop reason of an answer: `tool_use` whenever it calls tools, as Anthropic's clients loop on it (OpenAI ends a
 * call forced by a named tool_choice with "stop").
 */
export function stopReasonOf(
  finish: string | null | undefined,
  calledTools: boolean,
): AnthropicMessageResponse['stop_reason'] {
  const reason = stopReason(finish);
  return calledTools && (reason === 'end_turn' || reason === null) ? 'tool_use' : reason;
}

/**
 * Tool arguments as the object Anthropic clients expect. A model that emitted arguments that are not a JSON object
 * would otherwise lose them; they are kept, unparsed, under `_raw_arguments`.
 */
export function toolInput(args: string): Record<string, unknown> {
  if (args.trim() === '') return {};
  try {
    const v: unknown = JSON.parse(args);
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  return { _raw_arguments: args };
}

/** Anthropic message ids start with `msg_`; upstream ids of other vendors are kept behind the prefix. */
export function messageId(upstreamId: string): string {
  return upstreamId.startsWith('msg_') ? upstreamId : `msg_${upstreamId.replace(/^chatcmpl-/, '')}`;
}

const tokens = (n: unknown): number => (typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : 0);

function usageOf(u: ChatCompletion['usage'] | null | undefined): AnthropicMessageResponse['usage'] {
  const details = u?.prompt_tokens_details;
  const read = tokens(details?.cached_tokens);
  const write = tokens(details?.cache_creation_tokens);
  return {
    // Anthropic counts cache reads and writes apart from input_tokens; the internal usage includes them in prompt_tokens.
    input_tokens: Math.max(0, (u?.prompt_tokens ?? 0) - read - write),
    output_tokens: u?.completion_tokens ?? 0,
    cache_creation_input_tokens: write > 0 ? write : null,
    cache_read_input_tokens: read > 0 ? read : null,
  };
}

/**
 * An answer's thinking as Anthropic blocks: its `thinking_blocks` exactly, else its `reasoning_content` (an
 * OpenAI-compatible server's, a Gemini thought) as one thinking block with an empty signature: a valid block for the
 * SDKs, which tiermesh never sends to Anthropic when it comes back (src/providers/anthropic-translate.ts).
 */
export function answerThinking(m: ChatCompletion['choices'][number]['message'] | undefined): ThinkingBlock[] {
  if (!m) return [];
  if (Array.isArray(m.thinking_blocks) && m.thinking_blocks.length > 0) return m.thinking_blocks;
  const text = m.reasoning_content;
  return typeof text === 'string' && text !== '' ? [{ type: 'thinking', thinking: text, signature: '' }] : [];
}

/** The internal answer as an Anthropic message. Only the first choice exists in the Messages API. */
export function toAnthropicMessage(c: ChatCompletion): AnthropicMessageResponse {
  const choice = c.choices[0];
  const content: AnthropicMessageResponse['content'] = [...answerThinking(choice?.message)];
  const text = choice?.message.content ?? choice?.message.refusal ?? '';
  if (text !== '') content.push({ type: 'text', text });
  for (const raw of choice?.message.tool_calls ?? []) {
    const tc = raw as Partial<ToolCall>;
    content.push({
      type: 'tool_use',
      id: tc.id || newToolUseId(),
      name: tc.function?.name ?? '',
      input: toolInput(tc.function?.arguments ?? ''),
      // Kept on the block: the SDKs send a block back as they got it, so the signature reaches the next turn.
      ...(tc.extra_content != null ? { extra_content: tc.extra_content } : {}),
    });
  }
  return {
    id: messageId(c.id),
    type: 'message',
    role: 'assistant',
    model: c.model,
    content,
    stop_reason: stopReasonOf(
      choice?.finish_reason,
      content.some((b) => b.type === 'tool_use'),
    ),
    stop_sequence: null,
    usage: usageOf(c.usage),
  };
}

/** One Anthropic stream event, before framing. */
export interface AnthropicEvent {
  event: string;
  data: Record<string, unknown>;
}

/** `event: <type>\ndata: <json>\n\n` for each event. */
export function frameAnthropicEvents(events: AnthropicEvent[]): string {
  let out = '';
  for (const e of events) out += sseEvent(e.event, e.data);
  return out;
}

/**
 * Internal stream chunks in, Anthropic stream events out: message_start on the first chunk, then per content
 * block content_block_start / content_block_delta (text_delta, input_json_delta for tool arguments, thinking_delta
 * and signature_delta for thinking) / content_block_stop, and at `end()` message_delta (stop_reason and usage) and message_stop. The usage of the
 * internal stream comes in its last chunk, so message_start carries the prompt estimate it is given and
 * message_delta the real counts (the SDKs take input_tokens from message_delta when present).
 */
export class AnthropicStreamWriter {
  private started = false;
  private id = '';
  private model: string;
  private nextIndex = 0;
  /** The open text block's index, if one is open. */
  private text: number | undefined;
  /** The open thinking block's index and the text it streamed, if one is open. */
  private thought: { index: number; text: string } | undefined;
  /** Internal tool-call index to its Anthropic block index. */
  private tools = new Map<number, number>();
  private open = new Set<number>();
  /** Each tool block's arguments so far, by block index. */
  private args = new Map<number, string>();
  private readonly parts = new StreamParts(newToolUseId);

  constructor(
    requestedModel: string,
    private readonly estimatedInputTokens = 0,
  ) {
    this.model = requestedModel;
  }

  push(chunk: ChatCompletionChunk): AnthropicEvent[] {
    const out: AnthropicEvent[] = [];
    if (!this.started) {
      this.started = true;
      this.id = messageId(chunk.id || 'stream');
      if (chunk.model) this.model = chunk.model;
      out.push({
        event: 'message_start',
        data: {
          type: 'message_start',
          message: {
            id: this.id,
            type: 'message',
            role: 'assistant',
            model: this.model,
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: { input_tokens: this.estimatedInputTokens, output_tokens: 0 },
          },
        },
      });
    }
    for (const part of thinkingParts(chunk)) {
      if (part.kind === 'thinking-block') this.thinkingBlock(out, part.block);
      else {
        this.openThought(out);
        this.thought!.text += part.text;
        out.push(this.delta(this.thought!.index, { type: 'thinking_delta', thinking: part.text }));
      }
    }
    for (const part of this.parts.read(chunk)) {
      // Anything else ends a thinking block its fragments left open (an OpenAI-compatible server's: no signature).
      this.thought = undefined;
      // A refusal is the answer's text in the Messages API (as in a whole answer: content, else the refusal).
      if (part.kind === 'text' || part.kind === 'refusal') {
        if (this.text === undefined) {
          this.closeAll(out);
          this.text = this.startBlock(out, { type: 'text', text: '' });
        }
        out.push(this.delta(this.text, { type: 'text_delta', text: part.text }));
      } else if (part.kind === 'tool-start') {
        // An open thinking block ends here; a tool block whose arguments are not whole stays open.
        this.closeFinished(out);
        this.text = undefined;
        const block = this.startBlock(out, {
          type: 'tool_use',
          id: part.id,
          name: part.name,
          input: {},
          ...(part.extra != null ? { extra_content: part.extra } : {}),
        });
        this.tools.set(part.index, block);
        this.args.set(block, '');
      } else {
        const block = this.tools.get(part.index)!;
        this.args.set(block, (this.args.get(block) ?? '') + part.args);
        out.push(this.delta(block, { type: 'input_json_delta', partial_json: part.args }));
      }
    }
    return out;
  }

  /** The closing events after the internal stream ended cleanly. */
  end(): AnthropicEvent[] {
    const out: AnthropicEvent[] = [];
    if (!this.started)
      out.push(...this.push({ id: '', object: 'chat.completion.chunk', created: 0, model: '', choices: [] }));
    this.closeAll(out);
    const usage = this.parts.usage;
    const u = usageOf(usage ?? undefined);
    out.push({
      event: 'message_delta',
      data: {
        type: 'message_delta',
        delta: {
          stop_reason: stopReasonOf(this.parts.finish ?? 'stop', this.tools.size > 0),
          stop_sequence: null,
        },
        usage: {
          output_tokens: u.output_tokens,
          input_tokens: usage ? u.input_tokens : this.estimatedInputTokens,
          ...(u.cache_creation_input_tokens
            ? { cache_creation_input_tokens: u.cache_creation_input_tokens }
            : {}),
          ...(u.cache_read_input_tokens ? { cache_read_input_tokens: u.cache_read_input_tokens } : {}),
        },
      },
    });
    out.push({ event: 'message_stop', data: { type: 'message_stop' } });
    return out;
  }

  /** A thinking block opens as Anthropic's do: empty text and signature, filled by deltas. */
  private openThought(out: AnthropicEvent[]): void {
    if (this.thought) return;
    this.closeAll(out);
    this.text = undefined;
    this.thought = {
      index: this.startBlock(out, { type: 'thinking', thinking: '', signature: '' }),
      text: '',
    };
  }

  /**
   * A whole block: a thinking one closes the block its fragments opened with its signature (sending whatever of its
   * text the fragments did not, for a stream replayed from a whole answer), a redacted one is a block of its own.
   */
  private thinkingBlock(out: AnthropicEvent[], block: ThinkingBlock): void {
    if (block.type === 'redacted_thinking') {
      this.thought = undefined;
      this.closeAll(out);
      this.text = undefined;
      this.startBlock(out, { type: 'redacted_thinking', data: block.data });
      this.closeAll(out);
      return;
    }
    this.openThought(out);
    const t = this.thought!;
    const rest = block.thinking.startsWith(t.text) ? block.thinking.slice(t.text.length) : '';
    if (rest !== '') out.push(this.delta(t.index, { type: 'thinking_delta', thinking: rest }));
    if (block.signature !== '')
      out.push(this.delta(t.index, { type: 'signature_delta', signature: block.signature }));
    this.thought = undefined;
    this.closeAll(out);
  }

  private startBlock(out: AnthropicEvent[], block: Record<string, unknown>): number {
    const index = this.nextIndex++;
    this.open.add(index);
    out.push({
      event: 'content_block_start',
      data: { type: 'content_block_start', index, content_block: block },
    });
    return index;
  }

  private delta(index: number, delta: Record<string, unknown>): AnthropicEvent {
    return { event: 'content_block_delta', data: { type: 'content_block_delta', index, delta } };
  }

  /** Before a new tool block: the text block and every tool block whose arguments are whole close (wholeArguments). */
  private closeFinished(out: AnthropicEvent[]): void {
    for (const index of [...this.open].sort((a, b) => a - b)) {
      const args = this.args.get(index);
      if (args !== undefined && !wholeArguments(args)) continue;
      out.push({ event: 'content_block_stop', data: { type: 'content_block_stop', index } });
      this.open.delete(index);
    }
  }

  private closeAll(out: AnthropicEvent[]): void {
    for (const index of [...this.open].sort((a, b) => a - b))
      out.push({ event: 'content_block_stop', data: { type: 'content_block_stop', index } });
    this.open.clear();
  }
}

/** The event that ends a stream that broke after its start, in the shape the Anthropic SDKs raise. */
export function anthropicErrorEvent(err: TiermeshError): AnthropicEvent {
  return { event: 'error', data: err.toAnthropicBody() as unknown as Record<string, unknown> };
}
