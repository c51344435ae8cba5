/** Pure translation between OpenAI chat completions and the Anthropic Messages API, whole and streamed. */
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  ChatMessage,
  Usage,
} from '../api/openai.js';
import { ProviderError } from './types.js';
import { reasonForAnthropicType } from './upstream-errors.js';

export const DEFAULT_MAX_TOKENS = 4096;

export interface AnthropicTextBlock {
  type: 'text';
  text: string;
}

export interface AnthropicRequest {
  model: string;
  max_tokens: number;
  messages: Array<{ role: 'user' | 'assistant'; content: AnthropicTextBlock[] }>;
  system?: string;
  stop_sequences?: string[];
  temperature?: number;
  top_p?: number;
  stream?: boolean;
  metadata?: { user_id: string };
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
  content: Array<{ type: string; text?: string }>;
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
 * What this translation cannot carry faithfully: tools and non-text content parts. Rather than silently dropping
 * them (and answering a different question), the adapter declines such requests so failover picks another target.
 */
export function untranslatable(body: ChatCompletionRequest): string | undefined {
  const b = body as ChatCompletionRequest & { tools?: unknown[]; functions?: unknown[] };
  if (
    (Array.isArray(b.tools) && b.tools.length > 0) ||
    (Array.isArray(b.functions) && b.functions.length > 0)
  )
    return 'tool calling is not translated to Anthropic';
  for (const m of body.messages) {
    if (Array.isArray(m.content) && m.content.some((p) => p.type !== 'text'))
      return 'non-text content parts are not translated to Anthropic';
    if (m.tool_calls && m.tool_calls.length > 0) return 'tool calling is not translated to Anthropic';
  }
  return undefined;
}

/**
 * OpenAI request to Anthropic request. System and developer messages become `system`; tool results are sent as user
 * text; consecutive messages of one role are merged (Anthropic requires alternation) and the conversation must open
 * with a user turn; empty messages are dropped (Anthropic rejects empty text blocks).
 */
export function toAnthropicRequest(
  body: ChatCompletionRequest,
  maxTokensDefault = DEFAULT_MAX_TOKENS,
): AnthropicRequest {
  const system: string[] = [];
  const messages: AnthropicRequest['messages'] = [];
  for (const m of body.messages) {
    const text = messageText(m);
    if (m.role === 'system' || m.role === 'developer') {
      if (text) system.push(text);
      continue;
    }
    if (!text) continue;
    const role = m.role === 'assistant' ? 'assistant' : 'user';
    const last = messages[messages.length - 1];
    if (last && last.role === role) last.content.push({ type: 'text', text });
    else messages.push({ role, content: [{ type: 'text', text }] });
  }
  if (messages[0]?.role !== 'user')
    messages.unshift({ role: 'user', content: [{ type: 'text', text: '(conversation start)' }] });
  const rf = body.response_format?.type;
  if (rf === 'json_object' || rf === 'json_schema') {
    const schema =
      body.response_format?.type === 'json_schema' ? body.response_format.json_schema.schema : undefined;
    system.push(
      schema
        ? `${JSON_INSTRUCTION} It must match this JSON schema: ${JSON.stringify(schema)}`
        : JSON_INSTRUCTION,
    );
  }
  const out: AnthropicRequest = {
    model: body.model,
    max_tokens: body.max_completion_tokens ?? body.max_tokens ?? maxTokensDefault,
    messages,
  };
  if (system.length > 0) out.system = system.join('\n\n');
  if (body.stop != null) {
    const stops = (Array.isArray(body.stop) ? body.stop : [body.stop]).filter((s) => s.trim() !== '');
    if (stops.length > 0) out.stop_sequences = stops;
  }
  // OpenAI temperature runs 0..2, Anthropic's 0..1.
  if (body.temperature != null) out.temperature = Math.min(1, body.temperature);
  if (body.top_p != null) out.top_p = body.top_p;
  if (body.user) out.metadata = { user_id: body.user };
  if (body.stream) out.stream = true;
  return out;
}

export function finishReason(stop: string | null | undefined): string | null {
  switch (stop) {
    case 'end_turn':
    case 'stop_sequence':
    case 'pause_turn':
      return 'stop';
    case 'max_tokens':
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

/** Prompt tokens include cache writes and reads: all of them were billed as input. */
export function toUsage(input: AnthropicUsage, output: number): Usage {
  const prompt =
    (input.input_tokens ?? 0) +
    (input.cache_creation_input_tokens ?? 0) +
    (input.cache_read_input_tokens ?? 0);
  return { prompt_tokens: prompt, completion_tokens: output, total_tokens: prompt + output };
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

export function fromAnthropicMessage(
  m: AnthropicMessage,
  created = Math.floor(Date.now() / 1000),
): ChatCompletion {
  const text = m.content
    .filter((b) => b.type === 'text')
    .map((b) => b.text ?? '')
    .join('');
  return {
    id: m.id,
    object: 'chat.completion',
    created,
    model: m.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: text, refusal: null },
        finish_reason: finishReason(m.stop_reason),
        logprobs: null,
      },
    ],
    usage: toUsage(m.usage, m.usage.output_tokens ?? 0),
  };
}

/**
 * Anthropic stream events in, OpenAI chunks out, one event at a time. Emits a role chunk on message_start, a content
 * chunk per text delta, a finish_reason chunk on message_delta, and a usage chunk (empty choices, as OpenAI sends
 * with include_usage) on message_stop. `done` turns true on message_stop; an `error` event throws a ProviderError.
 */
export class AnthropicStreamTranslator {
  done = false;
  private id = '';
  private model: string;
  private input: AnthropicUsage = {};
  private output = 0;

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
        const text = d['content_block']?.type === 'text' ? d['content_block'].text : undefined;
        return typeof text === 'string' && text !== '' ? [this.chunk({ content: text }, null)] : [];
      }
      case 'content_block_delta': {
        const delta = d['delta'];
        if (delta?.type === 'text_delta' && typeof delta.text === 'string')
          return [this.chunk({ content: delta.text }, null)];
        return [];
      }
      case 'message_delta': {
        if (typeof d['usage']?.output_tokens === 'number') this.output = d['usage'].output_tokens;
        // Newer API versions may report input counts again here; keep the latest.
        if (typeof d['usage']?.input_tokens === 'number')
          this.input = { ...this.input, input_tokens: d['usage'].input_tokens };
        return [this.chunk({}, finishReason(d['delta']?.stop_reason ?? 'end_turn'))];
      }
      case 'message_stop':
        this.done = true;
        return [{ ...this.chunk({}, null), choices: [], usage: toUsage(this.input, this.output) }];
      case 'error': {
        const e = d['error'] ?? {};
        const reason = reasonForAnthropicType(typeof e.type === 'string' ? e.type : undefined, undefined);
        const msg = typeof e.type === 'string' ? ` (${e.type})` : '';
        throw new ProviderError(reason, `provider "${this.provider}" sent an error event${msg}`);
      }
      default:
        // ping, content_block_stop and event types added later carry nothing we translate.
        return [];
    }
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
