/** Pure translation between OpenAI chat completions and the native Gemini API (generateContent), whole and streamed. */
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  ChatMessage,
  Usage,
} from '../api/openai.js';
import { providerDecline, thinkingStyle } from '../routing/capabilities.js';
import { messageText } from './anthropic-translate.js';
import { budgetForEffort } from './thinking.js';
import { invalidRequest as invalid, parseToolCall } from './tool-calls.js';
import { ProviderError } from './types.js';
import { geminiError, overloadedFailure, reasonForGeminiStatus } from './upstream-errors.js';

export interface GeminiPart {
  text?: string;
  /** A thought summary: the answer's reasoning_content, never its text. */
  thought?: boolean;
  /** Gemini 3 signs its function calls; the signature must come back with the call on the next turn. */
  thoughtSignature?: string;
  inlineData?: { mimeType: string; data: string };
  functionCall?: { id?: string; name: string; args?: Record<string, unknown> };
  functionResponse?: { name: string; response: Record<string, unknown> };
}

export interface GeminiContent {
  role: 'user' | 'model';
  parts: GeminiPart[];
}

export interface GeminiFunctionDeclaration {
  name: string;
  description?: string;
  /** Full JSON Schema; the older `parameters` field only takes an OpenAPI subset (no additionalProperties, ...). */
  parametersJsonSchema?: Record<string, unknown>;
}

export interface GeminiGenerationConfig {
  temperature?: number;
  topP?: number;
  maxOutputTokens?: number;
  stopSequences?: string[];
  candidateCount?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  seed?: number;
  responseMimeType?: string;
  responseJsonSchema?: Record<string, unknown>;
  /** -1 is a dynamic budget (the model decides); includeThoughts answers thought summaries as `thought` parts. */
  thinkingConfig?: { thinkingBudget?: number; includeThoughts?: boolean };
}

export interface GeminiRequest {
  contents: GeminiContent[];
  systemInstruction?: { parts: Array<{ text: string }> };
  tools?: Array<{ functionDeclarations: GeminiFunctionDeclaration[] }>;
  toolConfig?: {
    functionCallingConfig: { mode: 'AUTO' | 'ANY' | 'NONE'; allowedFunctionNames?: string[] };
  };
  generationConfig?: GeminiGenerationConfig;
}

export interface GeminiUsage {
  promptTokenCount?: number;
  candidatesTokenCount?: number;
  totalTokenCount?: number;
  /** Thinking tokens: billed as output, not included in candidatesTokenCount. */
  thoughtsTokenCount?: number;
  /** Prompt tokens of tool results the API itself ran (search, code execution): billed as input. */
  toolUsePromptTokenCount?: number;
  cachedContentTokenCount?: number;
}

export interface GeminiCandidate {
  content?: { role?: string; parts?: GeminiPart[] };
  finishReason?: string;
  index?: number;
}

export interface GeminiResponse {
  candidates?: GeminiCandidate[];
  promptFeedback?: { blockReason?: string };
  usageMetadata?: GeminiUsage;
  modelVersion?: string;
  responseId?: string;
}

