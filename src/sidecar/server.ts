/**
 * The sidecar's HTTP shell: a tiny router on bare node:http in front of the chat pipeline.
 *
 * Why not express: bench/http-layer.ts (same process, same run, JSON POST of a chat request) measured bare
 * node:http at ~4x express 5's throughput with ~5x lower p50 on this machine (2914 vs 730 req/s). The sidecar
 * serves five fixed routes, so a router buys nothing that is worth a quarter of the hot path's capacity.
 */
import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { type ErrorDialect, TiermeshError } from '../errors.js';
import { listen } from '../http/listen.js';
import { browserRefusal } from '../http/loopback.js';
import { sendError, sendJson, sendRawError } from '../http/reply.js';
import type { Logger } from '../telemetry/logger.js';
import type { SidecarMetrics } from '../telemetry/metrics.js';
import { ANTHROPIC_VERSION_HEADER } from './apis/anthropic-messages.js';
import type { ConfigStore, Versioned } from './config-store.js';
import { isHealthPath, sendHealth } from './health.js';
import {
  anthropicModel,
  anthropicModelList,
  findModel,
  legacyCompletionsMessage,
  listModels,
} from './models.js';

const ANSWERING = Symbol('tiermesh.answering');

/** node:http's own limit, said out loud: a request whose headers are larger gets 431 with a JSON body. */
export const MAX_HEADER_BYTES = 16 * 1024;

export interface ServerDeps<R extends Versioned> {
  store: ConfigStore<R>;
  metrics: SidecarMetrics;
  logger: Logger;
  /** Handles POST /v1/chat/completions; owns the response from there on. */
  chat: Handler;
  /** Handles POST /v1/feedback (docs/feedback.md); absent, the path is a 404 like any other. */
  feedback?: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  /** POST /v1/messages (Anthropic Messages API) and POST /v1/responses (OpenAI Responses API), when served. */
  messages?: Handler;
  responses?: Handler;
  /** POST /v1/embeddings, when served. */
  embeddings?: Handler;
  /** POST /v1/messages/count_tokens (apis/count-tokens.ts), when served. */
  countTokens?: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  /** POST /v1/explain: how a body would be routed now, with live observations (explain-live.ts). */
  explain?: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  /** Served on a non-loopback address on purpose (--allow-remote): the browser guard (http/loopback.ts) is off. */
  allowRemote?: boolean;
}

type Handler = (req: IncomingMessage, res: ServerResponse, requestId: string) => Promise<void>;

export interface SidecarServer {
  readonly server: http.Server;
  listen(host: string, port: number): Promise<string>;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), then closes every connection. */
  close(graceMs?: number): Promise<void>;
  inFlight(): number;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** The client's x-request-id when it is a sane token, else a fresh one; every answer carries it back. */
