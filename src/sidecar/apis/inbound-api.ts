/**
 * An inbound API as the request pipeline sees it: how to read its body into the internal request, how to answer in
 * its shape (whole, streamed, error). The pipeline stays one: parse with `schema` + `toInternal`, then decide,
 * gate, (cache), execute, check and account exactly as for chat completions, then respond through `answer`,
 * `stream` and `errorBody`. Nothing routing-, budget- or failover-related lives here.
 */
import type { z } from 'zod';
import { type AnthropicMessagesRequest, anthropicMessagesRequest } from '../../api/anthropic-messages.js';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from '../../api/openai.js';
import { type ResponsesRequest, responsesRequest } from '../../api/responses.js';
import type { ErrorDialect, TiermeshError } from '../../errors.js';
import { sendJson } from '../../http/reply.js';
import { routingHeaders } from '../../routing/decide.js';
import { type InboundAdapter, type InboundRequest, type Responder, readJsonRequest } from '../inbound.js';
import { addCostTrailer, formatUSD, servedByHeaders, writeStreamHead } from '../respond.js';
import {
  AnthropicStreamWriter,
  anthropicErrorEvent,
  frameAnthropicEvents,
  fromAnthropicRequest,
  toAnthropicMessage,
} from './anthropic-messages.js';
import type { ItemMemory } from './item-memory.js';
import { reasoningBlocks } from './reasoning-items.js';
import {
  frameResponsesEvents,
  fromResponsesRequest,
  type IdMaker,
  ResponsesStreamWriter,
  toResponse,
} from './responses.js';

/** Turns the internal stream into the API's SSE text, chunk by chunk. */
export interface StreamEncoder {
  /** SSE text for one internal chunk ('' when it carries nothing this API shows). */
  chunk(c: ChatCompletionChunk): string;
  /** SSE text that ends a clean stream. */
  end(): string;
  /** SSE text that ends a stream broken after its first byte. */
  fail(err: TiermeshError): string;
}

export interface InboundApi<Req> {
  /** For logs and metrics: `anthropic-messages`, `responses`. */
  readonly name: string;
  readonly schema: z.ZodType<Req>;
  /** The internal request; throws a 400 TiermeshError naming the field for what the API allows but tiermesh cannot carry. */
  toInternal(req: Req): ChatCompletionRequest;
  /** The whole answer in the API's shape. */
  answer(c: ChatCompletion, req: Req): unknown;
  stream(req: Req, estimatedPromptTokens: number): StreamEncoder;
  errorBody(err: TiermeshError): unknown;
}

export const anthropicMessagesApi: InboundApi<AnthropicMessagesRequest> = {
  name: 'anthropic-messages',
  schema: anthropicMessagesRequest,
  toInternal: fromAnthropicRequest,
  answer: (c) => toAnthropicMessage(c),
  stream(req, estimatedPromptTokens) {
    const w = new AnthropicStreamWriter(req.model, estimatedPromptTokens);
    return {
      chunk: (c) => frameAnthropicEvents(w.push(c)),
      end: () => frameAnthropicEvents(w.end()),
      fail: (err) => frameAnthropicEvents([anthropicErrorEvent(err)]),
    };
  },
  errorBody: (err) => err.toAnthropicBody(),
};

/** The Responses API; items it answers with go to `memory` so later `item_reference`s resolve. */
export function responsesApi(deps: {
  memory: ItemMemory;
  now: () => number;
  newId: IdMaker;
}): InboundApi<ResponsesRequest> {
  return {
    name: 'responses',
    schema: responsesRequest,
    toInternal: (req) =>
      fromResponsesRequest(req, (id) => deps.memory.resolve(id, deps.now()), {
        extra: (callId, name) => deps.memory.callExtra(callId, name, deps.now()),
        thinking: (callId) => reasoningBlocks(deps.memory.callReasoning(callId, deps.now())),
      }),
    answer(c, req) {
      const r = toResponse(c, req, deps.newId);
      deps.memory.remember(r.output, deps.now());
      return r;
    },
    stream(req) {
      const w = new ResponsesStreamWriter(req, deps.newId, Math.floor(deps.now() / 1000));
      return {
        chunk: (c) => frameResponsesEvents(w.push(c)),
        end() {
          const text = frameResponsesEvents(w.end());
          deps.memory.remember(w.items(), deps.now());
          return text;
        },
        fail: (err) => frameResponsesEvents(w.fail(err)),
      };
    },
    // The Responses API answers errors in the OpenAI shape.
    errorBody: (err) => err.toBody(),
  };
}

/**
 * The pipeline's adapter for an inbound API: parse reads the body with the API's schema and translates it; the
 * responder writes the internal answer in the API's shape. Streams carry the x-tiermesh-* headers like chat
 * streams, and the final cost in the `x-tiermesh-cost-usd` trailer when chunked (no SSE comment, no [DONE]: neither
 * API has them).
 */
export function apiAdapter<Req>(api: InboundApi<Req>, dialect: ErrorDialect): InboundAdapter {
  return {
    dialect,
    async parse(req, maxBodyBytes) {
      const typed = await readJsonRequest(req, maxBodyBytes, api.schema);
      const request = api.toInternal(typed);
      const inbound: InboundRequest = {
        request,
        headers: routingHeaders(req.headers),
        stream: request.stream === true,
        clientWantsUsage: false,
        dialect,
      };
      let encoder: StreamEncoder | undefined;
      const responder: Responder = {
        json: (res, answer, served) => sendJson(res, 200, api.answer(answer, typed), servedByHeaders(served)),
        streamHead(res, served, estimatedPromptTokens) {
          encoder = api.stream(typed, estimatedPromptTokens);
          writeStreamHead(res, served);
        },
        streamChunk(res, chunk) {
          const text = encoder!.chunk(chunk);
          return text === '' || res.write(text);
        },
        streamEnd(res, costUSD) {
          res.write(encoder!.end());
          addCostTrailer(res, formatUSD(costUSD));
          res.end();
        },
        streamBroken: (res, err) => res.end(encoder!.fail(err)),
      };
      return { inbound, responder };
    },
  };
}
