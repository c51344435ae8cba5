/**
 * The OpenAI Responses API as an upstream wire (`POST /v1/responses`), as pure translation: the internal request (the
 * chat shape every stage speaks) to a Responses request, a whole Response back to a chat.completion, and the typed
 * Responses event stream to chat.completion.chunk's. The other direction (Responses clients inbound) is
 * src/sidecar/apis/responses.ts; the two meet in the same shapes.
 *
 * Nothing is stored upstream (`store: false`): the whole conversation goes in `input` every time, as the chat wire
 * sends it. Leading system/developer messages become `instructions`; later ones stay in place as input messages.
 * Chat parameters the Responses API has no equivalent for (stop, seed, presence/frequency penalties, logit_bias) are
 * left out, as docs/providers.md says; `n` above 1 is refused, since one Response holds one answer.
 */
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Usage } from '../api/openai.js';
import { invalidRequest } from './tool-calls.js';
import { type FailureReason, ProviderError } from './types.js';
import { openAIStreamFailure } from './upstream-errors.js';

type Part = { type: string } & Record<string, unknown>;
type Message = ChatCompletionRequest['messages'][number];
type ChatToolCall = { id?: unknown; function?: { name?: unknown; arguments?: unknown } };

/**
 * Chat parameters the Responses API takes under the same name; any other is left out (stop, seed, penalties and
 * logit_bias have no equivalent there, and an answer is still possible without them).
 */
const SAME_NAME = [
  'temperature',
  'top_p',
  'parallel_tool_calls',
  'service_tier',
  'prompt_cache_key',
  'prompt_cache_retention',
  'metadata',
  'top_logprobs',
  'user',
  'safety_identifier',
] as const;

/** The Responses request for a chat request (already stripped for the OpenAI wire: thinking.ts, cache-control.ts). */
export function toResponsesRequest(req: ChatCompletionRequest, stream: boolean): Record<string, unknown> {
  if (req.n != null && req.n > 1)
    throw invalidRequest('n: the Responses API answers one choice per request; n must be 1 for this model');
  const { instructions, input } = toInput(req.messages);
  const out: Record<string, unknown> = { model: req.model, input, store: false, stream };
  if (instructions !== undefined) out['instructions'] = instructions;
  const r = req as Record<string, unknown>;
  for (const k of SAME_NAME) if (r[k] != null) out[k] = r[k];
  const max = req.max_completion_tokens ?? req.max_tokens;
  if (max != null) out['max_output_tokens'] = max;
  if (r['reasoning_effort'] != null) out['reasoning'] = { effort: r['reasoning_effort'] };
  if (r['logprobs'] === true) out['include'] = ['message.output_text.logprobs'];
  const text: Record<string, unknown> = {};
  if (r['verbosity'] != null) text['verbosity'] = r['verbosity'];
  const format = textFormat(req.response_format);
  if (format) text['format'] = format;
  if (Object.keys(text).length > 0) out['text'] = text;
  if (req.tools && req.tools.length > 0) out['tools'] = req.tools.map(functionTool);
  const choice = r['tool_choice'];
  if (choice != null) out['tool_choice'] = toolChoice(choice);
  return out;
}

function toInput(messages: Message[]): { instructions: string | undefined; input: unknown[] } {
  const lead: string[] = [];
  let i = 0;
  for (; i < messages.length; i++) {
    const m = messages[i]!;
    if (m.role !== 'system' && m.role !== 'developer') break;
    lead.push(textOf(m.content, `messages.${i}.content`));
  }
  const input: unknown[] = [];
  for (; i < messages.length; i++) {
    const m = messages[i]!;
    const at = `messages.${i}`;
    switch (m.role) {
      case 'system':
      case 'developer':
        input.push({ type: 'message', role: m.role, content: textOf(m.content, `${at}.content`) });
        break;
      case 'user':
        input.push({ type: 'message', role: 'user', content: userContent(m.content, `${at}.content`) });
        break;
      case 'assistant': {
        const text = m.content == null ? '' : textOf(m.content, `${at}.content`);
        if (text !== '') input.push({ type: 'message', role: 'assistant', content: text });
        for (const [k, raw] of ((m.tool_calls ?? []) as ChatToolCall[]).entries()) {
          const f = raw?.function;
          if (typeof raw?.id !== 'string' || typeof f?.name !== 'string')
            throw invalidRequest(`${at}.tool_calls.${k}: a tool call needs an id and a function name`);
          const args = typeof f.arguments === 'string' ? f.arguments : JSON.stringify(f.arguments ?? {});
          input.push({ type: 'function_call', call_id: raw.id, name: f.name, arguments: args });
        }
        break;
      }
      case 'tool':
        if (!m.tool_call_id) throw invalidRequest(`${at}.tool_call_id: required on a tool message`);
        input.push({
          type: 'function_call_output',
          call_id: m.tool_call_id,
          output: textOf(m.content, `${at}.content`),
        });
        break;
      default:
        throw invalidRequest(
          `${at}.role: "${m.role}" messages (the legacy functions API) cannot be sent to the Responses API; use tools`,
        );
    }
  }
  return { instructions: lead.length > 0 ? lead.join('\n\n') : undefined, input };
}

