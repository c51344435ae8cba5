/**
 * What the `simulated` provider answers, as a pure function of the request: labelled text, schema-shaped JSON, tool
 * calls when a tool is required (or plainly asked for), `n` choices, `stop` sequences, `max_tokens` and `logprobs`,
 * so clients' structured-output and tool-calling paths work on a machine without API keys.
 */
import { createHash } from 'node:crypto';
import type { ChatCompletionRequest, Usage } from '../api/openai.js';
import { messageText } from './anthropic-translate.js';
import { ProviderError } from './types.js';

export interface SimSettings {
  latencyMs: number;
  tokensPerSecond: number;
  reply?: string | undefined;
}

/** About four characters per token, the usual rule of thumb for English with BPE tokenizers. */
export function estimateTokens(text: string): number {
  return text === '' ? 0 : Math.max(1, Math.ceil(text.length / 4));
}

/** Prompt tokens as OpenAI counts them: content plus a few tokens of framing per message and per reply. */
export function promptTokens(body: ChatCompletionRequest): number {
  return body.messages.reduce((n, m) => n + 4 + estimateTokens(messageText(m)), 3);
}

/** The reply cut into stream pieces of about one token each (a word with its leading space). */
export function tokenPieces(text: string): string[] {
  return text.match(/\s*\S+|\s+$/g) ?? (text ? [text] : []);
}

type Schema = Record<string, unknown>;

const STRING_FORMATS: Record<string, string> = {
  'date-time': '2025-01-01T00:00:00Z',
  date: '2025-01-01',
  time: '00:00:00',
  email: 'simulated@example.com',
  uri: 'https://example.com/simulated',
  url: 'https://example.com/simulated',
  uuid: '00000000-0000-4000-8000-000000000000',
  hostname: 'example.com',
  ipv4: '192.0.2.1',
};

/** Follows a local `$ref` (`#/$defs/X`, `#/definitions/X`) against the root schema. */
function deref(s: Schema, root: Schema): Schema {
  const ref = s['$ref'];
  if (typeof ref !== 'string' || !ref.startsWith('#')) return s;
  let node: unknown = root;
  for (const seg of ref.slice(1).split('/').filter(Boolean))
    node = (node as Record<string, unknown> | undefined)?.[seg.replace(/~1/g, '/').replace(/~0/g, '~')];
  return typeof node === 'object' && node !== null ? (node as Schema) : {};
}

function sampleNumber(s: Schema, integer: boolean): number {
  const min = typeof s['minimum'] === 'number' ? s['minimum'] : undefined;
  const xmin = typeof s['exclusiveMinimum'] === 'number' ? s['exclusiveMinimum'] : undefined;
  const max = typeof s['maximum'] === 'number' ? s['maximum'] : undefined;
  const xmax = typeof s['exclusiveMaximum'] === 'number' ? s['exclusiveMaximum'] : undefined;
  let v = 0;
  if (min !== undefined) v = min;
  else if (xmin !== undefined) v = integer ? Math.floor(xmin) + 1 : xmin + 1;
  else if (max !== undefined && max < 0) v = max;
  else if (xmax !== undefined && xmax <= 0) v = integer ? Math.ceil(xmax) - 1 : xmax - 1;
  if (integer) v = Math.ceil(v);
  const step = s['multipleOf'];
  if (typeof step === 'number' && step > 0) v = Math.ceil(v / step) * step;
  return v;
}

function sampleString(s: Schema, hint: string | undefined): string {
  const format = typeof s['format'] === 'string' ? STRING_FORMATS[s['format']] : undefined;
  let v = format ?? hint ?? 'simulated';
  const min = typeof s['minLength'] === 'number' ? s['minLength'] : 0;
  const max = typeof s['maxLength'] === 'number' ? s['maxLength'] : undefined;
  if (v.length < min) v = v.padEnd(min, 'x');
  if (max !== undefined && v.length > max) v = v.slice(0, max);
  return v;
}

