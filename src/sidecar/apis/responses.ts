/**
 * The OpenAI Responses API inbound (`POST /v1/responses`), as pure translation to and from the internal request
 * (the OpenAI chat shape every stage and provider speaks): the request, the whole answer, and the stream as the
 * typed Responses event sequence.
 *
 * Stateless: nothing is stored server-side, so `previous_response_id`, `conversation` and `background` are refused
 * with a 400 that says to send the whole conversation. `store` is accepted (the SDKs and the API default it to
 * true), passed on when sent, and answered as `store: false` (nothing is kept for retrieval). `item_reference`
 * items resolve through `resolveItem` (a bounded memory of the items this sidecar answered with recently; the
 * Vercel AI SDK sends references to them in multi-turn calls); an unknown reference is a 400 naming the item.
 * The answer's thinking is a reasoning item whose blocks come back with the turn after it (reasoning-items.ts);
 * another server's reasoning items are dropped: they belong to the model that produced them. Custom tools travel as
 * functions (custom-tools.ts). Settings with a chat-completions equivalent are translated (`settings`); what has
 * none is refused or listed in docs/apis.md.
 */
import { randomBytes } from 'node:crypto';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  ChatMessage,
  ThinkingBlock,
} from '../../api/openai.js';
import type {
  ResponsesCustomTool,
  ResponsesCustomToolCallItem,
  ResponsesCustomToolCallOutputItem,
  ResponsesFunctionCallItem,
  ResponsesFunctionCallOutputItem,
  ResponsesInputItem,
  ResponsesMessageItem,
  ResponsesRequest,
} from '../../api/responses.js';
import { errorCodes, type TiermeshError } from '../../errors.js';
import { markLastBlock } from '../../providers/cache-control.js';
import { sseEvent } from '../../providers/sse.js';
import { answerThinking } from './anthropic-messages.js';
import { customCallArguments, customCallInput, customToolFunction, customToolNames } from './custom-tools.js';
import { invalid, type Quote } from './invalid.js';
import { decodeThinking, encodeThinking } from './reasoning-items.js';
import { StreamParts, thinkingParts, wholeArguments } from './stream-parts.js';
import { strictCompatible } from './strict-schema.js';

type Part = { type: string } & Record<string, unknown>;
type ToolCall = {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
  /** Gemini's thought signature (`{google: {thought_signature}}`), which the next turn must send back. */
  extra_content?: unknown;
};

/** An item this sidecar answered with, by id, or undefined when it does not know (any more) what it was. */
export type ItemResolver = (id: string) => ResponsesInputItem | undefined;

/**
 * What the sidecar remembers of the tool calls it answered with, by call_id (item-memory.ts), for clients that send
 * a call back without it. Codex and the Vercel AI SDK rebuild function_call items from call_id, name and arguments,
 * dropping fields they do not know, and may leave reasoning items out; but Gemini 3 refuses a turn whose function
 * calls lost their thought signature, and Claude with thinking on one whose tool calls lost their thinking blocks.
 */
export interface CallMemory {
  /** The call's `extra_content` (Gemini's thought signature), when its name matches. */
  extra(callId: string, name: string): unknown;
  /** The thinking blocks of the answer that made the call. */
  thinking(callId: string): ThinkingBlock[] | undefined;
}
const forgetful: CallMemory = { extra: () => undefined, thinking: () => undefined };

function unsupported(param: string, what: (quote: Quote) => string): TiermeshError {
  return invalid(param, (q) => `${what(q)} is not supported by this endpoint`);
}

type ImagePart = { type: 'image_url'; image_url: { url: string; detail?: string } };

function imagePart(p: Part, at: string): ImagePart {
  if (typeof p['image_url'] !== 'string')
    throw invalid(`${at}.image_url`, 'required (file_id is not supported: tiermesh stores no files)');
  const detail = p['detail'];
  return {
    type: 'image_url',
    image_url: { url: p['image_url'], ...(typeof detail === 'string' ? { detail } : {}) },
  };
}

function userParts(content: string | Part[], where: string): ChatMessage['content'] {
  if (typeof content === 'string') return content;
  return content.map((p, j) => {
    const at = `${where}.content[${j}]`;
    if (p.type === 'input_text' || p.type === 'output_text')
      return { type: 'text', text: p['text'] as string };
    if (p.type === 'input_image') return imagePart(p, at);
    throw unsupported(`${at}.type`, (q) => `content part type ${q(p.type)}`);
  });
}

/**
 * A function_call_output's text, and its images apart: chat completions' tool messages carry text only, so the
 * images go to a user message after the tool results (as the Messages API translation does with a tool_result's).
 * The Vercel AI SDK sends a tool's image result so, and Codex an MCP tool's.
 */
function toolOutput(output: string | Part[], where: string): { text: string; images: ImagePart[] } {
  if (typeof output === 'string') return { text: output, images: [] };
  const images: ImagePart[] = [];
  const text = output.filter((p, j) => {
    if (p.type !== 'input_image') return true;
    images.push(imagePart(p, `${where}.output[${j}]`));
    return false;
  });
  return { text: plainText(text, where, 'output', output), images };
}

/** The text of `content`; `field` and `all` (the parts `content` was picked from) name a refused part by its index. */
function plainText(content: string | Part[], where: string, field = 'content', all?: Part[]): string {
  if (typeof content === 'string') return content;
  return content
    .map((p, j) => {
      if (p.type === 'input_text' || p.type === 'output_text') return p['text'] as string;
      if (p.type === 'refusal') return p['refusal'] as string;
      const at = all ? all.indexOf(p) : j;
      throw unsupported(`${where}.${field}[${at}].type`, (q) => `content part type ${q(p.type)} here`);
    })
    .join('');
}