/** A message's text: a string, or its text parts joined; other parts are refused where only text can go. */
function textOf(content: Message['content'], at: string): string {
  if (content == null) return '';
  if (typeof content === 'string') return content;
  return content
    .map((p, k) => {
      if (p.type === 'text') return (p as { text: string }).text;
      throw invalidRequest(`${at}.${k}.type: only text parts can go here, not "${p.type}"`);
    })
    .join('');
}

/** A user message's content as Responses input parts: text, images and files. */
function userContent(content: Message['content'], at: string): string | unknown[] {
  if (content == null || typeof content === 'string') return content ?? '';
  return (content as Part[]).map((p, k) => {
    if (p.type === 'text') return { type: 'input_text', text: p['text'] };
    if (p.type === 'image_url') {
      const img = p['image_url'] as { url?: unknown; detail?: unknown } | string | undefined;
      const url = typeof img === 'string' ? img : img?.url;
      const detail = typeof img === 'object' && img.detail != null ? img.detail : 'auto';
      return { type: 'input_image', image_url: url, detail };
    }
    if (p.type === 'file') {
      const f = (p['file'] ?? {}) as Record<string, unknown>;
      return {
        type: 'input_file',
        ...(f['file_id'] != null ? { file_id: f['file_id'] } : {}),
        ...(f['file_data'] != null ? { file_data: f['file_data'] } : {}),
        ...(f['filename'] != null ? { filename: f['filename'] } : {}),
      };
    }
    throw invalidRequest(`${at}.${k}.type: "${p.type}" parts cannot be sent to the Responses API`);
  });
}

function functionTool(t: { type: string } & Record<string, unknown>, i: number): unknown {
  const f = t['function'] as
    | { name?: unknown; description?: unknown; parameters?: unknown; strict?: unknown }
    | undefined;
  if (t.type !== 'function' || typeof f?.name !== 'string')
    throw invalidRequest(`tools.${i}.type: only function tools can be sent to the Responses API`);
  return {
    type: 'function',
    name: f.name,
    ...(f.description != null ? { description: f.description } : {}),
    parameters: f.parameters ?? { type: 'object', properties: {} },
    // Left out, the Responses API is strict; chat completions are not, and the schema may not be strict-compatible.
    strict: f.strict === true,
  };
}

function toolChoice(choice: unknown): unknown {
  if (typeof choice === 'string') return choice;
  const c = choice as { type?: unknown; function?: { name?: unknown } };
  if (c.type === 'function' && typeof c.function?.name === 'string')
    return { type: 'function', name: c.function.name };
  throw invalidRequest('tool_choice: must be "auto", "none", "required" or a function by name');
}

function textFormat(f: ChatCompletionRequest['response_format']): unknown {
  if (f == null) return undefined;
  if (f.type !== 'json_schema') return { type: f.type };
  const s = f.json_schema as {
    name: string;
    schema?: unknown;
    strict?: boolean | null;
    description?: unknown;
  };
  return {
    type: 'json_schema',
    name: s.name,
    schema: s.schema ?? {},
    ...(s.strict != null ? { strict: s.strict } : {}),
    ...(s.description != null ? { description: s.description } : {}),
  };
}