/** Property names whose value a model would take from the question itself (a search query, say). */
const QUERY_LIKE = /^(q|query|search|search_?query|question|prompt|text|input)$/i;

/**
 * A value valid against a JSON schema: `const`, `enum`, local `$ref`s, `anyOf`/`oneOf` (first non-null branch),
 * `allOf` (merged), type unions, string formats and lengths, number bounds and `multipleOf`, `minItems`,
 * `prefixItems`, and every property (required or not). `hint` fills query-like string properties.
 */
export function sampleForSchema(schema: unknown, depth = 0, root?: unknown, hint?: string): unknown {
  const top = (root ?? schema ?? {}) as Schema;
  const s = deref((schema ?? {}) as Schema, top);
  if (depth > 12) return null;
  if ('const' in s) return s['const'];
  if (Array.isArray(s['enum']) && s['enum'].length > 0) return s['enum'][0];
  for (const key of ['anyOf', 'oneOf'] as const) {
    const branches = s[key];
    if (Array.isArray(branches) && branches.length > 0) {
      const pick =
        branches.find((b) => (deref(b as Schema, top) as Schema)['type'] !== 'null') ?? branches[0];
      return sampleForSchema(pick, depth + 1, top, hint);
    }
  }
  if (Array.isArray(s['allOf']) && s['allOf'].length > 0) {
    const merged: Schema = {};
    for (const part of s['allOf'] as unknown[]) {
      const p = deref(part as Schema, top);
      Object.assign(merged, p, {
        properties: { ...((merged['properties'] as Schema) ?? {}), ...((p['properties'] as Schema) ?? {}) },
      });
    }
    return sampleForSchema(merged, depth + 1, top, hint);
  }
  const types = Array.isArray(s['type']) ? (s['type'] as unknown[]) : [s['type']];
  const type = types.find((t) => t !== 'null') ?? types[0];
  switch (type) {
    case 'string':
      return sampleString(s, hint);
    case 'integer':
      return sampleNumber(s, true);
    case 'number':
      return sampleNumber(s, false);
    case 'boolean':
      return false;
    case 'null':
      return null;
    case 'array': {
      const prefix = Array.isArray(s['prefixItems']) ? (s['prefixItems'] as unknown[]) : [];
      const min = typeof s['minItems'] === 'number' ? s['minItems'] : 0;
      return Array.from({ length: Math.max(min, prefix.length) }, (_, i) =>
        sampleForSchema(prefix[i] ?? s['items'], depth + 1, top),
      );
    }
    default: {
      const props = (s['properties'] ?? {}) as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(props))
        out[k] = sampleForSchema(v, depth + 1, top, QUERY_LIKE.test(k) ? hint : undefined);
      return out;
    }
  }
}

export interface SimToolCall {
  id: string;
  name: string;
  arguments: string;
}

export interface SimLogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: Array<{ token: string; logprob: number; bytes: number[] }>;
}

export interface SimChoice {
  index: number;
  /** Null when the answer is only a tool call, as OpenAI sends it. */
  content: string | null;
  /** The content as stream pieces (about a token each). */
  pieces: string[];
  toolCalls: SimToolCall[];
  finish: 'stop' | 'length' | 'tool_calls';
  /** One entry per piece, when the request asked for logprobs. */
  logprobs: SimLogprob[] | undefined;
}

export interface SimAnswer {
  choices: SimChoice[];
  usage: Usage;
}

/** A request the caller got wrong in a way any upstream would reject: not retryable, answered as a 400. */
function invalid(message: string): ProviderError {
  return new ProviderError('client_error', message, { status: 400 });
}

interface FunctionTool {
  name: string;
  description: string;
  parameters: unknown;
}

function functionTools(tools: unknown): FunctionTool[] {
  if (!Array.isArray(tools)) return [];
  return tools.flatMap((t) => {
    const f = (
      t as { type?: unknown; function?: { name?: unknown; description?: unknown; parameters?: unknown } }
    )?.function;
    if ((t as { type?: unknown })?.type !== 'function' || typeof f?.name !== 'string') return [];
    return [
      {
        name: f.name,
        description: typeof f.description === 'string' ? f.description : '',
        parameters: f.parameters,
      },
    ];
  });
}

