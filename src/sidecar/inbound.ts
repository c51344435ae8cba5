/**
 * The parse stage for the OpenAI chat-completions API: raw HTTP request in, the internal request out. The internal
 * request is the OpenAI chat shape; another inbound API (/v1/responses, /v1/messages) becomes a sibling of this
 * module that translates its body into the same `InboundRequest` and speaks its own error dialect.
 *
 * Everything a request can do to hurt the process is refused here, as the client's fault (4xx), before anything is
 * routed or sent: bodies over the limit, bytes that are not UTF-8, JSON that is not a request, and nesting deep
 * enough to overflow our own serializer later.
 */
import { isUtf8 } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import {
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatCompletionRequest,
  chatCompletionRequest,
} from '../api/openai.js';
import { type ErrorDialect, TiermeshError } from '../errors.js';
import { type RoutingHeaders, routingHeaders } from '../routing/decide.js';
import { MAX_JSON_DEPTH, nestsDeeperThan, readBody } from './body.js';
import { parseJsonBody } from './parse-request.js';
import {
  endBrokenStream,
  endStream,
  respondJson,
  type ServedBy,
  writeStreamChunk,
  writeStreamHead,
} from './respond.js';

/** One request in the internal form, whatever API it came in through. */
export interface InboundRequest {
  request: ChatCompletionRequest;
  headers: RoutingHeaders;
  stream: boolean;
  /** The client asked for the usage chunk of a stream (`stream_options.include_usage`). */
  clientWantsUsage: boolean;
  /** Shape of the error bodies this client understands. */
  dialect: ErrorDialect;
}

/**
 * Reads a JSON request body and validates it with one of the accepted-request schemas of src/api, with every guard
 * of the parse stage (size, UTF-8, JSON, schema, depth). Throws a 4xx TiermeshError naming what is wrong.
 */
export async function readJsonRequest<T>(
  req: IncomingMessage,
  maxBodyBytes: number,
  schema: z.ZodType<T>,
): Promise<T> {
  return checkedJsonRequest(req, await readBody(req, maxBodyBytes), schema);
}

/** readJsonRequest's checks on a body already read (UTF-8, JSON, schema, depth). */
function checkedJsonRequest<T>(req: IncomingMessage, body: Buffer, schema: z.ZodType<T>): T {
  if (!isUtf8(body)) throw new TiermeshError('TM_INVALID_JSON', 'request body is not valid UTF-8');
  const request = parseJsonBody(schema, req.headers['content-type'], body);
  if (nestsDeeperThan(request, MAX_JSON_DEPTH))
    throw new TiermeshError(
      'TM_INVALID_REQUEST',
      `request body nests deeper than ${MAX_JSON_DEPTH} levels of arrays and objects`,
    );
  return request;
}

function openAIChatInbound(req: IncomingMessage, request: ChatCompletionRequest): InboundRequest {
  return {
    request,
    headers: routingHeaders(req.headers),
    stream: request.stream === true,
    clientWantsUsage: request.stream_options?.include_usage === true,
    dialect: 'openai',
  };
}

/**
 * The respond stage of one inbound API: the internal answer (whole or streamed) written in that API's shape. The
 * pipeline calls it; routing, budgets and failover never see which API a request came through.
 */
export interface Responder {
  json(res: ServerResponse, answer: ChatCompletion, served: ServedBy): void;
  streamHead(res: ServerResponse, served: ServedBy, estimatedPromptTokens: number): void;
  /** False when the socket's buffer is full (wait for `drain`). */
  streamChunk(res: ServerResponse, chunk: ChatCompletionChunk): boolean;
  streamEnd(res: ServerResponse, costUSD: number): void;
  streamBroken(res: ServerResponse, err: TiermeshError): void;
}

/** One inbound API: its error dialect (known before the body is read) and its parse stage. */
export interface InboundAdapter {
  readonly dialect: ErrorDialect;
  parse(
    req: IncomingMessage,
    maxBodyBytes: number,
  ): Promise<{ inbound: InboundRequest; responder: Responder }>;
}

/** The OpenAI chat responder: the internal shape itself, with the usage chunk only for clients that asked. */
export function chatResponder(wantsUsage: boolean): Responder {
  // Two of them, made once: a responder holds nothing of the request.
  return wantsUsage ? WITH_USAGE : WITHOUT_USAGE;
}

function makeChatResponder(wantsUsage: boolean): Responder {
  return {
    json: respondJson,
    streamHead: (res, served) => writeStreamHead(res, served),
    streamChunk(res, chunk) {
      const out = forClient(chunk, wantsUsage);
      return out === undefined || writeStreamChunk(res, out);
    },
    streamEnd: endStream,
    streamBroken: endBrokenStream,
  };
}

const WITH_USAGE = makeChatResponder(true);
const WITHOUT_USAGE = makeChatResponder(false);

/** POST /v1/chat/completions: the internal shape itself, so parse validates and respond passes through. */
export const openAIChatAdapter: InboundAdapter = {
  dialect: 'openai',
  async parse(req, maxBodyBytes) {
    // The body and its checks directly rather than through readJsonRequest: two async steps fewer on every request.
    const body = await readBody(req, maxBodyBytes);
    const inbound = openAIChatInbound(req, checkedJsonRequest(req, body, chatCompletionRequest));
    return { inbound, responder: chatResponder(inbound.clientWantsUsage) };
  },
};

/** The body sent upstream for a stream: usage is always asked for, since budgets need it. */
export function upstreamStreamBody(request: ChatCompletionRequest): ChatCompletionRequest {
  return {
    ...request,
    stream: true,
    stream_options: { ...(request.stream_options ?? {}), include_usage: true },
  };
}

/**
 * The chunk as the client should see it: the usage-only chunk (no choices) and the `usage` field exist because we
 * asked for them; a client that did not ask gets neither, exactly as from OpenAI.
 */
export function forClient(
  chunk: ChatCompletionChunk,
  clientWantsUsage: boolean,
): ChatCompletionChunk | undefined {
  if (clientWantsUsage) return chunk;
  if (chunk.choices.length === 0 && chunk.usage) return undefined;
  if (!('usage' in chunk)) return chunk;
  const { usage: _, ...rest } = chunk;
  return rest;
}