/** A Response's output items and envelope, as far as the translation reads them (responses.d.ts `Response`). */
interface ResponseLike {
  id?: unknown;
  created_at?: unknown;
  model?: unknown;
  status?: unknown;
  error?: { code?: unknown; message?: unknown } | null;
  incomplete_details?: { reason?: unknown } | null;
  output?: unknown;
  usage?: ResponsesUsageLike | null;
}
interface ResponsesUsageLike {
  input_tokens?: unknown;
  output_tokens?: unknown;
  total_tokens?: unknown;
  input_tokens_details?: { cached_tokens?: unknown } | null;
  output_tokens_details?: { reasoning_tokens?: unknown } | null;
}
type OutputItemLike = { type?: unknown } & Record<string, unknown>;

export function isResponse(v: unknown): v is ResponseLike {
  const r = v as ResponseLike | null;
  return typeof r === 'object' && r !== null && Array.isArray(r.output);
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** Responses usage as chat usage: input/output tokens with their cached and reasoning parts. */
export function chatUsage(u: ResponsesUsageLike | null | undefined): Usage | undefined {
  if (!u) return undefined;
  const prompt = num(u.input_tokens);
  const completion = num(u.output_tokens);
  const usage: Usage & { completion_tokens_details?: { reasoning_tokens: number } } = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: typeof u.total_tokens === 'number' ? u.total_tokens : prompt + completion,
    prompt_tokens_details: { cached_tokens: num(u.input_tokens_details?.cached_tokens) },
    completion_tokens_details: { reasoning_tokens: num(u.output_tokens_details?.reasoning_tokens) },
  };
  return usage;
}

/** Why a Response ended, as a chat finish_reason. */
function finishReason(r: ResponseLike, calledTools: boolean): string {
  if (r.status === 'incomplete') {
    const why = r.incomplete_details?.reason;
    return why === 'content_filter' ? 'content_filter' : 'length';
  }
  return calledTools ? 'tool_calls' : 'stop';
}

/** A failed Response (`status: "failed"`, its `error`) as the failure it is, classed as a stream's error would be. */
export function failedResponse(
  provider: string,
  r: ResponseLike,
  text: (s: string) => string,
): ProviderError {
  const e = r.error ?? {};
  const message = typeof e.message === 'string' ? e.message : undefined;
  const code = typeof e.code === 'string' ? e.code : undefined;
  return failure(provider, 'answered with a failed response', { message, code }, text);
}

/** An upstream failure in the Responses wire's own words: rate limits and overloads keep their class. */
export function failure(
  provider: string,
  what: string,
  e: { message?: string | undefined; code?: string | undefined; type?: string | undefined },
  text: (s: string) => string,
): ProviderError {
  const { reason, overloaded }: { reason: FailureReason; overloaded: boolean } = openAIStreamFailure(e);
  const msg = e.message !== undefined ? `: ${text(e.message)}` : '';
  return new ProviderError(reason, `provider "${provider}" ${what}${msg}`, { overloaded });
}

/** A whole Response as a chat.completion: its text, refusal, reasoning summary and function calls, and usage. */
export function fromResponse(r: ResponseLike): ChatCompletion {
  let content = '';
  let refusal: string | undefined;
  let reasoning = '';
  const toolCalls: unknown[] = [];
  for (const item of r.output as OutputItemLike[]) {
    if (item?.type === 'message') {
      for (const p of (item['content'] ?? []) as Part[]) {
        if (p.type === 'output_text' && typeof p['text'] === 'string') content += p['text'];
        else if (p.type === 'refusal' && typeof p['refusal'] === 'string')
          refusal = (refusal ?? '') + p['refusal'];
      }
    } else if (item?.type === 'function_call') {
      toolCalls.push({
        id: item['call_id'],
        type: 'function',
        function: { name: item['name'], arguments: item['arguments'] ?? '' },
      });
    } else if (item?.type === 'reasoning') {
      for (const s of (item['summary'] ?? []) as Part[])
        if (typeof s['text'] === 'string') reasoning += (reasoning ? '\n\n' : '') + s['text'];
    }
  }
  const usage = chatUsage(r.usage);
  return {
    id: typeof r.id === 'string' ? r.id : 'resp',
    object: 'chat.completion',
    created: num(r.created_at),
    model: typeof r.model === 'string' ? r.model : '',
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: content === '' && (toolCalls.length > 0 || refusal !== undefined) ? null : content,
          ...(refusal !== undefined ? { refusal } : {}),
          ...(reasoning ? { reasoning_content: reasoning } : {}),
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
        },
        finish_reason: finishReason(r, toolCalls.length > 0),
      },
    ],
    ...(usage ? { usage } : {}),
  };
}