/** Words in a tool's name ("get_current_weather", "searchDocs") that say what it is for. */
const GENERIC = new Set([
  'get',
  'set',
  'fetch',
  'the',
  'for',
  'and',
  'tool',
  'function',
  'call',
  'api',
  'run',
  'do',
]);
function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length >= 3 && !GENERIC.has(w));
}

/** The tool whose name the question mentions most (a word or its stem), or undefined when it mentions none. */
export function mentionedTool(tools: FunctionTool[], question: string): FunctionTool | undefined {
  const words = new Set(
    question
      .toLowerCase()
      .split(/[^a-z0-9]+/)
      .filter(Boolean),
  );
  let best: FunctionTool | undefined;
  let bestScore = 0;
  for (const t of tools) {
    const score = nameWords(t.name).filter(
      (w) => words.has(w) || words.has(`${w}s`) || (w.endsWith('s') && words.has(w.slice(0, -1))),
    ).length;
    if (score > bestScore) {
      best = t;
      bestScore = score;
    }
  }
  return best;
}

/**
 * Which tool the simulated model calls, if any. A forced choice (`required`, or a named function) always calls;
 * `auto` calls when the latest turn is the user's and it mentions a tool by name, and answers in text once the
 * conversation has tool results to talk about; `none` never calls.
 */
export function toolToCall(body: ChatCompletionRequest): FunctionTool | undefined {
  const tools = functionTools(body['tools']);
  const choice = body['tool_choice'];
  if (tools.length === 0) {
    if (choice != null && choice !== 'none' && choice !== 'auto') throw invalid('tool_choice requires tools');
    return undefined;
  }
  if (choice === 'none') return undefined;
  const last = [...body.messages].reverse().find((m) => m.role !== 'system' && m.role !== 'developer');
  const question = last?.role === 'user' ? messageText(last) : '';
  if (choice === 'required') return mentionedTool(tools, question) ?? tools[0];
  if (choice != null && choice !== 'auto') {
    const name = (choice as { function?: { name?: unknown } }).function?.name;
    const named = tools.find((t) => t.name === name);
    if (!named) throw invalid(`tool_choice names function ${JSON.stringify(name)}, which is not in tools`);
    return named;
  }
  return last?.role === 'user' ? mentionedTool(tools, question) : undefined;
}

function lastUserText(body: ChatCompletionRequest): string {
  const lastUser = [...body.messages].reverse().find((m) => m.role === 'user');
  return lastUser ? messageText(lastUser) : '';
}

/** The reply text: valid JSON when the request asks for JSON, else the configured reply or a labelled summary. */
export function simulatedReply(body: ChatCompletionRequest, settings: SimSettings, model: string): string {
  const rf = body.response_format;
  if (rf?.type === 'json_schema') return JSON.stringify(sampleForSchema(rf.json_schema.schema));
  if (rf?.type === 'json_object')
    return JSON.stringify({ simulated: true, model, answer: 'This is a simulated answer.' });
  if (settings.reply !== undefined) return settings.reply;
  const last = [...body.messages].reverse().find((m) => m.role !== 'system' && m.role !== 'developer');
  if (last?.role === 'tool') {
    const result = messageText(last).replace(/\s+/g, ' ').trim();
    return `[simulated ${model}] The tool returned: ${result.length > 200 ? `${result.slice(0, 200)}…` : result}`;
  }
  const words = lastUserText(body).split(/\s+/).filter(Boolean).length;
  return (
    `[simulated ${model}] This answer comes from the tiermesh simulated provider; no real model was called. ` +
    `Your last message had ${words} word${words === 1 ? '' : 's'} in ${body.messages.length} message${body.messages.length === 1 ? '' : 's'}.`
  );
}