/**
 * Responses request to the internal request. `instructions` become the first system message, developer messages
 * system messages (the widest-understood role across upstreams), consecutive function_call items one assistant
 * message with tool_calls (attached to the assistant text just before them), function_call_output items tool
 * messages. Throws a 400 TiermeshError naming the field for what cannot be carried.
 */
export function fromResponsesRequest(
  req: ResponsesRequest,
  resolveItem: ItemResolver = () => undefined,
  calls: CallMemory = forgetful,
): ChatCompletionRequest {
  if (req.previous_response_id)
    throw invalid(
      'previous_response_id',
      'tiermesh does not store responses; send the whole conversation in `input` instead',
    );
  if (req.conversation != null)
    throw invalid(
      'conversation',
      'tiermesh does not store conversations; send the whole conversation in `input`',
    );
  if (req.background === true) throw invalid('background', 'background responses are not supported');
  if (req.prompt != null)
    throw invalid(
      'prompt',
      'stored prompt templates are not supported (tiermesh stores nothing); send `instructions` and `input` instead',
    );
  const messages: ChatMessage[] = [];
  if (req.instructions) messages.push({ role: 'system', content: req.instructions });
  const items: ResponsesInputItem[] =
    typeof req.input === 'string'
      ? [{ role: 'user', content: req.input } as ResponsesMessageItem]
      : req.input;
  // The thinking blocks of the reasoning items just read, for the assistant turn that follows them.
  let thinking: ThinkingBlock[] = [];
  const takeThinking = (m: ChatMessage) => {
    if (thinking.length > 0) m.thinking_blocks = [...(m.thinking_blocks ?? []), ...thinking];
    thinking = [];
  };
  // Images of the tool results just read, for the user message that follows them.
  let resultImages: ImagePart[] = [];
  const flushResultImages = () => {
    if (resultImages.length > 0) messages.push({ role: 'user', content: resultImages });
    resultImages = [];
  };
  for (const [i, raw] of items.entries()) {
    const where = `input[${i}]`;
    let item = raw;
    if (item.type === 'item_reference') {
      const id = (item as { id: string }).id;
      const found = resolveItem(id);
      if (!found)
        throw invalid(
          `${where}.id`,
          (q) =>
            `item ${q(id)} is unknown here (tiermesh keeps no history beyond recent answers); send the item itself, or store: false`,
        );
      item = found;
    }
    const type = item.type ?? 'message';
    if (type !== 'function_call_output' && type !== 'custom_tool_call_output') flushResultImages();
    if (type === 'message') {
      const m = item as ResponsesMessageItem;
      if (m.role === 'system' || m.role === 'developer')
        messages.push({ role: 'system', content: plainText(m.content as string | Part[], where) });
      else if (m.role === 'assistant') {
        messages.push({ role: 'assistant', content: plainText(m.content as string | Part[], where) });
        takeThinking(messages[messages.length - 1]!);
      } else messages.push({ role: 'user', content: userParts(m.content as string | Part[], where) });
    } else if (type === 'function_call' || type === 'custom_tool_call') {
      const f = item as ResponsesFunctionCallItem | ResponsesCustomToolCallItem;
      // As the client sent it back (the openai SDK keeps unknown fields on an item), else as we answered it.
      const extra = f['extra_content'] ?? calls.extra(f.call_id, f.name);
      const call: ToolCall = {
        id: f.call_id,
        type: 'function',
        function: {
          name: f.name,
          // A custom tool is offered as a function of one string parameter (custom-tools.ts).
          arguments: f.type === 'custom_tool_call' ? customCallArguments(f.input) : f.arguments,
        },
        ...(extra != null ? { extra_content: extra } : {}),
      };
      const last = messages[messages.length - 1];
      if (last?.role === 'assistant') last.tool_calls = [...(last.tool_calls ?? []), call];
      else messages.push({ role: 'assistant', content: null, tool_calls: [call] });
      takeThinking(messages[messages.length - 1]!);
    } else if (type === 'function_call_output' || type === 'custom_tool_call_output') {
      const o = item as ResponsesFunctionCallOutputItem | ResponsesCustomToolCallOutputItem;
      const { text, images } = toolOutput(o.output as string | Part[], where);
      messages.push({ role: 'tool', tool_call_id: o.call_id, content: text });
      resultImages.push(...images);
    } else if (type === 'reasoning') {
      // Our reasoning items carry the thinking blocks (reasoning-items.ts), in the item or remembered by its id;
      // another server's (OpenAI's encrypted reasoning) belongs to the model that produced it and is dropped.
      const r = item as { id?: unknown; encrypted_content?: unknown };
      const known = typeof r.id === 'string' && r.encrypted_content == null ? resolveItem(r.id) : undefined;
      const blocks =
        decodeThinking(r.encrypted_content, `${where}.encrypted_content`) ??
        decodeThinking(
          (known as { encrypted_content?: unknown } | undefined)?.encrypted_content,
          `${where}.id`,
        );
      if (blocks) thinking.push(...blocks);
      continue;
    } else throw unsupported(`${where}.type`, (q) => `input item type ${q(type)}`);
    // Reasoning goes with the assistant turn right after it; anything else in between leaves it behind.
    if (messages.at(-1)?.role !== 'assistant') thinking = [];
  }
  flushResultImages();
  // A tool-use turn sent back without its thinking gets the thinking it was answered with, when remembered.
  for (const m of messages) {
    const first = (m.tool_calls as ToolCall[] | undefined)?.[0];
    if (m.role !== 'assistant' || !first || m.thinking_blocks) continue;
    const remembered = calls.thinking(first.id);
    if (remembered) m.thinking_blocks = remembered;
  }
  // An assistant text turn that only carried tool calls has no text: OpenAI wants null content there.
  for (const m of messages) if (m.role === 'assistant' && m.tool_calls && m.content === '') m.content = null;
  if (!messages.some((m) => m.role !== 'system')) throw invalid('input', 'must hold at least one message');
  // A `prompt_cache_key` asks for the prompt's prefix to be cached. OpenAI caches by itself (and gets the key);
  // Anthropic caches only up to a breakpoint, so one goes on the last block, moving forward with the conversation as
  // an agent loop grows it (other upstreams get the request without it: providers/cache-control.ts).
  if (req.prompt_cache_key != null) markLastBlock(messages, { type: 'ephemeral' });
  const out: ChatCompletionRequest = { model: req.model, messages };
  if (req.max_output_tokens != null) out.max_completion_tokens = req.max_output_tokens;
  if (req.temperature != null) out.temperature = req.temperature;
  if (req.top_p != null) out.top_p = req.top_p;
  const user = req.safety_identifier ?? req.user;
  if (user) out.user = user;
  if (req.stream === true) out.stream = true;
  settings(req, out);
  if (req.tools && req.tools.length > 0) {
    const names = new Set<string>();
    out['tools'] = req.tools.map((t, i) => {
      if (t.type !== 'function' && t.type !== 'custom')
        throw unsupported(`tools[${i}].type`, (q) => `tool type ${q(t.type)}`);
      const named = t as { name: string };
      // Custom tools become functions of the same name: two tools of one name could not be told apart.
      if (names.has(named.name))
        throw invalid(`tools[${i}].name`, (q) => `${q(named.name)} names another tool too`);
      names.add(named.name);
      if (t.type === 'custom') return customToolFunction(t as ResponsesCustomTool);
      const f = t as Extract<typeof t, { type: 'function' }>;
      return {
        type: 'function',
        function: {
          name: f.name,
          ...(f.description != null ? { description: f.description } : {}),
          parameters: f.parameters ?? { type: 'object', properties: {} },
          // Left out, the Responses API is strict when the schema allows it; chat completions would not be.
          ...(f.strict != null
            ? { strict: f.strict }
            : strictCompatible(f.parameters)
              ? { strict: true }
              : {}),
        },
      };
    });
    if (req.parallel_tool_calls === false) out['parallel_tool_calls'] = false;
  }
  const choice = req.tool_choice;
  // Without tools, `auto` and `none` ask for what happens anyway (the Responses API takes them; agent frameworks send
  // a configured `auto` whether the agent has tools or not), and chat completions refuse a tool_choice without tools.
  const idle = !out['tools'] && (choice === 'auto' || choice === 'none');
  if (choice != null && !idle) {
    if (!out['tools']) throw invalid('tool_choice', 'requires tools');
    if (typeof choice === 'string') out['tool_choice'] = choice;
    else {
      if (!req.tools?.some((t) => t.type === choice.type && t['name'] === choice.name))
        throw invalid(
          'tool_choice.name',
          (q) => `names ${choice.type} tool ${q(choice.name)}, which is not in tools`,
        );
      out['tool_choice'] = { type: 'function', function: { name: choice.name } };
    }
  }
  const format = req.text?.format;
  if (format?.type === 'json_object') out.response_format = { type: 'json_object' };
  else if (format?.type === 'json_schema') {
    const f = format as {
      name: string;
      schema: Record<string, unknown>;
      description?: string | null;
      strict?: boolean | null;
    };
    out.response_format = {
      type: 'json_schema',
      json_schema: {
        name: f.name,
        schema: f.schema,
        ...(f.strict != null ? { strict: f.strict } : {}),
        ...(f.description != null ? { description: f.description } : {}),
      },
    };
  } else if (format != null && format.type !== 'text')
    throw unsupported('text.format.type', (q) => `format ${q(format.type)}`);
  return out;
}

