/**
 * Adapter for OpenAI and every OpenAI-compatible server (vLLM, Ollama, Groq, Together): same wire format, own URL.
 * The wire handling is shared with Azure OpenAI, which differs only in its URL and credentials.
 */
import type { EmbeddingsResponse } from '../api/embeddings.js';
import type { Provider } from '../api/modelroute.js';
import type { ChatCompletion, ChatCompletionChunk } from '../api/openai.js';
import { thinkingStyle } from '../routing/capabilities.js';
import { withoutCacheControl } from './cache-control.js';
import { parsedChatAnswer } from './chat-answer-text.js';
import { FirstOutput } from './first-output.js';
import { postUpstream, postUpstreamJson, readSse, type UpstreamRequest } from './http.js';
import type { KeyResolution } from './keys.js';
import { forOpenAIWire } from './thinking.js';
import { type EmbedCall, type ProviderAdapter, ProviderError, type UpstreamCall } from './types.js';
import { openAIStreamFailure, upstreamText } from './upstream-errors.js';

export const OPENAI_BASE_URL = 'https://api.openai.com/v1';

export function createOpenAIAdapter(p: Provider, key: () => KeyResolution): ProviderAdapter {
  return createOpenAIWireAdapter(openAIWire(p, key, 'chat/completions'));
}

/** OpenAI's (or an OpenAI-compatible server's) wire for one endpoint under its base URL: `chat/completions`, `responses`. */
export function openAIWire(p: Provider, key: () => KeyResolution, endpoint: string): OpenAIWire {
  const base = (p.baseURL ?? OPENAI_BASE_URL).replace(/\/+$/, '');
  const url = `${base}/${endpoint}`;
  const name = p.name;
  const missing = (): string | undefined => {
    // openai-compatible servers (a local vLLM, Ollama) often need no key at all.
    if (!p.apiKey) return undefined;
    const k = key();
    return k.ok ? undefined : `provider "${name}" has no API key: ${k.why}`;
  };
  return {
    name,
    type: p.type,
    url: () => url,
    embeddingsUrl: () => `${base}/embeddings`,
    unavailable: missing,
    auth() {
      const headers: Record<string, string> = { ...(p.headers ?? {}) };
      if (!p.apiKey) return { headers, secret: undefined };
      const k = key();
      if (!k.ok) throw new ProviderError('unavailable', `provider "${name}" has no API key: ${k.why}`);
      headers['authorization'] = `Bearer ${k.key}`;
      return { headers, secret: k.key };
    },
  };
}

function upstreamRequest(
  provider: string,
  url: string,
  body: unknown,
  cred: ReturnType<OpenAIWire['auth']>,
): UpstreamRequest {
  return { provider, vendor: 'openai', url, headers: cred.headers, body, secrets: [cred.secret] };
}

/**
 * The request as this wire takes it: without prompt-cache breakpoints (the Anthropic wire's, cache-control.ts; OpenAI
 * caches prefixes by itself) and without Anthropic's thinking, whose budget becomes `reasoning_effort` for a model
 * that takes one (thinking.ts; routing/capabilities.ts says which).
 */
export function wireBody(type: Provider['type'], request: UpstreamCall['body']): UpstreamCall['body'] {
  return forOpenAIWire(withoutCacheControl(request), () => thinkingStyle(type, request.model) === 'effort');
}

/** A chat request as a whole-answer (non-streaming) call: no `stream_options`, `stream: false`. */
function jsonBody(type: Provider['type'], request: UpstreamCall['body']): UpstreamCall['body'] {
  const body = wireBody(type, request);
  // Mostly there is nothing to drop, and a spread is far cheaper than a rest destructuring. Destructured rather than
  // `delete`d when there is: deleting a key turns the object into a slow dictionary for stringify.
  if (body.stream_options === undefined) return { ...body, stream: false };
  const { stream_options: _, ...rest } = body;
  return { ...rest, stream: false };
}

