/** Adapter for the native Gemini API: OpenAI requests translated in, generateContent answers translated back out. */

import type { EmbeddingsResponse } from '../api/embeddings.js';
import type { Provider } from '../api/modelroute.js';
import type { ChatCompletion, ChatCompletionChunk } from '../api/openai.js';
import {
  embeddingInputs,
  embeddingsResponse,
  estimateEmbeddingTokens,
  fromGeminiEmbedResponse,
  toGeminiEmbedRequest,
} from './embeddings.js';
import { FirstOutput } from './first-output.js';
import {
  fromGeminiResponse,
  GeminiStreamTranslator,
  geminiModelPath,
  geminiUntranslatable,
  isGeminiResponse,
  toGeminiRequest,
} from './gemini-translate.js';
import { postUpstream, readJson, readSse } from './http.js';
import type { KeyResolution } from './keys.js';
import {
  beforeSending,
  type EmbedCall,
  type ProviderAdapter,
  ProviderError,
  type UpstreamCall,
} from './types.js';

export const GEMINI_BASE_URL = 'https://generativelanguage.googleapis.com/v1beta';

/** The API root: a configured origin without a version gets /v1beta, where function calling and JSON schemas live. */
export function geminiBase(baseURL: string | undefined): string {
  const base = (baseURL ?? GEMINI_BASE_URL).replace(/\/+$/, '');
  return /\/v1(alpha|beta)?$/.test(base) ? base : `${base}/v1beta`;
}

export function createGeminiAdapter(p: Provider, key: () => KeyResolution): ProviderAdapter {
  const base = geminiBase(p.baseURL);
  const name = p.name;
  // One URL per upstream model, built once: the model is part of the path.
  const urls = new Map<string, { json: string; sse: string }>();
  const urlsFor = (model: string) => {
    let u = urls.get(model);
    if (!u) {
      const path = `${base}/${geminiModelPath(model)}`;
      u = { json: `${path}:generateContent`, sse: `${path}:streamGenerateContent?alt=sse` };
      if (urls.size >= 256) urls.clear();
      urls.set(model, u);
    }
    return u;
  };

  function translatable(body: UpstreamCall['body']): void {
    const why = geminiUntranslatable(body);
    if (why) throw new ProviderError('unavailable', `provider "${name}": ${why}`);
  }

  /** The key goes in x-goog-api-key, never in `?key=`: URLs end up in proxy and access logs. */
  function auth(): { headers: Record<string, string>; secret: string } {
    const k = key();
    if (!k.ok) throw new ProviderError('unavailable', `provider "${name}" has no API key: ${k.why}`);
    return { headers: { ...(p.headers ?? {}), 'x-goog-api-key': k.key }, secret: k.key };
  }

  return {
    name,
    type: p.type,
    /** batchEmbedContents, one request per input; Gemini counts no tokens here, so the sidecar's estimate is booked. */
    async embed(call: EmbedCall): Promise<EmbeddingsResponse> {
      const inputs = embeddingInputs(call.body);
      // Token-id input has no Gemini form: another target of the model may take it.
      if (inputs.some((i) => typeof i !== 'string'))
        throw new ProviderError(
          'unavailable',
          `provider "${name}": token-id input cannot be sent to a Gemini model`,
        );
      const model = geminiModelPath(call.body.model);
      const body = beforeSending('translating to Gemini', () => toGeminiEmbedRequest(call.body, model));
      const { headers, secret } = auth();
      const open = await postUpstream(
        {
          provider: name,
          vendor: 'gemini',
          url: `${base}/${model}:batchEmbedContents`,
          headers,
          body,
          secrets: [secret],
        },
        call,
      );
      const vectors = fromGeminiEmbedResponse(await readJson(open, name), inputs.length);
      if (!vectors)
        throw new ProviderError('bad_response', `provider "${name}": answer is not one embedding per input`);
      return embeddingsResponse(call.body, call.body.model, vectors, estimateEmbeddingTokens(call.body));
    },
    unavailable() {
      const k = key();
      return k.ok ? undefined : `provider "${name}" has no API key: ${k.why}`;
    },
    async complete(call: UpstreamCall): Promise<ChatCompletion> {
      translatable(call.body);
      const body = beforeSending('translating to Gemini', () => toGeminiRequest(call.body));
      const { headers, secret } = auth();
      const open = await postUpstream(
        {
          provider: name,
          vendor: 'gemini',
          url: urlsFor(call.body.model).json,
          headers,
          body,
          secrets: [secret],
        },
        call,
      );
      const json = await readJson(open, name);
      if (!isGeminiResponse(json))
        throw new ProviderError(
          'bad_response',
          `provider "${name}": answer is not a GenerateContentResponse`,
        );
      return fromGeminiResponse(json, call.body.model);
    },
    async *stream(call: UpstreamCall): AsyncGenerator<ChatCompletionChunk> {
      translatable(call.body);
      const body = beforeSending('translating to Gemini', () => toGeminiRequest(call.body));
      const { headers, secret } = auth();
      const open = await postUpstream(
        {
          provider: name,
          vendor: 'gemini',
          url: urlsFor(call.body.model).sse,
          headers,
          body,
          secrets: [secret],
        },
        call,
      );
      const t = new GeminiStreamTranslator(name, call.body.model);
      // The first-byte deadline is about useful output: a role chunk alone does not disarm it.
      const gate = new FirstOutput(open.firstByte);
      for await (const ev of readSse(open, name)) {
        let data: unknown;
        try {
          data = JSON.parse(ev.data);
        } catch {
          throw new ProviderError('bad_response', `provider "${name}": stream chunk is not valid JSON`);
        }
        for (const chunk of t.onChunk(data)) yield* gate.take(chunk);
      }
      // Gemini sends no terminator: the body simply ends, and the translator knows whether the answer was complete.
      for (const chunk of t.end()) yield* gate.take(chunk);
      yield* gate.rest();
    },
  };
}