/** Whether the request asks for the answer's token logprobs. */
function wantsLogprobs(req: ResponsesRequest): boolean {
  return req.include?.includes(LOGPROBS_INCLUDE) === true || (req.top_logprobs ?? 0) > 0;
}
const LOGPROBS_INCLUDE = 'message.output_text.logprobs';

/**
 * The settings with a chat-completions equivalent, under its name. `metadata` goes only with `store: true`: chat
 * completions refuse it otherwise (it tags a stored completion), and the Responses default of storing is not
 * assumed, since tiermesh stores nothing itself. What has no equivalent is listed in docs/apis.md.
 */
function settings(req: ResponsesRequest, out: ChatCompletionRequest): void {
  const o = out as Record<string, unknown>;
  if (req.reasoning?.effort != null) o['reasoning_effort'] = req.reasoning.effort;
  if (req.text?.verbosity != null) o['verbosity'] = req.text.verbosity;
  if (req.service_tier != null) o['service_tier'] = req.service_tier;
  if (req.prompt_cache_key != null) o['prompt_cache_key'] = req.prompt_cache_key;
  if (req.prompt_cache_retention != null) o['prompt_cache_retention'] = req.prompt_cache_retention;
  if (req.store != null) o['store'] = req.store;
  if (req.store === true && req.metadata != null && Object.keys(req.metadata).length > 0)
    o['metadata'] = req.metadata;
  if (wantsLogprobs(req)) {
    o['logprobs'] = true;
    if (req.top_logprobs != null) o['top_logprobs'] = req.top_logprobs;
  }
}