/** One Responses stream event, as far as the translation reads it. */
export type ResponsesEventLike = {
  type?: unknown;
  response?: ResponseLike;
  item?: OutputItemLike;
  output_index?: unknown;
  delta?: unknown;
  arguments?: unknown;
  code?: unknown;
  message?: unknown;
} & Record<string, unknown>;

/**
 * The chunks of one streamed Response, event by event: text, refusal and reasoning-summary deltas, a function call
 * opened by its output_item.added (id and name) and filled by its argument deltas, then a finish chunk and a usage
 * chunk at response.completed / response.incomplete. `failure` is thrown at response.failed and error events.
 */
export class ResponsesChunks {
  /** Set by the terminal event: the answer is whole. */
  done = false;
  private id = 'resp';
  private created = 0;
  private model = '';
  /** output_index of a function call -> its index in tool_calls, and whether its arguments came in deltas. */
  private readonly calls = new Map<number, { index: number; streamed: boolean }>();
  private role = false;

  constructor(
    private readonly provider: string,
    private readonly text: (s: string) => string,
  ) {}

  /** The chunks for one event's parsed data (often none). */
  next(ev: ResponsesEventLike): ChatCompletionChunk[] {
    switch (ev.type) {
      case 'response.created':
      case 'response.in_progress':
        this.envelope(ev.response);
        return [];
      case 'response.output_text.delta':
        return typeof ev.delta === 'string' && ev.delta !== '' ? [this.chunk({ content: ev.delta })] : [];
      case 'response.refusal.delta':
        return typeof ev.delta === 'string' ? [this.chunk({ refusal: ev.delta })] : [];
      case 'response.reasoning_summary_text.delta':
        return typeof ev.delta === 'string' ? [this.chunk({ reasoning_content: ev.delta })] : [];
      case 'response.output_item.added': {
        if (ev.item?.type !== 'function_call') return [];
        const index = this.calls.size;
        this.calls.set(num(ev.output_index), { index, streamed: false });
        const call = {
          index,
          id: ev.item['call_id'],
          type: 'function',
          function: { name: ev.item['name'], arguments: '' },
        };
        return [this.chunk({ tool_calls: [call] })];
      }
      case 'response.function_call_arguments.delta': {
        const call = this.calls.get(num(ev.output_index));
        if (!call || typeof ev.delta !== 'string') return [];
        call.streamed = true;
        return [this.chunk({ tool_calls: [{ index: call.index, function: { arguments: ev.delta } }] })];
      }
      case 'response.function_call_arguments.done': {
        // Arguments sent whole, without deltas, come here only.
        const call = this.calls.get(num(ev.output_index));
        if (!call || call.streamed || typeof ev.arguments !== 'string' || ev.arguments === '') return [];
        call.streamed = true;
        return [this.chunk({ tool_calls: [{ index: call.index, function: { arguments: ev.arguments } }] })];
      }
      case 'response.completed':
      case 'response.incomplete': {
        const r = ev.response ?? {};
        this.envelope(r);
        this.done = true;
        const finish = this.chunk({}, finishReason(r, this.calls.size > 0));
        const usage = chatUsage(r.usage);
        return usage ? [finish, { ...this.chunk({}), choices: [], usage }] : [finish];
      }
      case 'response.failed':
        throw failedResponse(this.provider, ev.response ?? {}, this.text);
      case 'error':
        throw failure(
          this.provider,
          'sent an error in the stream',
          {
            message: typeof ev.message === 'string' ? ev.message : undefined,
            code: typeof ev.code === 'string' ? ev.code : undefined,
          },
          this.text,
        );
      default:
        return [];
    }
  }

  private envelope(r: ResponseLike | undefined): void {
    if (!r) return;
    if (typeof r.id === 'string') this.id = r.id;
    if (typeof r.created_at === 'number') this.created = r.created_at;
    if (typeof r.model === 'string') this.model = r.model;
  }

  private chunk(delta: ChatCompletionChunk['choices'][number]['delta'], finish: string | null = null) {
    // The first chunk with a delta says who speaks, as chat streams open.
    const d = this.role || finish !== null ? delta : { role: 'assistant' as const, ...delta };
    this.role = true;
    const c: ChatCompletionChunk = {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices: [{ index: 0, delta: d, finish_reason: finish }],
    };
    return c;
  }
}