/** The upstream model id as it goes in the URL path: `models/` is implied, tuned models keep their collection. */
export function geminiModelPath(model: string): string {
  const m = model.replace(/^models\//, '');
  const path = m.startsWith('tunedModels/') ? m : `models/${m}`;
  return path.split('/').map(encodeURIComponent).join('/');
}

/**
 * What this translation cannot carry faithfully: the legacy `functions` API, image URLs (Gemini only takes inline
 * data or its own file URIs), content parts it has no counterpart for, `logprobs`, images in tool messages and
 * audio output. Declined rather than silently dropped, so
 * failover picks another target instead of answering a different question. Likewise what only Gemini refuses: a
 * tool name the other vendors accept (one starting with a digit, say) and a conversation of system messages only.
 * Neither is the caller's fault: another target serves them.
 */
export function geminiUntranslatable(body: ChatCompletionRequest): string | undefined {
  const b = body as ChatCompletionRequest & { functions?: unknown[]; function_call?: unknown };
  if ((Array.isArray(b.functions) && b.functions.length > 0) || b.function_call != null)
    return 'legacy function calling is not translated to Gemini';
  // OpenAI allows up to 128 choices, Gemini 8 candidates: another target may serve the rest.
  if (typeof body['n'] === 'number' && body['n'] > 8)
    return 'n above 8 is more candidates than Gemini returns';
  const tools = body['tools'];
  if (Array.isArray(tools))
    for (const t of tools as Array<{ function?: { name?: unknown } } | null>) {
      const name = t?.function?.name;
      if (typeof name === 'string' && OTHER_VENDORS_NAME.test(name) && !FUNCTION_NAME.test(name))
        return GEMINI_TOOL_NAMES;
    }
  if (!body.messages.some((m) => m.role !== 'system' && m.role !== 'developer')) return GEMINI_NEEDS_TURN;
  for (const m of body.messages) {
    if (m.role === 'function') return 'legacy function messages are not translated to Gemini';
    if (!Array.isArray(m.content)) continue;
    for (const p of m.content) {
      if (p.type === 'text' || p.type === 'input_audio') continue;
      if (p.type === 'image_url') {
        const url = imageUrlOf(p);
        if (typeof url === 'string' && /^https?:\/\//i.test(url))
          return 'image URLs are not fetched for Gemini (send the image as a data URL)';
        continue;
      }
      if (p.type === 'file' && typeof fileDataOf(p) === 'string') continue;
      return `content parts of type ${JSON.stringify(p.type)} are not translated to Gemini`;
    }
  }
  // logprobs, images in tool messages, audio output: the table routing consults too.
  return providerDecline('gemini', body);
}

function imageUrlOf(part: unknown): unknown {
  const iu = (part as { image_url?: unknown }).image_url;
  return typeof iu === 'string' ? iu : (iu as { url?: unknown } | undefined)?.url;
}

function fileDataOf(part: unknown): unknown {
  return (part as { file?: { file_data?: unknown } }).file?.file_data;
}

const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;
const AUDIO_TYPES: Record<string, string> = { wav: 'audio/wav', mp3: 'audio/mp3' };

/** One non-text OpenAI part as Gemini inline data: data-URL images and files, base64 audio. */
function inlinePart(p: Record<string, unknown>, where: string): GeminiPart {
  if (p['type'] === 'input_audio') {
    const a = p['input_audio'] as { data?: unknown; format?: unknown } | undefined;
    const mimeType = AUDIO_TYPES[String(a?.format)];
    if (!mimeType) throw invalid(`${where}: input_audio.format must be "wav" or "mp3"`);
    if (typeof a?.data !== 'string' || a.data === '') throw invalid(`${where}: input_audio.data is required`);
    return { inlineData: { mimeType, data: a.data } };
  }
  const url = p['type'] === 'file' ? fileDataOf(p) : imageUrlOf(p);
  const field = p['type'] === 'file' ? 'file.file_data' : 'image_url.url';
  if (typeof url !== 'string' || url === '') throw invalid(`${where}: ${field} is required`);
  const data = DATA_URL.exec(url);
  if (!data) throw invalid(`${where}: ${field} must be a base64 data URL`);
  if (!data[2]) throw invalid(`${where}: ${field} data is empty`);
  return { inlineData: { mimeType: (data[1] ?? '').toLowerCase(), data: data[2] } };
}

/** Text and inline-data parts of one user/assistant message, in order; empty text is dropped. */
function contentParts(m: ChatMessage, where: string): GeminiPart[] {
  if (typeof m.content === 'string') return m.content ? [{ text: m.content }] : [];
  if (!Array.isArray(m.content)) return [];
  const out: GeminiPart[] = [];
  for (const [j, p] of m.content.entries()) {
    if (p.type === 'text') {
      if (typeof p['text'] === 'string' && p['text'] !== '') out.push({ text: p['text'] as string });
    } else out.push(inlinePart(p as Record<string, unknown>, `${where}.content.${j}`));
  }
  return out;
}

interface ToolCallIn {
  id: string;
  name: string;
  args: Record<string, unknown>;
  signature: string | undefined;
}

/** An assistant message's OpenAI `tool_calls`; arguments must encode a JSON object (Gemini's args are a Struct). */
function toolCallsOf(m: ChatMessage, where: string): ToolCallIn[] {
  return (m.tool_calls ?? []).map((raw, k) => {
    const call = parseToolCall(raw, `${where}.tool_calls.${k}`);
    const sig = (raw as { extra_content?: { google?: { thought_signature?: unknown } } })?.extra_content
      ?.google?.thought_signature;
    return { ...call, signature: typeof sig === 'string' ? sig : undefined };
  });
}

/**
 * A tool message's content as Gemini's functionResponse.response, which must be an object: a JSON object result is
 * sent as it is, anything else under `output` (the key Gemini's docs name for a function's output).
 */
export function toolResponse(content: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(content);
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
    return { output: v };
  } catch {
    return { output: content };
  }
}

/** The function names Gemini accepts. */
const FUNCTION_NAME = /^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/;
/** The function names OpenAI and Anthropic accept: a leading digit or dash too. A name neither takes is the caller's. */
const OTHER_VENDORS_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const GEMINI_TOOL_NAMES =
  'Gemini takes only tool names that start with a letter or _ and use A-Z a-z 0-9 _ . : - (64 at most)';
const GEMINI_NEEDS_TURN =
  'Gemini needs at least one user or assistant message (system messages alone are not sent)';

/** OpenAI `tools` to one Gemini tool of function declarations; only function tools exist in both. */
export function toGeminiTools(tools: unknown): GeminiFunctionDeclaration[] {
  if (!Array.isArray(tools)) throw invalid('tools must be an array');
  return tools.map((raw, i) => {
    const t = raw as {
      type?: unknown;
      function?: { name?: unknown; description?: unknown; parameters?: unknown };
    };
    if (t?.type !== 'function') throw invalid(`tools.${i}.type must be "function"`);
    const name = t.function?.name;
    if (typeof name !== 'string' || name === '') throw invalid(`tools.${i}.function.name is required`);
    // A name other vendors take but Gemini does not was declined by geminiUntranslatable; one nobody takes is left.
    if (!FUNCTION_NAME.test(name))
      throw invalid(
        `tools.${i}.function.name must start with a letter or _ and use only A-Z a-z 0-9 _ . : - (64 at most)`,
      );
    const params = t.function?.parameters;
    if (params !== undefined && (typeof params !== 'object' || params === null || Array.isArray(params)))
      throw invalid(`tools.${i}.function.parameters must be a JSON schema object`);
    const out: GeminiFunctionDeclaration = { name };
    if (typeof t.function?.description === 'string') out.description = t.function.description;
    // A function without parameters is declared without a schema; Gemini then calls it with no args.
    if (params && Object.keys(params).length > 0)
      out.parametersJsonSchema = params as Record<string, unknown>;
    return out;
  });
}

/** OpenAI `tool_choice` to Gemini's functionCallingConfig; undefined leaves Gemini's default (AUTO). */
export function toGeminiToolConfig(choice: unknown): GeminiRequest['toolConfig'] | undefined {
  if (choice == null || choice === 'auto') return undefined;
  if (choice === 'none') return { functionCallingConfig: { mode: 'NONE' } };
  if (choice === 'required') return { functionCallingConfig: { mode: 'ANY' } };
  const c = choice as { type?: unknown; function?: { name?: unknown } };
  if (c?.type === 'function' && typeof c.function?.name === 'string' && c.function.name !== '')
    return { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [c.function.name] } };
  throw invalid('tool_choice must be "auto", "none", "required" or {type:"function",function:{name}}');
}