/** Output items, as the Responses API and its SDKs shape them. */
export interface OutputMessage {
  type: 'message';
  id: string;
  status: 'in_progress' | 'completed' | 'incomplete';
  role: 'assistant';
  content: Array<
    | { type: 'output_text'; text: string; annotations: unknown[]; logprobs: unknown[] }
    | { type: 'refusal'; refusal: string }
  >;
}
export interface OutputFunctionCall {
  type: 'function_call';
  id: string;
  call_id: string;
  name: string;
  arguments: string;
  status: 'in_progress' | 'completed' | 'incomplete';
  /**
   * Gemini's thought signature, as chat completions carries it (`{google: {thought_signature}}`): an extra field the
   * SDKs keep on the item, so a client sending the item back sends it back (docs/apis.md).
   */
  extra_content?: unknown;
}
/** A call of a custom (freeform) tool: its `input` is text (custom-tools.ts). */
export interface OutputCustomToolCall {
  type: 'custom_tool_call';
  id: string;
  call_id: string;
  name: string;
  input: string;
  status: 'in_progress' | 'completed' | 'incomplete';
  /** As on a function_call item. */
  extra_content?: unknown;
}
export type OutputToolCall = OutputFunctionCall | OutputCustomToolCall;
/**
 * The answer's thinking (reasoning-items.ts): its text as `summary_text` parts when the request asked for a summary
 * (Claude 4 and Gemini return summarized thinking), else as `reasoning_text` content; the blocks themselves in
 * `encrypted_content`.
 */
export interface OutputReasoning {
  type: 'reasoning';
  id: string;
  summary: Array<{ type: 'summary_text'; text: string }>;
  content: Array<{ type: 'reasoning_text'; text: string }>;
  /** Null while the item streams: the blocks are whole only when it closes. */
  encrypted_content: string | null;
  status: 'in_progress' | 'completed' | 'incomplete';
}
export type OutputItem = OutputMessage | OutputToolCall | OutputReasoning;

export interface ResponsesUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export interface ResponseObject {
  id: string;
  object: 'response';
  created_at: number;
  status: 'in_progress' | 'completed' | 'incomplete' | 'failed';
  error: { code: string; message: string } | null;
  incomplete_details: { reason: 'max_output_tokens' | 'content_filter' } | null;
  instructions: string | null;
  max_output_tokens: number | null;
  model: string;
  output: OutputItem[];
  parallel_tool_calls: boolean;
  previous_response_id: null;
  /** The effort passed on; `summary` is null: no reasoning summary is produced (docs/apis.md). */
  reasoning: { effort: string | null; summary: null };
  background: false;
  store: false;
  temperature: number | null;
  text: { format: unknown; verbosity: string | null };
  tool_choice: unknown;
  tools: unknown[];
  top_p: number | null;
  top_logprobs: number;
  max_tool_calls: number | null;
  service_tier: string;
  prompt_cache_key: string | null;
  prompt_cache_retention: string | null;
  truncation: 'disabled';
  usage: ResponsesUsage | null;
  user: string | null;
  safety_identifier: string | null;
  metadata: Record<string, string>;
}

/**
 * Makes the ids of one answer: `resp_...`, `rs_...`, `msg_...`, `fc_...`, `ctc_...` (custom tool calls); `call_...`
 * for a tool call sent without an id.
 */
export type IdMaker = (prefix: 'resp' | 'msg' | 'fc' | 'ctc' | 'rs' | 'call') => string;

/** Random ids, unguessable so one client cannot reference another's remembered items. */
export const newResponsesId: IdMaker = (prefix) => `${prefix}_${randomBytes(16).toString('hex')}`;

export function toResponsesUsage(u: ChatCompletion['usage'] | null | undefined): ResponsesUsage | null {
  if (!u) return null;
  const details = u as {
    prompt_tokens_details?: { cached_tokens?: number };
    completion_tokens_details?: { reasoning_tokens?: number };
  };
  return {
    input_tokens: u.prompt_tokens,
    input_tokens_details: { cached_tokens: details.prompt_tokens_details?.cached_tokens ?? 0 },
    output_tokens: u.completion_tokens,
    output_tokens_details: { reasoning_tokens: details.completion_tokens_details?.reasoning_tokens ?? 0 },
    total_tokens: u.total_tokens,
  };
}

function incompleteReason(finish: string | null | undefined): ResponseObject['incomplete_details'] {
  if (finish === 'length') return { reason: 'max_output_tokens' };
  if (finish === 'content_filter') return { reason: 'content_filter' };
  return null;
}

/**
 * The response envelope around its output, echoing the request's settings as the API does: as they were applied,
 * so a setting tiermesh ignores is echoed at its effect (truncation `disabled`, reasoning `summary: null`, `store:
 * false` since nothing is kept for retrieval). `serviceTier` is the tier the upstream says it served, if it did.
 */