/** Text up to (not including) the earliest stop sequence, and whether one was found. */
export function cutAtStop(
  text: string,
  stop: ChatCompletionRequest['stop'],
): { text: string; stopped: boolean } {
  const stops = (typeof stop === 'string' ? [stop] : (stop ?? [])).filter((s) => s !== '');
  let at = -1;
  for (const s of stops) {
    const i = text.indexOf(s);
    if (i >= 0 && (at < 0 || i < at)) at = i;
  }
  return at < 0 ? { text, stopped: false } : { text: text.slice(0, at), stopped: true };
}

/** Deterministic, plausible log probabilities: the chosen token first among `top` alternatives. */
export function logprobsFor(pieces: string[], top: number, seed: string): SimLogprob[] {
  return pieces.map((token, i) => {
    const h = createHash('sha256').update(seed).update(String(i)).digest();
    const logprob = -((h[0] ?? 0) / 255) * 0.5;
    const bytes = [...Buffer.from(token, 'utf8')];
    const alts = [token, token.toUpperCase(), ` ${token.trim()}s`, `${token}.`, token.trim()]
      .filter((t, k, all) => all.indexOf(t) === k)
      .slice(0, top)
      .map((t, k) => ({
        token: t,
        logprob: k === 0 ? logprob : logprob - 1.5 * k,
        bytes: [...Buffer.from(t, 'utf8')],
      }));
    return { token, logprob, bytes, top_logprobs: alts };
  });
}

function callId(body: ChatCompletionRequest, index: number): string {
  return `call_sim${createHash('sha256').update(JSON.stringify(body.messages)).update(String(index)).digest('hex').slice(0, 20)}`;
}

/** The whole simulated answer; throws a `client_error` ProviderError for requests OpenAI would refuse. */
export function simulate(body: ChatCompletionRequest, settings: SimSettings): SimAnswer {
  const n = body['n'] ?? 1;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 128)
    throw invalid('n must be an integer from 1 to 128');
  const wantLogprobs = body['logprobs'] === true;
  const top = body['top_logprobs'] ?? 0;
  if (
    top !== 0 &&
    (!wantLogprobs || typeof top !== 'number' || !Number.isInteger(top) || top < 0 || top > 20)
  )
    throw invalid('top_logprobs must be an integer from 0 to 20, and needs logprobs: true');
  const tool = toolToCall(body);
  const json = body.response_format != null && body.response_format.type !== 'text';
  const max = body.max_completion_tokens ?? body.max_tokens ?? undefined;
  const choices: SimChoice[] = [];
  let completion = 0;
  for (let index = 0; index < n; index++) {
    if (tool) {
      const args = JSON.stringify(sampleForSchema(tool.parameters, 0, undefined, lastUserText(body)));
      completion += estimateTokens(tool.name) + estimateTokens(args);
      choices.push({
        index,
        content: null,
        pieces: [],
        toolCalls: [{ id: callId(body, index), name: tool.name, arguments: args }],
        finish: 'tool_calls',
        logprobs: wantLogprobs ? [] : undefined,
      });
      continue;
    }
    let text = simulatedReply(body, settings, body.model);
    if (n > 1 && !json) text += ` (choice ${index + 1} of ${n})`;
    let finish: SimChoice['finish'] = 'stop';
    // Never cut JSON: a truncated JSON answer is what the cascade's json check exists to catch, not to cause.
    if (!json) text = cutAtStop(text, body.stop).text;
    let pieces = tokenPieces(text);
    if (max !== undefined && !json && estimateTokens(text) > max) {
      const kept: string[] = [];
      for (const piece of pieces) {
        if (estimateTokens(kept.join('') + piece) > max) break;
        kept.push(piece);
      }
      pieces = kept;
      finish = 'length';
    }
    const content = pieces.join('');
    completion += estimateTokens(content);
    choices.push({
      index,
      content,
      pieces,
      toolCalls: [],
      finish,
      logprobs: wantLogprobs ? logprobsFor(pieces, top, `${body.model}:${index}:${content}`) : undefined,
    });
  }
  const prompt = promptTokens(body);
  return {
    choices,
    usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
  };
}