/**
 * Gemini's thinkingConfig for a model that thinks (routing/capabilities.ts): Anthropic's budget as thinkingBudget,
 * `adaptive` / `between_tools` as a dynamic one (-1), else OpenAI's `reasoning_effort` by thinking.ts's table; with
 * thought summaries, which the answer carries as `reasoning_content`. `disabled` leaves the model's default (2.5 Pro
 * cannot stop thinking).
 */
function thinkingConfig(body: ChatCompletionRequest): GeminiGenerationConfig['thinkingConfig'] {
  if (thinkingStyle('gemini', body.model) !== 'gemini') return undefined;
  const t = body.thinking;
  if (t?.type === 'disabled') return undefined;
  const budget =
    t?.type === 'enabled' ? t.budget_tokens : t != null ? -1 : budgetForEffort(body['reasoning_effort']);
  return budget === undefined ? undefined : { thinkingBudget: budget, includeThoughts: true };
}

function generationConfig(body: ChatCompletionRequest): GeminiGenerationConfig | undefined {
  const g: GeminiGenerationConfig = {};
  if (body.temperature != null) g.temperature = body.temperature;
  if (body.top_p != null) g.topP = body.top_p;
  const max = body.max_completion_tokens ?? body.max_tokens;
  if (max != null) g.maxOutputTokens = max;
  if (body.stop != null) {
    const stops = (typeof body.stop === 'string' ? [body.stop] : body.stop).filter((s) => s !== '');
    if (stops.length > 5) throw invalid('stop: Gemini accepts at most 5 stop sequences');
    if (stops.length > 0) g.stopSequences = stops;
  }
  const n = body['n'];
  if (n != null) {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw invalid('n must be a positive integer');
    if (n > 1) g.candidateCount = n;
  }
  for (const [from, to] of [
    ['presence_penalty', 'presencePenalty'],
    ['frequency_penalty', 'frequencyPenalty'],
    ['seed', 'seed'],
  ] as const) {
    const v = body[from];
    if (v == null) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(`${from} must be a number`);
    g[to] = v;
  }
  const thinking = thinkingConfig(body);
  if (thinking) g.thinkingConfig = thinking;
  const rf = body.response_format;
  if (rf?.type === 'json_object') g.responseMimeType = 'application/json';
  else if (rf?.type === 'json_schema') {
    g.responseMimeType = 'application/json';
    if (rf.json_schema.schema) g.responseJsonSchema = rf.json_schema.schema;
  }
  return Object.keys(g).length > 0 ? g : undefined;
}