export function responseObject(
  req: ResponsesRequest,
  meta: { id: string; createdAt: number; model: string; serviceTier?: string | undefined },
  output: OutputItem[],
  status: ResponseObject['status'],
  extra: Pick<ResponseObject, 'usage' | 'incomplete_details' | 'error'>,
): ResponseObject {
  return {
    id: meta.id,
    object: 'response',
    created_at: meta.createdAt,
    status,
    error: extra.error,
    incomplete_details: extra.incomplete_details,
    instructions: req.instructions ?? null,
    max_output_tokens: req.max_output_tokens ?? null,
    model: meta.model,
    output,
    parallel_tool_calls: req.parallel_tool_calls ?? true,
    previous_response_id: null,
    reasoning: { effort: req.reasoning?.effort ?? null, summary: null },
    background: false,
    store: false,
    temperature: req.temperature ?? null,
    text: { format: req.text?.format ?? { type: 'text' }, verbosity: req.text?.verbosity ?? null },
    tool_choice: req.tool_choice ?? 'auto',
    tools: req.tools ?? [],
    top_p: req.top_p ?? null,
    top_logprobs: req.top_logprobs ?? 0,
    max_tool_calls: req.max_tool_calls ?? null,
    service_tier: meta.serviceTier ?? req.service_tier ?? 'auto',
    prompt_cache_key: req.prompt_cache_key ?? null,
    prompt_cache_retention: req.prompt_cache_retention ?? null,
    truncation: 'disabled',
    usage: extra.usage,
    user: req.user ?? null,
    safety_identifier: req.safety_identifier ?? null,
    metadata: req.metadata ?? {},
  };
}

/** The internal answer as a Responses object: a message item (text or refusal), then one item per tool call. */
export function toResponse(c: ChatCompletion, req: ResponsesRequest, newId: IdMaker): ResponseObject {
  const choice = c.choices[0];
  const incomplete = incompleteReason(choice?.finish_reason);
  const itemStatus = incomplete ? 'incomplete' : 'completed';
  const output: OutputItem[] = [];
  const calls = (choice?.message.tool_calls ?? []) as Array<Partial<ToolCall>>;
  const text = choice?.message.content ?? '';
  const refusal = choice?.message.refusal;
  // Thinking comes first, as the model thought before it answered.
  const thinking = answerThinking(choice?.message);
  if (thinking.length > 0) output.push(reasoningItem(newId('rs'), thinking, itemStatus, reasoningPlace(req)));
  if (refusal)
    output.push({
      type: 'message',
      id: newId('msg'),
      status: itemStatus,
      role: 'assistant',
      content: [{ type: 'refusal', refusal }],
    });
  else if (text !== '' || calls.length === 0)
    output.push({
      type: 'message',
      id: newId('msg'),
      status: itemStatus,
      role: 'assistant',
      content: [
        { type: 'output_text', text, annotations: [], logprobs: tokenLogprobs(choice?.logprobs) ?? [] },
      ],
    });
  const custom = customToolNames(req.tools);
  for (const tc of calls) {
    const item = toolCallItem(newId, custom, tc.id, tc.function?.name ?? '', tc.extra_content);
    setArguments(item, tc.function?.arguments ?? '');
    item.status = itemStatus;
    output.push(item);
  }
  return responseObject(
    req,
    { id: newId('resp'), createdAt: c.created, model: c.model, serviceTier: servedTier(c) },
    output,
    incomplete ? 'incomplete' : 'completed',
    {
      usage: toResponsesUsage(c.usage),
      incomplete_details: incomplete,
      error: null,
    },
  );
}

/** Where a reasoning item's text goes, and the stream events of a part there. */
const REASONING_PLACES = {
  summary: {
    part: 'summary_text',
    index: 'summary_index',
    added: 'response.reasoning_summary_part.added',
    delta: 'response.reasoning_summary_text.delta',
    textDone: 'response.reasoning_summary_text.done',
    partDone: 'response.reasoning_summary_part.done',
  },
  content: {
    part: 'reasoning_text',
    index: 'content_index',
    added: 'response.content_part.added',
    delta: 'response.reasoning_text.delta',
    textDone: 'response.reasoning_text.done',
    partDone: 'response.content_part.done',
  },
} as const;
type ReasoningPlace = keyof typeof REASONING_PLACES;

/** The summary when the request asked for one (Codex does by default), else the content. */
function reasoningPlace(req: ResponsesRequest): ReasoningPlace {
  return req.reasoning?.summary != null ? 'summary' : 'content';
}

/** The text parts of a reasoning item at `place`, as one list to push to. */
function reasoningParts(item: OutputReasoning, place: ReasoningPlace): Array<{ type: string; text: string }> {
  return place === 'summary' ? item.summary : item.content;
}

/** A reasoning item holding `blocks`: the text of each thinking block as a part at `place`, all of them encoded. */
function reasoningItem(
  id: string,
  blocks: ThinkingBlock[],
  status: OutputReasoning['status'],
  place: ReasoningPlace,
): OutputReasoning {
  const item: OutputReasoning = {
    type: 'reasoning',
    id,
    summary: [],
    content: [],
    encrypted_content: encodeThinking(blocks),
    status,
  };
  const parts = reasoningParts(item, place);
  for (const b of blocks)
    if (b.type === 'thinking' && b.thinking !== '')
      parts.push({ type: REASONING_PLACES[place].part, text: b.thinking });
  return item;
}

/**
 * The item for a tool call, in progress and without arguments yet: a custom_tool_call when it calls one of the
 * request's custom tools (`custom`), else a function_call.
 */