export function requestId(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id'];
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/**
 * A response that carries its request's x-request-id. The id is added when the head is written rather than with
 * setHeader() on arrival: once any header is set that way, node:http takes its slow path for every header of the
 * answer (validated and stored one by one, then serialized), a visible share of the CPU per request in
 * bench/sidecar.ts. Every head goes through writeHead (node's implicit head too), so every answer still has it; an
 * x-request-id set explicitly (a feedback retry's new id) wins.
 */
class SidecarResponse<Req extends IncomingMessage = IncomingMessage> extends http.ServerResponse<Req> {
  requestId: string | undefined;
  /** Answers of the Anthropic API also carry the id as `request-id`, which the Anthropic SDKs read. */
  anthropic = false;

  override writeHead(
    statusCode: number,
    reason?: string | http.OutgoingHttpHeaders | http.OutgoingHttpHeader[],
    headers?: http.OutgoingHttpHeaders | http.OutgoingHttpHeader[],
  ): this {
    let id = this.requestId;
    if (id === undefined || this.headersSent) return super.writeHead(statusCode, reason as string, headers);
    const names = [REQUEST_ID_HEADER];
    if (this.hasHeader(REQUEST_ID_HEADER)) {
      // Set explicitly (a feedback retry's new id): that one is the answer's id, under both names.
      if (!this.anthropic || this.hasHeader(ANTHROPIC_REQUEST_ID_HEADER))
        return super.writeHead(statusCode, reason as string, headers);
      id = String(this.getHeader(REQUEST_ID_HEADER));
      names.length = 0;
    }
    if (this.anthropic) names.push(ANTHROPIC_REQUEST_ID_HEADER);
    if (typeof reason === 'string')
      return super.writeHead(statusCode, reason, withRequestId(headers, id, names));
    return super.writeHead(statusCode, withRequestId(reason, id, names));
  }
}

const REQUEST_ID_HEADER = 'x-request-id';
const ANTHROPIC_REQUEST_ID_HEADER = 'request-id';

function withRequestId(
  headers: http.OutgoingHttpHeaders | http.OutgoingHttpHeader[] | undefined,
  id: string,
  names: string[],
): http.OutgoingHttpHeaders | http.OutgoingHttpHeader[] {
  if (headers === undefined) return Object.fromEntries(names.map((n) => [n, id]));
  if (Array.isArray(headers)) {
    // Both array forms node accepts: [name, value, ...] and [[name, value], ...].
    const pairs = Array.isArray(headers[0]) ? names.map((n) => [n, id]) : names.flatMap((n) => [n, id]);
    return [...pairs, ...headers] as http.OutgoingHttpHeader[];
  }
  return { ...Object.fromEntries(names.map((n) => [n, id])), ...headers };
}

export function createSidecarServer<R extends Versioned>(deps: ServerDeps<R>): SidecarServer {
  let inFlight = 0;
  let drained: (() => void) | undefined;

  const notReady = () => new TiermeshError('TM_NOT_READY', 'no config loaded yet', { retryAfter: 1 });

  // Not async: a chat request's promise is the handler's own, with no extra async step around it on every request.
  const route = (req: IncomingMessage, res: ServerResponse, id: string): Promise<void> | void => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const method = req.method ?? 'GET';
    if (path === '/v1/chat/completions' || path === '/chat/completions') {
      if (method !== 'POST') return methodNotAllowed(res, method, 'POST');
      return deps.chat(req, res, id);
    }
    if ((path === '/v1/feedback' || path === '/feedback') && deps.feedback) {
      if (method !== 'POST') return methodNotAllowed(res, method, 'POST');
      return deps.feedback(req, res);
    }
    if (path === '/v1/explain' && deps.explain) {
      if (method !== 'POST') return methodNotAllowed(res, method, 'POST');
      return deps.explain(req, res);
    }
    const anthropicPath = isAnthropicPath(path);
    if (anthropicPath) (res as SidecarResponse).anthropic = true;
    if ((path === '/v1/messages/count_tokens' || path === '/messages/count_tokens') && deps.countTokens) {
      if (method !== 'POST') return methodNotAllowed(res, method, 'POST', 'anthropic');
      return deps.countTokens(req, res);
    }
    const inbound =
      path === '/v1/messages' || path === '/messages'
        ? deps.messages
        : path === '/v1/responses' || path === '/responses'
          ? deps.responses
          : path === '/v1/embeddings' || path === '/embeddings'
            ? deps.embeddings
            : undefined;
    if (inbound) {
      if (method !== 'POST')
        return methodNotAllowed(res, method, 'POST', path.endsWith('/messages') ? 'anthropic' : 'openai');
      return inbound(req, res, id);
    }
    if (path === '/v1/completions' || path === '/completions')
      return void sendError(res, new TiermeshError('TM_NOT_FOUND', legacyCompletionsMessage()));
    if (path.startsWith('/v1/models/')) {
      // An Anthropic SDK (it always sends anthropic-version) gets its own shapes, answers and errors alike.
      const dialect = modelsDialect(req);
      if (dialect === 'anthropic') (res as SidecarResponse).anthropic = true;
      if (method !== 'GET') return methodNotAllowed(res, method, 'GET', dialect);
      const rt = deps.store.current;
      if (!rt) return void sendError(res, notReady(), { dialect });
      const modelId = decodedSegment(path.slice('/v1/models/'.length));
      if (modelId === undefined)
        return void sendError(
          res,
          new TiermeshError('TM_INVALID_REQUEST', 'the model id in the path is not valid percent-encoding', {
            param: 'model',
          }),
          { dialect },
        );
      const found = findModel(rt.snapshot, modelId);
      if (found) return sendJson(res, 200, dialect === 'anthropic' ? anthropicModel(found) : found);
      return void sendError(
        res,
        new TiermeshError('TM_MODEL_NOT_FOUND', `model "${modelId.slice(0, 200)}" is not served here`, {
          param: 'model',
          logMessage: 'model not served here',
        }),
        { dialect },
      );
    }
    if (path === '/v1/models' || path === '/models') {
      const dialect = modelsDialect(req);
      if (dialect === 'anthropic') (res as SidecarResponse).anthropic = true;
      if (method !== 'GET') return methodNotAllowed(res, method, 'GET', dialect);
      const rt = deps.store.current;
      if (!rt) return void sendError(res, notReady(), { dialect });
      const list = listModels(rt.snapshot);
      return sendJson(res, 200, dialect === 'anthropic' ? anthropicModelList(list) : list);
    }
    if (isHealthPath(path)) return sendHealth(res, path, deps.store);
    if (path === '/metrics' && method === 'GET') return serveMetrics(res);
    // The path is the client's; it may be long, but it is not a prompt. Only its length is capped. An Anthropic
    // client (its path or its anthropic-version header) gets the Anthropic error shape.
    const dialect = anthropicPath ? 'anthropic' : modelsDialect(req);
    if (dialect === 'anthropic') (res as SidecarResponse).anthropic = true;
    sendError(res, new TiermeshError('TM_NOT_FOUND', `no route for ${method} ${path.slice(0, 200)}`), {
      dialect,
    });
  };

  const serveMetrics = async (res: ServerResponse): Promise<void> => {
    const { contentType, body } = await deps.metrics.text();
    res.writeHead(200, { 'content-type': contentType });
    res.end(body);
  };

  const failed = (id: string, res: ServerResponse, err: unknown): void => {
    deps.logger.error({ requestId: id, err }, 'unhandled error in request handler');
    sendError(res, err);
  };

  // Answers still being written, per connection: a malformed pipelined request behind one must not get bytes of its
  // own in the middle of it. A counter on the socket itself: no WeakMap lookups on every request.
  const answering = (socket: Socket) => (socket as Socket & { [ANSWERING]?: number })[ANSWERING] ?? 0;
  const countAnswering = (socket: Socket, by: number) => {
    (socket as Socket & { [ANSWERING]?: number })[ANSWERING] = answering(socket) + by;
  };
  const server = http.createServer(
    { maxHeaderSize: MAX_HEADER_BYTES, ServerResponse: SidecarResponse },
    (req, res) => {
      inFlight++;
      const socket = req.socket;
      countAnswering(socket, 1);
      res.once('close', () => {
        inFlight--;
        countAnswering(socket, -1);
        if (inFlight === 0) drained?.();
      });
      const id = requestId(req);
      (res as SidecarResponse).requestId = id;
      // Before anything else: a web page in this machine's browser must not spend the keys (http/loopback.ts).
      const refused = deps.allowRemote ? undefined : browserRefusal(req.headers);
      if (refused !== undefined) {
        deps.logger.warn(
          { requestId: id, path: (req.url ?? '/').split('?')[0]!.slice(0, 200) },
          `refused: ${refused}`,
        );
        sendError(res, new TiermeshError('TM_FORBIDDEN', refused));
        return;
      }
      let handled: Promise<void> | void;
      try {
        handled = route(req, res, id);
      } catch (err) {
        failed(id, res, err);
        return;
      }
      handled?.catch((err: unknown) => failed(id, res, err));
    },
  );
  // Requests node:http refuses before routing get a real answer instead of its bare status line.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const code = err.code ?? '';
    // No request to take an x-request-id from: a fresh one, in the answer and this line.
    const opts = { requestId: randomUUID(), underway: answering(socket) > 0 };
    deps.logger.debug({ code, requestId: opts.requestId }, 'request refused before routing');
    if (code === 'ECONNRESET' || code === 'EPIPE') return void socket.destroy();
    if (code === 'ERR_HTTP_REQUEST_TIMEOUT')
      return sendRawError(
        socket,
        new TiermeshError('TM_REQUEST_TIMEOUT', 'the request did not arrive in time'),
        opts,
      );
    if (code === 'HPE_HEADER_OVERFLOW')
      return sendRawError(
        socket,
        new TiermeshError('TM_HEADERS_TOO_LARGE', `request headers exceed ${MAX_HEADER_BYTES} bytes`),
        opts,
      );
    sendRawError(socket, new TiermeshError('TM_INVALID_REQUEST', 'malformed HTTP request'), opts);
  });
  // Slow-loris guard; streaming answers are unaffected (this bounds receiving the request, not sending).
  server.requestTimeout = 120_000;
  server.headersTimeout = 30_000;
  server.keepAliveTimeout = 65_000;

  return {
    server,
    inFlight: () => inFlight,
    listen: (host, port) => listen(server, host, port),
    async close(graceMs = 30_000) {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          drained = resolve;
          setTimeout(resolve, graceMs).unref();
        });
      }
      server.closeAllConnections();
      await closed;
    },
  };
}

/** A path segment percent-decoded, or undefined when its escapes are not valid UTF-8 (the client's mistake). */
function decodedSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** The Anthropic Messages API's paths (/v1/messages, count_tokens, and any other under it). */
function isAnthropicPath(path: string): boolean {
  return (
    path === '/v1/messages' ||
    path === '/messages' ||
    path.startsWith('/v1/messages/') ||
    path.startsWith('/messages/')
  );
}

/** The shapes GET /v1/models answers in: Anthropic's for a client that sends anthropic-version, else OpenAI's. */
function modelsDialect(req: IncomingMessage): ErrorDialect {
  return req.headers[ANTHROPIC_VERSION_HEADER] !== undefined ? 'anthropic' : 'openai';
}

function methodNotAllowed(
  res: ServerResponse,
  method: string,
  allow: string,
  dialect: ErrorDialect = 'openai',
): void {
  sendError(res, new TiermeshError('TM_METHOD_NOT_ALLOWED', `method ${method} not allowed; use ${allow}`), {
    headers: { allow },
    dialect,
  });
}