/**
 * OpenAI request to Gemini request (the model goes in the URL). System and developer messages become
 * `systemInstruction`; assistant turns become `model` turns with functionCall parts; tool messages become
 * functionResponse parts (named after the call they answer) in a user turn; consecutive turns of one role are merged,
 * so all responses to one model turn arrive together, ahead of any text. Throws a `client_error` ProviderError for
 * tool calls, tools or media no upstream would accept, an `unavailable` one for what only Gemini refuses.
 */
export function toGeminiRequest(body: ChatCompletionRequest): GeminiRequest {
  const system: string[] = [];
  const contents: GeminiContent[] = [];
  const callNames = new Map<string, string>();
  const push = (role: 'user' | 'model', parts: GeminiPart[]) => {
    if (parts.length === 0) return;
    const last = contents[contents.length - 1];
    if (last && last.role === role) {
      if (parts.every((p) => p.functionResponse)) {
        const firstOther = last.parts.findIndex((p) => !p.functionResponse);
        if (firstOther >= 0) {
          last.parts.splice(firstOther, 0, ...parts);
          return;
        }
      }
      last.parts.push(...parts);
    } else contents.push({ role, parts: [...parts] });
  };
  for (const [i, m] of body.messages.entries()) {
    const where = `messages.${i}`;
    switch (m.role) {
      case 'system':
      case 'developer': {
        const text = messageText(m);
        if (text) system.push(text);
        break;
      }
      case 'tool': {
        if (typeof m.tool_call_id !== 'string' || m.tool_call_id === '')
          throw invalid(`${where}.tool_call_id is required for tool messages`);
        const name = callNames.get(m.tool_call_id);
        if (!name)
          throw invalid(`${where}.tool_call_id matches no tool call of an earlier assistant message`);
        push('user', [{ functionResponse: { name, response: toolResponse(messageText(m)) } }]);
        break;
      }
      case 'assistant': {
        const calls = toolCallsOf(m, where);
        for (const c of calls) callNames.set(c.id, c.name);
        push('model', [
          ...contentParts(m, where),
          ...calls.map((c) => ({
            functionCall: { name: c.name, args: c.args },
            ...(c.signature ? { thoughtSignature: c.signature } : {}),
          })),
        ]);
        break;
      }
      default:
        push('user', contentParts(m, where));
    }
  }
  // Only empty turns (geminiUntranslatable declines a conversation of system messages): Gemini-only, as there.
  if (contents.length === 0) throw new ProviderError('unavailable', GEMINI_NEEDS_TURN);
  const out: GeminiRequest = { contents };
  if (system.length > 0) out.systemInstruction = { parts: [{ text: system.join('\n\n') }] };
  const tools = body['tools'];
  if (tools != null && !(Array.isArray(tools) && tools.length === 0)) {
    const decls = toGeminiTools(tools);
    out.tools = [{ functionDeclarations: decls }];
    const cfg = toGeminiToolConfig(body['tool_choice']);
    const allowed = cfg?.functionCallingConfig.allowedFunctionNames?.[0];
    if (allowed !== undefined && !decls.some((d) => d.name === allowed))
      throw invalid(`tool_choice names function "${allowed}", which is not in tools`);
    if (cfg) out.toolConfig = cfg;
  } else if (
    body['tool_choice'] != null &&
    body['tool_choice'] !== 'none' &&
    body['tool_choice'] !== 'auto'
  ) {
    throw invalid('tool_choice requires tools');
  }
  const g = generationConfig(body);
  if (g) out.generationConfig = g;
  return out;
}