function toolCallItem(
  newId: IdMaker,
  custom: ReadonlySet<string>,
  callId: string | undefined,
  name: string,
  extra: unknown,
): OutputToolCall {
  const isCustom = custom.has(name);
  const id = newId(isCustom ? 'ctc' : 'fc');
  const common = {
    id,
    // A call the upstream sent without an id gets one: the client sends it back with the call's output.
    call_id: callId || newId('call'),
    name,
    status: 'in_progress' as const,
    ...(extra != null ? { extra_content: extra } : {}),
  };
  return isCustom
    ? { type: 'custom_tool_call', ...common, input: '' }
    : { type: 'function_call', ...common, arguments: '' };
}

/** Sets a call item's arguments: a custom tool call's input is the string its function was given. */
function setArguments(item: OutputToolCall, args: string): void {
  if (item.type === 'custom_tool_call') item.input = customCallInput(args);
  else item.arguments = args;
}

/**
 * A chat answer's token logprobs (`logprobs.content`) as Responses output_text logprobs: the same shape (token,
 * logprob, bytes, top_logprobs), passed on as the upstream gave them.
 */
export function tokenLogprobs(logprobs: unknown): unknown[] | undefined {
  const content = (logprobs as { content?: unknown } | null | undefined)?.content;
  return Array.isArray(content) && content.length > 0 ? content : undefined;
}

/** The service tier an answer (or chunk) says it was served on, when it says. */
function servedTier(c: unknown): string | undefined {
  const t = (c as { service_tier?: unknown } | null)?.service_tier;
  return typeof t === 'string' ? t : undefined;
}

/** One Responses stream event, before framing; `sequence_number` is set by the writer. */
export interface ResponsesEvent {
  type: string;
  [k: string]: unknown;
}

/** `event: <type>\ndata: <json>\n\n` for each event, as the API frames them (no [DONE]). */
export function frameResponsesEvents(events: ResponsesEvent[]): string {
  let out = '';
  for (const e of events) out += sseEvent(e.type, e);
  return out;
}

interface OpenText {
  item: OutputMessage;
  index: number;
  text: string;
  /** The token logprobs so far (output_text only, when asked for and sent). */
  logprobs: unknown[];
  /** The message's one content part: answer text, or a refusal (OpenAI streams it as refusal.delta events). */
  kind: 'output_text' | 'refusal';
}
function contentPart(
  kind: OpenText['kind'],
  text: string,
  logprobs: unknown[] = [],
): OutputMessage['content'][number] {
  return kind === 'refusal'
    ? { type: 'refusal', refusal: text }
    : { type: 'output_text', text, annotations: [], logprobs };
}

interface OpenReasoning {
  item: OutputReasoning;
  index: number;
  /** The blocks closed so far. */
  blocks: ThinkingBlock[];
  /** The text of the thinking block being streamed, while one is (its part is the last at `place`). */
  text: string | undefined;
  place: ReasoningPlace;
}

interface OpenCall {
  item: OutputToolCall;
  index: number;
  /** The arguments so far, as the model streams them (a custom call's input is read from them once whole). */
  args: string;
}

/**
 * Internal stream chunks in, Responses events out: response.created and response.in_progress first; per text item
 * output_item.added, content_part.added, output_text.delta..., then output_text.done, content_part.done and
 * output_item.done; per tool call output_item.added, function_call_arguments.delta... and .done, output_item.done;
 * at `end()` response.completed (or response.incomplete) with the whole response and usage; at `fail()`
 * response.failed. Items close in order when the next one opens, as the API streams them.
 */
export class ResponsesStreamWriter {
  private seq = 0;
  private started = false;
  private readonly id: string;
  private model: string;
  private serviceTier: string | undefined;
  private readonly output: OutputItem[] = [];
  private text: OpenText | undefined;
  private reasoning: OpenReasoning | undefined;
  private calls = new Map<number, OpenCall>();
  private openCalls: OpenCall[] = [];
  private readonly parts: StreamParts;
  /** The request's custom tools: calls to them stream as custom_tool_call items. */
  private readonly custom: ReadonlySet<string>;

  constructor(
    private readonly req: ResponsesRequest,
    private readonly newId: IdMaker,
    private readonly createdAt: number,
  ) {
    this.id = newId('resp');
    this.model = req.model;
    this.parts = new StreamParts(() => newId('call'));
    this.custom = customToolNames(req.tools);
  }

  /** Every output item so far, completed ones included (for the item memory once the stream ends). */
  items(): readonly OutputItem[] {
    return this.output;
  }

