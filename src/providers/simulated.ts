/**
 * The `simulated` provider: no network, deterministic latency and clearly labelled answers, realistic token counts.
 * It lets the demo and the benchmarks run on a machine without API keys; every answer says it is simulated.
 */
import { createHash } from 'node:crypto';
import type { Provider } from '../api/modelroute.js';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Usage } from '../api/openai.js';
import { messageText } from './anthropic-translate.js';
import { type ProviderAdapter, ProviderError, type UpstreamCall } from './types.js';

interface SimSettings {
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

/** A minimal value that satisfies a JSON schema's types and required properties. */
export function sampleForSchema(schema: unknown, depth = 0): unknown {
  // biome-ignore lint/suspicious/noExplicitAny: an arbitrary JSON schema; every field used is checked first
  const s = (schema ?? {}) as Record<string, any>;
  if (depth > 8) return null;
  if (Array.isArray(s['enum']) && s['enum'].length > 0) return s['enum'][0];
  if ('const' in s) return s['const'];
  const type = Array.isArray(s['type']) ? s['type'][0] : s['type'];
  switch (type) {
    case 'string':
      return 'simulated';
    case 'integer':
    case 'number':
      return typeof s['minimum'] === 'number' ? s['minimum'] : 0;
    case 'boolean':
      return false;
    case 'null':
      return null;
    case 'array':
      return typeof s['minItems'] === 'number' && s['minItems'] > 0
        ? Array.from({ length: s['minItems'] }, () => sampleForSchema(s['items'], depth + 1))
        : [];
    default: {
      const props = (s['properties'] ?? {}) as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(props)) out[k] = sampleForSchema(v, depth + 1);
      return out;
    }
  }
}

/** The reply text: valid JSON when the request asks for JSON, else the configured reply or a labelled summary. */
export function simulatedReply(body: ChatCompletionRequest, settings: SimSettings, model: string): string {
  const rf = body.response_format;
  if (rf?.type === 'json_schema') {
    const sample = sampleForSchema(rf.json_schema.schema);
    return JSON.stringify(sample);
  }
  if (rf?.type === 'json_object')
    return JSON.stringify({ simulated: true, model, answer: 'This is a simulated answer.' });
  if (settings.reply !== undefined) return settings.reply;
  const lastUser = [...body.messages].reverse().find((m) => m.role === 'user');
  const words = lastUser ? messageText(lastUser).split(/\s+/).filter(Boolean).length : 0;
  return (
    `[simulated ${model}] This answer comes from the tiermesh simulated provider; no real model was called. ` +
    `Your last message had ${words} word${words === 1 ? '' : 's'} in ${body.messages.length} message${body.messages.length === 1 ? '' : 's'}.`
  );
}

/** The reply cut into stream pieces of about one token each (a word with its leading space). */
export function tokenPieces(text: string): string[] {
  return text.match(/\s*\S+|\s+$/g) ?? (text ? [text] : []);
}

function idFor(body: ChatCompletionRequest, model: string): string {
  return `chatcmpl-sim-${createHash('sha256').update(model).update(JSON.stringify(body.messages)).digest('hex').slice(0, 24)}`;
}

export function createSimulatedAdapter(p: Provider): ProviderAdapter {
  const settings: SimSettings = {
    latencyMs: p.simulated?.latencyMs ?? 40,
    tokensPerSecond: p.simulated?.tokensPerSecond ?? 200,
    reply: p.simulated?.reply,
  };

  /** The whole answer, cut to max_tokens the way a real model stops: finish_reason "length". */
  function answer(body: ChatCompletionRequest): { pieces: string[]; usage: Usage; finish: string } {
    let pieces = tokenPieces(simulatedReply(body, settings, body.model));
    const max = body.max_completion_tokens ?? body.max_tokens ?? undefined;
    let finish = 'stop';
    let completion = estimateTokens(pieces.join(''));
    if (max !== undefined && completion > max) {
      // Never cut JSON: a truncated JSON answer is what the cascade's json check exists to catch, not to cause.
      if (!body.response_format || body.response_format.type === 'text') {
        const kept: string[] = [];
        for (const piece of pieces) {
          if (estimateTokens(kept.join('') + piece) > max) break;
          kept.push(piece);
        }
        pieces = kept;
        completion = estimateTokens(pieces.join(''));
        finish = 'length';
      }
    }
    const prompt = promptTokens(body);
    return {
      pieces,
      usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
      finish,
    };
  }

  return {
    name: p.name,
    type: 'simulated',
    async complete(call: UpstreamCall): Promise<ChatCompletion> {
      const { pieces, usage, finish } = answer(call.body);
      await delay(settings.latencyMs, call.signal, p.name);
      return {
        id: idFor(call.body, call.body.model),
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: call.body.model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: pieces.join(''), refusal: null },
            finish_reason: finish,
            logprobs: null,
          },
        ],
        usage,
        system_fingerprint: 'tiermesh-simulated',
      };
    },
    async *stream(call: UpstreamCall): AsyncGenerator<ChatCompletionChunk> {
      const { pieces, usage, finish } = answer(call.body);
      const id = idFor(call.body, call.body.model);
      const created = Math.floor(Date.now() / 1000);
      const chunk = (
        delta: ChatCompletionChunk['choices'][number]['delta'],
        f: string | null,
      ): ChatCompletionChunk => ({
        id,
        object: 'chat.completion.chunk',
        created,
        model: call.body.model,
        choices: [{ index: 0, delta, finish_reason: f, logprobs: null }],
      });
      // Time to first token is the configured latency; after it, tokens flow at tokensPerSecond.
      await delay(settings.latencyMs, call.signal, p.name);
      yield chunk({ role: 'assistant', content: '' }, null);
      // Emitted in batches every ~20ms rather than one timer per token: same pace, far fewer timers at high rates.
      const perBatch = Math.max(1, Math.round(settings.tokensPerSecond / 50));
      for (let i = 0; i < pieces.length; i += perBatch) {
        const batch = pieces.slice(i, i + perBatch);
        await delay((batch.length * 1000) / settings.tokensPerSecond, call.signal, p.name);
        yield chunk({ content: batch.join('') }, null);
      }
      yield chunk({}, finish);
      yield { ...chunk({}, null), choices: [], usage };
    },
  };
}

function delay(ms: number, signal: AbortSignal, provider: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = () => {
      clearTimeout(timer);
      const r: unknown = signal.reason;
      reject(
        r instanceof ProviderError
          ? r
          : new ProviderError('connection', `provider "${provider}": request aborted`),
      );
    };
    if (signal.aborted) return fail();
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', fail);
      resolve();
    }, ms);
    signal.addEventListener('abort', fail, { once: true });
  });
}
