/**
 * Adapter for targets called on OpenAI's Responses API (`POST /v1/responses`): the models OpenAI serves only there
 * (gpt-5-codex, gpt-5-pro, o3-pro, codex-mini-latest) and any `models[].request.api: responses` entry, on openai and
 * openai-compatible providers. Same credentials, base URL, HTTP client, SSE parser and failure classes as the chat
 * wire (openai.ts); only the body and the answer are translated (responses-wire.ts).
 */
import type { Provider } from '../api/modelroute.js';
import type { ChatCompletion, ChatCompletionChunk } from '../api/openai.js';
import { FirstOutput } from './first-output.js';
import { postUpstream, postUpstreamJson, readSse } from './http.js';
import type { KeyResolution } from './keys.js';
import { authedCall, errorAt200, type OpenAIWire, openAIWire, wireBody } from './openai.js';
import {
  failedResponse,
  fromResponse,
  isResponse,
  ResponsesChunks,
  type ResponsesEventLike,
  toResponsesRequest,
} from './responses-wire.js';
import { beforeSending, type ProviderAdapter, ProviderError, type UpstreamCall } from './types.js';
import { upstreamText } from './upstream-errors.js';

export function createOpenAIResponsesAdapter(p: Provider, key: () => KeyResolution): ProviderAdapter {
  return createResponsesWireAdapter(openAIWire(p, key, 'responses'));
}

export function createResponsesWireAdapter(w: OpenAIWire): ProviderAdapter {
  const { name } = w;
  const body = (call: UpstreamCall, stream: boolean) =>
    beforeSending('translating the request for the Responses API', () =>
      toResponsesRequest(wireBody(w.type, call.body), stream),
    );
  return {
    name,
    type: w.type,
    unavailable: () => w.unavailable(),
    async complete(call: UpstreamCall): Promise<ChatCompletion> {
      const used: { secret?: string | undefined } = {};
      const json = await authedCall(
        w,
        call,
        w.url(call.body.model),
        body(call, false),
        postUpstreamJson,
        used,
      );
      if (!isResponse(json))
        throw (
          errorAt200(name, json, used.secret) ??
          new ProviderError('bad_response', `provider "${name}": answer is not a response`)
        );
      if (json.status === 'failed') throw failedResponse(name, json, (s) => upstreamText(s, [used.secret]));
      return fromResponse(json);
    },
    async *stream(call: UpstreamCall): AsyncGenerator<ChatCompletionChunk> {
      const used: { secret?: string | undefined } = {};
      const res = await authedCall(w, call, w.url(call.body.model), body(call, true), postUpstream, used);
      const chunks = new ResponsesChunks(name, (s) => upstreamText(s, [used.secret]));
      const gate = new FirstOutput(res.firstByte, res.headers);
      for await (const ev of readSse(res, name)) {
        if (ev.data === '[DONE]') continue;
        let parsed: unknown;
        try {
          parsed = JSON.parse(ev.data);
        } catch {
          throw new ProviderError('bad_response', `provider "${name}": stream event is not valid JSON`);
        }
        if (typeof parsed !== 'object' || parsed === null)
          throw new ProviderError('bad_response', `provider "${name}": stream event is not an object`);
        // An OpenAI-wire error body in place of an event (`data: {"error": {...}}`) is the `error` event's payload.
        const wrapped = (parsed as { error?: unknown; type?: unknown }).error;
        const event = (
          (parsed as { type?: unknown }).type === undefined && wrapped && typeof wrapped === 'object'
            ? { ...wrapped, type: 'error' }
            : parsed
        ) as ResponsesEventLike;
        for (const chunk of chunks.next(event)) {
          if (gate.started) yield chunk;
          else yield* gate.take(chunk);
        }
        if (chunks.done) {
          res.whole = true;
          yield* gate.rest();
          return;
        }
      }
      throw new ProviderError('stream_broken', `provider "${name}": stream ended before response.completed`);
    },
  };
}