  push(chunk: ChatCompletionChunk): ResponsesEvent[] {
    const out: ResponsesEvent[] = [];
    this.serviceTier ??= servedTier(chunk);
    if (!this.started) this.start(out, chunk.model);
    // Reasoning first, as it precedes the answer in a chunk too (stream-parts.ts).
    for (const part of thinkingParts(chunk)) {
      const r = this.openReasoning(out);
      if (part.kind === 'thinking-text') this.reasoningText(out, r, part.text);
      else if (part.block.type === 'thinking') {
        // A whole block ends the one its fragments streamed, sending what of its text they did not.
        const sent = r.text ?? '';
        const rest = part.block.thinking.startsWith(sent) ? part.block.thinking.slice(sent.length) : '';
        if (rest !== '') this.reasoningText(out, r, rest);
        this.closeThought(out, r, part.block);
      } else {
        this.closeThought(out, r);
        r.blocks.push(part.block);
      }
    }
    for (const part of this.parts.read(chunk)) {
      if (part.kind === 'text') this.text = this.textDelta(out, part.text, 'output_text', part.logprobs);
      else if (part.kind === 'refusal') this.text = this.textDelta(out, part.text, 'refusal');
      else if (part.kind === 'tool-start') {
        // OpenAI streams tool calls one after the other: a new one means the previous items are complete, unless a
        // call's arguments are not whole yet (servers that interleave parallel calls; wholeArguments).
        this.closeReasoning(out, 'completed');
        this.closeText(out, 'completed');
        this.closeCalls(out, 'completed', (c) => wholeArguments(c.args));
        const item = toolCallItem(this.newId, this.custom, part.id, part.name, part.extra);
        const call: OpenCall = { item, index: this.output.length, args: '' };
        this.output.push(item);
        this.calls.set(part.index, call);
        this.openCalls.push(call);
        out.push(
          this.ev({ type: 'response.output_item.added', output_index: call.index, item: { ...item } }),
        );
      } else {
        const call = this.calls.get(part.index)!;
        call.args += part.args;
        // A custom call's input is text, not these JSON fragments: it is sent whole when the call closes.
        if (call.item.type === 'custom_tool_call') continue;
        call.item.arguments = call.args;
        out.push(
          this.ev({
            type: 'response.function_call_arguments.delta',
            item_id: call.item.id,
            output_index: call.index,
            delta: part.args,
          }),
        );
      }
    }
    return out;
  }

  /** The closing events after the internal stream ended cleanly. */
  end(): ResponsesEvent[] {
    const out: ResponsesEvent[] = [];
    if (!this.started) this.start(out, this.model);
    const incomplete = incompleteReason(this.parts.finish);
    const status = incomplete ? 'incomplete' : 'completed';
    this.closeAll(out, status);
    const response = responseObject(this.req, this.meta(), this.output, status, {
      usage: toResponsesUsage(this.parts.usage),
      incomplete_details: incomplete,
      error: null,
    });
    out.push(this.ev({ type: incomplete ? 'response.incomplete' : 'response.completed', response }));
    return out;
  }

  /**
   * The event that ends a stream that broke after it started. Its response holds what was streamed (open items
   * `incomplete`, the text so far in their part), since a client's snapshot becomes that response; its error code
   * keeps a rate limit's class (`rate_limit_exceeded`: Codex then waits the "try again in" the message gives).
   */
  fail(err: TiermeshError): ResponsesEvent[] {
    const out: ResponsesEvent[] = [];
    if (!this.started) this.start(out, this.model);
    const t = this.text;
    if (t) {
      t.item.content = [contentPart(t.kind, t.text, t.logprobs)];
      t.item.status = 'incomplete';
    }
    const r = this.reasoning;
    if (r) {
      const last = reasoningParts(r.item, r.place).at(-1);
      if (r.text !== undefined && last) last.text = r.text;
      if (r.blocks.length > 0) r.item.encrypted_content = encodeThinking(r.blocks);
      r.item.status = 'incomplete';
    }
    for (const c of this.openCalls) {
      setArguments(c.item, c.args);
      c.item.status = 'incomplete';
    }
    const code = errorCodes[err.code].type === 'rate_limit_exceeded' ? 'rate_limit_exceeded' : 'server_error';
    const response = responseObject(this.req, this.meta(), this.output, 'failed', {
      usage: toResponsesUsage(this.parts.usage),
      incomplete_details: null,
      error: { code, message: err.message },
    });
    out.push(this.ev({ type: 'response.failed', response }));
    return out;
  }

  private meta() {
    return { id: this.id, createdAt: this.createdAt, model: this.model, serviceTier: this.serviceTier };
  }

  private start(out: ResponsesEvent[], model: string): void {
    this.started = true;
    if (model) this.model = model;
    const skeleton = () =>
      responseObject(this.req, this.meta(), [], 'in_progress', {
        usage: null,
        incomplete_details: null,
        error: null,
      });
    out.push(this.ev({ type: 'response.created', response: skeleton() }));
    out.push(this.ev({ type: 'response.in_progress', response: skeleton() }));
  }

  /**
   * Appends text (or refusal text) to the open message item, opening one (and closing what came before) when there
   * is none or the open one holds the other kind.
   */
  private textDelta(
    out: ResponsesEvent[],
    text: string,
    kind: OpenText['kind'],
    logprobs: unknown[] = [],
  ): OpenText {
    let t = this.text;
    if (t && t.kind !== kind) t = undefined;
    if (!t) {
      this.closeAll(out, 'completed');
      const item: OutputMessage = {
        type: 'message',
        id: this.newId('msg'),
        status: 'in_progress',
        role: 'assistant',
        content: [],
      };
      t = { item, index: this.output.length, text: '', logprobs: [], kind };
      this.output.push(item);
      out.push(
        this.ev({
          type: 'response.output_item.added',
          output_index: t.index,
          item: { ...item, content: [] },
        }),
      );
      out.push(
        this.ev({
          type: 'response.content_part.added',
          item_id: item.id,
          output_index: t.index,
          content_index: 0,
          part: contentPart(kind, ''),
        }),
      );
    }
    t.text += text;
    for (const lp of logprobs) t.logprobs.push(lp);
    const at = { item_id: t.item.id, output_index: t.index, content_index: 0, delta: text };
    out.push(
      this.ev(
        kind === 'refusal'
          ? { type: 'response.refusal.delta', ...at }
          : { type: 'response.output_text.delta', ...at, logprobs },
      ),
    );
    return t;
  }