/** What differs between servers speaking the OpenAI chat-completions wire format: where to POST and how to sign. */
export interface OpenAIWire {
  name: string;
  type: Provider['type'];
  /** The endpoint for one upstream model (Azure puts the deployment in the path). */
  url(model: string): string;
  /** The embeddings endpoint for one upstream model, when the server has one. */
  embeddingsUrl?(model: string): string;
  /** Headers for one call; throws `unavailable` when a configured credential cannot be resolved. */
  auth(): { headers: Record<string, string>; secret: string | undefined };
  unavailable(): string | undefined;
  /**
   * Called when the upstream refused the credential (401/403). Returning true means a fresh credential was found
   * and the call is worth one immediate retry.
   */
  refreshAuth?(usedSecret: string | undefined): boolean;
}

/** A whole chat answer: parsed with its own text kept (chat-answer-text.ts), for the respond stage to pass on. */
const postChatJson = (req: UpstreamRequest, call: Omit<UpstreamCall, 'body'>) =>
  postUpstreamJson(req, call, undefined, parsedChatAnswer);

/**
 * Sends one call on an OpenAI wire, retrying once with a refreshed credential when the upstream refused a stale one.
 * `used` learns the secret of the try that answered (to redact it from the upstream's words). Not async: the common
 * call stays one promise deep, which is the hot path's JSON call.
 */
export function authedCall<T>(
  w: OpenAIWire,
  call: Omit<UpstreamCall, 'body'>,
  url: string,
  body: unknown,
  send: (req: UpstreamRequest, call: Omit<UpstreamCall, 'body'>) => Promise<T>,
  used?: { secret?: string | undefined },
): Promise<T> {
  const first = w.auth();
  if (used) used.secret = first.secret;
  return send(upstreamRequest(w.name, url, body, first), call).catch((err: unknown) => {
    if (!(err instanceof ProviderError) || err.reason !== 'auth' || !w.refreshAuth?.(first.secret)) throw err;
    const fresh = w.auth();
    if (used) used.secret = fresh.secret;
    return send(upstreamRequest(w.name, url, body, fresh), call);
  });
}

/**
 * Some gateways answer 200 with an error body (`{"error": {...}}`): the upstream failing, in its own words (redacted
 * of `secret`). Undefined for any other answer.
 */
export function errorAt200(
  provider: string,
  json: unknown,
  secret: string | undefined,
): ProviderError | undefined {
  const err = (json as { error?: { message?: unknown } } | null)?.error;
  if (!err || typeof err !== 'object') return undefined;
  const msg = typeof err.message === 'string' ? `: ${upstreamText(err.message, [secret])}` : '';
  return new ProviderError('server_error', `provider "${provider}" answered 200 with an error${msg}`);
}

