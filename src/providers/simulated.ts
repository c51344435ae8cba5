/**
 * The `simulated` provider: no network, deterministic latency and clearly labelled answers, realistic token counts.
 * It lets the demo and the benchmarks run on a machine without API keys; every answer says it is simulated.
 */
import { createHash } from 'node:crypto';
import type { EmbeddingsResponse } from '../api/embeddings.js';
import type { Provider } from '../api/modelroute.js';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from '../api/openai.js';
import {
  embeddingInputs,
  embeddingsResponse,
  estimateEmbeddingTokens,
  simulatedEmbedding,
} from './embeddings.js';
import { type SimChoice, type SimSettings, simulate } from './simulated-answer.js';
import { type EmbedCall, type ProviderAdapter, ProviderError, type UpstreamCall } from './types.js';

export {
  estimateTokens,
  promptTokens,
  sampleForSchema,
  simulatedReply,
  tokenPieces,
} from './simulated-answer.js';

function idFor(body: ChatCompletionRequest, model: string): string {
  return `chatcmpl-sim-${createHash('sha256').update(model).update(JSON.stringify(body.messages)).digest('hex').slice(0, 24)}`;
}

function toolCallsOf(c: SimChoice) {
  return c.toolCalls.map((t) => ({
    id: t.id,
    type: 'function' as const,
    function: { name: t.name, arguments: t.arguments },
  }));
}

export function createSimulatedAdapter(p: Provider): ProviderAdapter {
  const settings: SimSettings = {
    latencyMs: p.simulated?.latencyMs ?? 40,
    tokensPerSecond: p.simulated?.tokensPerSecond ?? 200,
    reply: p.simulated?.reply,
  };

  return {
    name: p.name,
    type: 'simulated',
    async embed(call: EmbedCall): Promise<EmbeddingsResponse> {
      await delay(settings.latencyMs, call.signal, p.name);
      const vectors = embeddingInputs(call.body).map((i) => simulatedEmbedding(i, call.body.dimensions));
      return embeddingsResponse(call.body, call.body.model, vectors, estimateEmbeddingTokens(call.body));
    },
    async complete(call: UpstreamCall): Promise<ChatCompletion> {
      const { choices, usage } = simulate(call.body, settings);
      await delay(settings.latencyMs, call.signal, p.name);
      return {
        id: idFor(call.body, call.body.model),
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: call.body.model,
        choices: choices.map((c) => ({
          index: c.index,
          message: {
            role: 'assistant',
            content: c.content,
            ...(c.toolCalls.length > 0 ? { tool_calls: toolCallsOf(c) } : {}),
            refusal: null,
          },
          finish_reason: c.finish,
          logprobs: c.logprobs ? { content: c.logprobs, refusal: null } : null,
        })),
        usage,
        system_fingerprint: 'tiermesh-simulated',
      };
    },
    async *stream(call: UpstreamCall): AsyncGenerator<ChatCompletionChunk> {
      const { choices, usage } = simulate(call.body, settings);
      const id = idFor(call.body, call.body.model);
      const created = Math.floor(Date.now() / 1000);
      const chunk = (
        index: number,
        delta: ChatCompletionChunk['choices'][number]['delta'],
        f: string | null,
        logprobs: unknown = null,
      ): ChatCompletionChunk => ({
        id,
        object: 'chat.completion.chunk',
        created,
        model: call.body.model,
        choices: [{ index, delta, finish_reason: f, logprobs }],
      });
      // Time to first token is the configured latency; after it, tokens flow at tokensPerSecond.
      await delay(settings.latencyMs, call.signal, p.name);
      for (const c of choices)
        yield chunk(c.index, { role: 'assistant', content: c.content === null ? null : '' }, null);
      // Emitted in batches every ~20ms rather than one timer per token: same pace, far fewer timers at high rates.
      const perBatch = Math.max(1, Math.round(settings.tokensPerSecond / 50));
      for (const c of choices) {
        for (const [k, t] of toolCallsOf(c).entries()) {
          // Like OpenAI: the id and name first, then the arguments in fragments.
          yield chunk(
            c.index,
            { tool_calls: [{ index: k, ...t, function: { name: t.function.name, arguments: '' } }] },
            null,
          );
          const args = t.function.arguments;
          const cut = Math.ceil(args.length / 2);
          for (const part of [args.slice(0, cut), args.slice(cut)]) {
            await delay(1000 / settings.tokensPerSecond, call.signal, p.name);
            yield chunk(c.index, { tool_calls: [{ index: k, function: { arguments: part } }] }, null);
          }
        }
        for (let i = 0; i < c.pieces.length; i += perBatch) {
          const batch = c.pieces.slice(i, i + perBatch);
          await delay((batch.length * 1000) / settings.tokensPerSecond, call.signal, p.name);
          const lp = c.logprobs ? { content: c.logprobs.slice(i, i + perBatch), refusal: null } : null;
          yield chunk(c.index, { content: batch.join('') }, null, lp);
        }
        yield chunk(c.index, {}, c.finish);
      }
      yield { ...chunk(0, {}, null), choices: [], usage };
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