  private closeText(out: ResponsesEvent[], status: OutputMessage['status']): void {
    const t = this.text;
    if (!t) return;
    this.text = undefined;
    const part = contentPart(t.kind, t.text, t.logprobs);
    t.item.content = [part];
    t.item.status = status;
    const at = { item_id: t.item.id, output_index: t.index, content_index: 0 };
    out.push(
      this.ev(
        t.kind === 'refusal'
          ? { type: 'response.refusal.done', ...at, refusal: t.text }
          : { type: 'response.output_text.done', ...at, text: t.text, logprobs: t.logprobs },
      ),
    );
    out.push(
      this.ev({
        type: 'response.content_part.done',
        item_id: t.item.id,
        output_index: t.index,
        content_index: 0,
        part,
      }),
    );
    out.push(this.ev({ type: 'response.output_item.done', output_index: t.index, item: { ...t.item } }));
  }

  /** The open reasoning item, or a new one (closing what came before). */
  private openReasoning(out: ResponsesEvent[]): OpenReasoning {
    if (this.reasoning) return this.reasoning;
    this.closeAll(out, 'completed');
    const item: OutputReasoning = {
      type: 'reasoning',
      id: this.newId('rs'),
      summary: [],
      content: [],
      encrypted_content: null,
      status: 'in_progress',
    };
    const r: OpenReasoning = {
      item,
      index: this.output.length,
      blocks: [],
      text: undefined,
      place: reasoningPlace(this.req),
    };
    this.output.push(item);
    out.push(
      this.ev({
        type: 'response.output_item.added',
        output_index: r.index,
        item: { ...item, summary: [], content: [] },
      }),
    );
    this.reasoning = r;
    return r;
  }

  /** Thinking text, in the open block's part (opened here when none is). */
  private reasoningText(out: ResponsesEvent[], r: OpenReasoning, text: string): void {
    const place = REASONING_PLACES[r.place];
    const parts = reasoningParts(r.item, r.place);
    if (r.text === undefined) {
      r.text = '';
      parts.push({ type: place.part, text: '' });
      out.push(
        this.ev({
          type: place.added,
          item_id: r.item.id,
          output_index: r.index,
          [place.index]: parts.length - 1,
          part: { type: place.part, text: '' },
        }),
      );
    }
    r.text += text;
    out.push(
      this.ev({
        type: place.delta,
        item_id: r.item.id,
        output_index: r.index,
        [place.index]: parts.length - 1,
        delta: text,
      }),
    );
  }

  /** Ends the thinking block being streamed, as `block` (signed) or, without one, as unsigned text. */
  private closeThought(out: ResponsesEvent[], r: OpenReasoning, block?: ThinkingBlock): void {
    if (r.text === undefined) {
      if (block) r.blocks.push(block);
      return;
    }
    const text = r.text;
    r.text = undefined;
    const place = REASONING_PLACES[r.place];
    const parts = reasoningParts(r.item, r.place);
    const at = { item_id: r.item.id, output_index: r.index, [place.index]: parts.length - 1 };
    const part = { type: place.part, text };
    parts[parts.length - 1] = part;
    out.push(this.ev({ type: place.textDone, ...at, text }));
    out.push(this.ev({ type: place.partDone, ...at, part }));
    r.blocks.push(block ?? { type: 'thinking', thinking: text, signature: '' });
  }

  private closeReasoning(out: ResponsesEvent[], status: OutputReasoning['status']): void {
    const r = this.reasoning;
    if (!r) return;
    this.closeThought(out, r);
    this.reasoning = undefined;
    r.item.encrypted_content = r.blocks.length > 0 ? encodeThinking(r.blocks) : null;
    r.item.status = status;
    out.push(
      this.ev({
        type: 'response.output_item.done',
        output_index: r.index,
        item: { ...r.item, summary: [...r.item.summary], content: [...r.item.content] },
      }),
    );
  }

  private closeAll(out: ResponsesEvent[], status: OutputMessage['status']): void {
    this.closeReasoning(out, status);
    this.closeText(out, status);
    this.closeCalls(out, status, () => true);
  }

  /** Closes the open calls `which` picks, in order; the others stay open. */
  private closeCalls(
    out: ResponsesEvent[],
    status: OutputMessage['status'],
    which: (c: OpenCall) => boolean,
  ): void {
    const keep: OpenCall[] = [];
    for (const c of this.openCalls) {
      if (!which(c)) {
        keep.push(c);
        continue;
      }
      c.item.status = status;
      const at = { item_id: c.item.id, output_index: c.index };
      if (c.item.type === 'custom_tool_call') {
        const input = customCallInput(c.args);
        c.item.input = input;
        if (input !== '')
          out.push(this.ev({ type: 'response.custom_tool_call_input.delta', ...at, delta: input }));
        out.push(this.ev({ type: 'response.custom_tool_call_input.done', ...at, input }));
      } else
        out.push(
          this.ev({
            type: 'response.function_call_arguments.done',
            ...at,
            arguments: c.item.arguments,
            name: c.item.name,
          }),
        );
      out.push(this.ev({ type: 'response.output_item.done', output_index: c.index, item: { ...c.item } }));
    }
    this.openCalls = keep;
  }

  private ev(e: ResponsesEvent): ResponsesEvent {
    return { ...e, sequence_number: this.seq++ };
  }
}