export function createOpenAIWireAdapter(w: OpenAIWire): ProviderAdapter {
  const { name } = w;

  const authed = <T>(
    call: Omit<UpstreamCall, 'body'>,
    url: string,
    body: unknown,
    send: (req: UpstreamRequest, call: Omit<UpstreamCall, 'body'>) => Promise<T>,
    used?: { secret?: string | undefined },
  ) => authedCall(w, call, url, body, send, used);
  return {
    name,
    type: w.type,
    unavailable: () => w.unavailable(),
    ...(w.embeddingsUrl
      ? {
          /** POST /embeddings on the same wire; the answer is checked to hold a vector per item. */
          async embed(call: EmbedCall): Promise<EmbeddingsResponse> {
            const url = w.embeddingsUrl!(call.body.model);
            const value = await authed(call, url, call.body, postUpstreamJson);
            const json = value as Partial<EmbeddingsResponse> | null;
            if (!json || !Array.isArray(json.data) || json.data.some((d) => d?.embedding === undefined))
              throw new ProviderError('bad_response', `provider "${name}": answer is not an embeddings list`);
            return json as EmbeddingsResponse;
          },
        }
      : {}),
    async complete(call: UpstreamCall): Promise<ChatCompletion> {
      // The whole answer in one read (postUpstreamJson), without a response stream: the hot path of the sidecar.
      const used: { secret?: string | undefined } = {};
      const json = await authed(
        call,
        w.url(call.body.model),
        jsonBody(w.type, call.body),
        postChatJson,
        used,
      );
      const at200 = errorAt200(name, json, used.secret);
      if (at200) throw at200;
      if (!isCompletion(json))
        throw new ProviderError('bad_response', `provider "${name}": answer is not a chat.completion`);
      return json;
    },
    async *stream(call: UpstreamCall): AsyncGenerator<ChatCompletionChunk> {
      // Usage is always requested: budgets need it even when the client did not ask; the server strips it then.
      const body = {
        ...wireBody(w.type, call.body),
        stream: true,
        stream_options: { ...(call.body.stream_options ?? {}), include_usage: true },
      };
      const used: { secret?: string | undefined } = {};
      const res = await authed(call, w.url(call.body.model), body, postUpstream, used);
      const secret = used.secret;
      // The first-byte deadline is about useful output: the opening role-only chunk does not disarm it.
      const gate = new FirstOutput(res.firstByte, res.headers);
      let finished = false;
      for await (const ev of readSse(res, name)) {
        if (ev.data === '[DONE]') {
          res.whole = true;
          yield* gate.rest();
          return;
        }
        let parsed: unknown;
        try {
          parsed = JSON.parse(ev.data);
        } catch {
          throw new ProviderError('bad_response', `provider "${name}": stream chunk is not valid JSON`);
        }
        // `data: null` (or any non-object) parses but is no chunk: the same bad_response as other garbage, below.
        const err = (parsed as { error?: { message?: unknown; type?: unknown; code?: unknown } } | null)
          ?.error;
        if (err) {
          const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
          const msg = typeof err.message === 'string' ? `: ${upstreamText(err.message, [secret])}` : '';
          // A rate limit or an overload keeps its class: the client is told so, and retries it as it would.
          const { reason, overloaded } = openAIStreamFailure({
            message: text(err.message),
            type: text(err.type),
            code: text(err.code),
          });
          throw new ProviderError(reason, `provider "${name}" sent an error in the stream${msg}`, {
            overloaded,
          });
        }
        if (!isChunk(parsed))
          throw new ProviderError('bad_response', `provider "${name}": stream chunk has no choices`);
        // Azure opens with a chunk that only carries prompt_filter_results: no choice, no usage, nothing to relay.
        if (parsed.choices.length === 0 && !parsed.usage) continue;
        if (!finished) finished = parsed.choices.some((c) => c.finish_reason != null);
        const chunk = withDeltas(parsed);
        if (gate.started) yield chunk;
        else yield* gate.take(chunk);
      }
      // Some OpenAI-compatible servers end a complete answer without [DONE]. A finish_reason says the answer is whole
      // (the usage chunk, if any, came right after it); without one, the stream was cut.
      if (!finished)
        throw new ProviderError(
          'stream_broken',
          `provider "${name}": stream ended without [DONE] or a finish_reason`,
        );
    },
  };
}

function isCompletion(v: unknown): v is ChatCompletion {
  const c = v as ChatCompletion | null;
  return (
    typeof c === 'object' &&
    c !== null &&
    Array.isArray(c.choices) &&
    c.choices.length > 0 &&
    typeof c.choices[0]?.message === 'object'
  );
}

/**
 * Every choice with a `delta`, as the rest of tiermesh reads them: some OpenAI-compatible servers send a finish
 * chunk without one (`{"index":0,"finish_reason":"stop"}`), Azure its content-filter chunks.
 */
function withDeltas(chunk: ChatCompletionChunk): ChatCompletionChunk {
  for (const c of chunk.choices) if (typeof c.delta !== 'object' || c.delta === null) c.delta = {};
  return chunk;
}

function isChunk(v: unknown): v is ChatCompletionChunk {
  const c = v as ChatCompletionChunk | null;
  return typeof c === 'object' && c !== null && Array.isArray(c.choices);
}