/** Gemini's finishReason to OpenAI's; a candidate that called functions finished with `tool_calls`. */
export function geminiFinishReason(reason: string | undefined, calledTools: boolean): string | null {
  switch (reason) {
    case undefined:
    case 'FINISH_REASON_UNSPECIFIED':
      return null;
    case 'STOP':
      return calledTools ? 'tool_calls' : 'stop';
    case 'MAX_TOKENS':
      return 'length';
    case 'SAFETY':
    case 'RECITATION':
    case 'BLOCKLIST':
    case 'PROHIBITED_CONTENT':
    case 'SPII':
    case 'IMAGE_SAFETY':
      return 'content_filter';
    default:
      // MALFORMED_FUNCTION_CALL, LANGUAGE, OTHER and reasons added later: the model stopped.
      return calledTools ? 'tool_calls' : 'stop';
  }
}

/** Thinking and tool-use prompt tokens are billed; they count as completion and prompt tokens respectively. */
export function geminiUsage(u: GeminiUsage | undefined): Usage {
  const prompt = (u?.promptTokenCount ?? 0) + (u?.toolUsePromptTokenCount ?? 0);
  const completion = (u?.candidatesTokenCount ?? 0) + (u?.thoughtsTokenCount ?? 0);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

export function isGeminiResponse(v: unknown): v is GeminiResponse {
  const r = v as GeminiResponse | null;
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return false;
  if (r.candidates !== undefined && !Array.isArray(r.candidates)) return false;
  return Array.isArray(r.candidates) || typeof r.promptFeedback === 'object';
}

/** OpenAI tool calls get ids; Gemini's calls usually have none, so one is made up per call. */
export type IdMaker = () => string;
export const randomCallId: IdMaker = () => `call_${crypto.randomUUID().replaceAll('-', '').slice(0, 24)}`;

interface TranslatedCandidate {
  index: number;
  text: string;
  /** The thought summaries' text (parts with `thought: true`), the answer's `reasoning_content`. */
  reasoning: string;
  toolCalls: Array<{
    id: string;
    type: 'function';
    function: { name: string; arguments: string };
    extra_content?: { google: { thought_signature: string } };
  }>;
  finish: string | null;
}

function translateCandidate(c: GeminiCandidate, i: number, newId: IdMaker): TranslatedCandidate {
  let text = '';
  let reasoning = '';
  const toolCalls: TranslatedCandidate['toolCalls'] = [];
  for (const p of c.content?.parts ?? []) {
    if (p.functionCall && typeof p.functionCall.name === 'string') {
      toolCalls.push({
        id: typeof p.functionCall.id === 'string' && p.functionCall.id !== '' ? p.functionCall.id : newId(),
        type: 'function',
        function: { name: p.functionCall.name, arguments: JSON.stringify(p.functionCall.args ?? {}) },
        // Google's own OpenAI-compatible endpoint carries the signature here, so clients already round-trip it.
        ...(typeof p.thoughtSignature === 'string'
          ? { extra_content: { google: { thought_signature: p.thoughtSignature } } }
          : {}),
      });
    } else if (typeof p.text === 'string') {
      if (p.thought === true) reasoning += p.text;
      else text += p.text;
    }
  }
  return {
    index: typeof c.index === 'number' ? c.index : i,
    text,
    reasoning,
    toolCalls,
    finish: geminiFinishReason(c.finishReason, toolCalls.length > 0),
  };
}

export function fromGeminiResponse(
  r: GeminiResponse,
  model: string,
  created = Math.floor(Date.now() / 1000),
  newId: IdMaker = randomCallId,
): ChatCompletion {
  const candidates = r.candidates ?? [];
  // A blocked prompt has no candidates at all: an empty, filtered answer whose prompt tokens were still spent.
  const choices: ChatCompletion['choices'] =
    candidates.length === 0
      ? [
          {
            index: 0,
            message: { role: 'assistant', content: '', refusal: null },
            finish_reason: 'content_filter',
            logprobs: null,
          },
        ]
      : candidates.map((c, i) => {
          const t = translateCandidate(c, i, newId);
          return {
            index: t.index,
            message: {
              role: 'assistant',
              // OpenAI sends null content when the answer is only tool calls.
              content: t.toolCalls.length > 0 && t.text === '' ? null : t.text,
              ...(t.toolCalls.length > 0 ? { tool_calls: t.toolCalls } : {}),
              refusal: null,
              ...(t.reasoning !== '' ? { reasoning_content: t.reasoning } : {}),
            },
            finish_reason: t.finish ?? 'stop',
            logprobs: null,
          };
        });
  return {
    id: r.responseId ? `chatcmpl-${r.responseId}` : `chatcmpl-gemini-${randomCallId().slice(5)}`,
    object: 'chat.completion',
    created,
    model: r.modelVersion ?? model,
    choices,
    usage: geminiUsage(r.usageMetadata),
  };
}

/**
 * Gemini stream chunks (each a whole GenerateContentResponse) in, OpenAI chunks out. Emits a role chunk first, a
 * content chunk per text part, a complete tool_calls chunk per functionCall (Gemini never splits one), a finish chunk
 * per candidate when its finishReason arrives, and, from `end()`, a usage chunk built from the last usageMetadata
 * (Gemini repeats the running totals). The stream has no terminator: `end()` throws `stream_broken` unless every
 * candidate finished.
 */
export class GeminiStreamTranslator {
  private id = '';
  private model: string;
  private started = false;
  private usage: GeminiUsage | undefined;
  /** Per candidate index: tool calls so far, and whether it finished. */
  private candidates = new Map<number, { tools: number; finished: boolean }>();
  private blocked = false;

  constructor(
    private readonly provider: string,
    requestedModel: string,
    private readonly created = Math.floor(Date.now() / 1000),
    private readonly newId: IdMaker = randomCallId,
  ) {
    this.model = requestedModel;
  }

  onChunk(data: unknown): ChatCompletionChunk[] {
    const err = (data as { error?: unknown } | null)?.error;
    if (err) throw geminiStreamError(this.provider, err);
    // A chunk may carry only the running usage; anything else without candidates is not Gemini talking.
    const usageOnly =
      typeof data === 'object' &&
      data !== null &&
      typeof (data as GeminiResponse).usageMetadata === 'object' &&
      (data as GeminiResponse).candidates === undefined;
    if (!usageOnly && !isGeminiResponse(data))
      throw new ProviderError('bad_response', `provider "${this.provider}": stream chunk has no candidates`);
    const r = data as GeminiResponse;
    if (r.usageMetadata) this.usage = r.usageMetadata;
    if (r.modelVersion) this.model = r.modelVersion;
    if (usageOnly && !r.promptFeedback) return [];
    const out: ChatCompletionChunk[] = [];
    if (!this.started) {
      this.started = true;
      this.id = r.responseId ? `chatcmpl-${r.responseId}` : `chatcmpl-gemini-${randomCallId().slice(5)}`;
      out.push(this.chunk(0, { role: 'assistant', content: '' }, null));
    }
    const cands = r.candidates ?? [];
    if (cands.length === 0 && r.promptFeedback?.blockReason) {
      this.blocked = true;
      out.push(this.chunk(0, {}, 'content_filter'));
      return out;
    }
    for (const [i, c] of cands.entries()) {
      const index = typeof c.index === 'number' ? c.index : i;
      let state = this.candidates.get(index);
      if (!state) {
        state = { tools: 0, finished: false };
        this.candidates.set(index, state);
        if (index !== 0) out.push(this.chunk(index, { role: 'assistant', content: '' }, null));
      }
      const t = translateCandidate(c, i, this.newId);
      if (t.reasoning !== '') out.push(this.chunk(index, { reasoning_content: t.reasoning }, null));
      if (t.text !== '') out.push(this.chunk(index, { content: t.text }, null));
      if (t.toolCalls.length > 0) {
        const calls = t.toolCalls.map((tc) => ({ index: state.tools++, ...tc }));
        out.push(this.chunk(index, { tool_calls: calls }, null));
      }
      if (c.finishReason !== undefined && c.finishReason !== 'FINISH_REASON_UNSPECIFIED') {
        state.finished = true;
        out.push(this.chunk(index, {}, geminiFinishReason(c.finishReason, state.tools > 0) ?? 'stop'));
      }
    }
    return out;
  }

  /** The end of the SSE body: the usage chunk, or `stream_broken` when an answer was cut short. */
  end(): ChatCompletionChunk[] {
    const finished =
      this.blocked || (this.candidates.size > 0 && [...this.candidates.values()].every((c) => c.finished));
    if (!finished)
      throw new ProviderError(
        'stream_broken',
        `provider "${this.provider}": stream ended before a finishReason`,
      );
    return [{ ...this.chunk(0, {}, null), choices: [], usage: geminiUsage(this.usage) }];
  }

  private chunk(
    index: number,
    delta: ChatCompletionChunk['choices'][number]['delta'],
    finish: string | null,
  ): ChatCompletionChunk {
    return {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices: [{ index, delta, finish_reason: finish, logprobs: null }],
    };
  }
}

function geminiStreamError(provider: string, err: unknown): ProviderError {
  const info = geminiError({ error: err });
  const reason = reasonForGeminiStatus(info.status, info.reasons) ?? 'server_error';
  const what = info.status ? ` (${info.status})` : '';
  return new ProviderError(reason, `provider "${provider}" sent an error in the stream${what}`, {
    ...(info.retryDelay !== undefined ? { retryAfter: info.retryDelay } : {}),
    overloaded: overloadedFailure(info.status !== undefined ? { geminiStatus: info.status } : {}),
  });
}
