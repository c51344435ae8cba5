/**
 * Adapter for targets called on OpenAI's Responses API (`POST /v1/responses`): the models OpenAI serves only there
 * (gpt-5-codex, gpt-5-pro, o3-pro, codex-mini-latest) and any `models[].request.api: responses` entry, on openai and
 * openai-compatible providers. Same credentials, base URL, HTTP client, SSE parser and failure classes as the chat
 * wire (openai.ts); only the body and the answer are translated (responses-wire.ts).
 */
import type { Provider } from '../api/modelroute.js';
import type { ChatCompletion, ChatCompletionChunk } from '../api/openai.js';
import { withRateLimits } from './chat-answer-text.js';
import { FirstOutput } from './first-output.js';
import { postUpstream, postUpstreamJson, readSse } from './http.js';
import type { KeyResolution } from './keys.js';
import { authedCall, type OpenAIWire, openAIWire, wireBody } from './openai.js';
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
      const text = (s: string) => upstreamText(s, [used.secret]);
      const err = (json as { error?: { message?: unknown } } | null)?.error;
      if (!isResponse(json)) {
        // Some gateways answer 200 with an error body; it is the upstream failing, in its own words.
        if (err && typeof err === 'object') {
          const msg = typeof err.message === 'string' ? `: ${text(err.message)}` : '';
          throw new ProviderError('server_error', `provider "${name}" answered 200 with an error${msg}`);
        }
        throw new ProviderError('bad_response', `provider "${name}": answer is not a response`);
      }
      if (json.status === 'failed') throw failedResponse(name, json, text);
      return fromResponse(json);
    },
    async *stream(call: UpstreamCall): AsyncGenerator<ChatCompletionChunk> {
      const used: { secret?: string | undefined } = {};
      const res = await authedCall(w, call, w.url(call.body.model), body(call, true), postUpstream, used);
      const chunks = new ResponsesChunks(name, (s) => upstreamText(s, [used.secret]));
      const gate = new FirstOutput(res.firstByte);
      let first = true;
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
        for (let chunk of chunks.next(event)) {
          // The first chunk carries the response's rate-limit headers to the stream's head (answerRateLimits).
          if (first) {
            first = false;
            chunk = withRateLimits(chunk, res.headers);
          }
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
