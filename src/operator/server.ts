/** The operator's sidecar-facing HTTP server: config stream (SSE), ACK/NACK, usage batches, allowances, probes. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createSecureServer, type Http2SecureServer } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { z } from 'zod';
import { formatIssues } from '../config/issues.js';
import { isTiermeshError, TiermeshError } from '../errors.js';
import { sendError, sendJson } from '../http/reply.js';
import { SSE_CONTENT_TYPE, sseEvent } from '../providers/sse.js';
import { TICKET_REVIEW_BOUND_MS } from './auth.js';
import type { ConfigHub } from './hub.js';
import type { SidecarIdentity } from './identity.js';
import type { LedgerService } from './ledger-service.js';
import {
  ACK_PATH,
  ALLOWANCE_PATH,
  type AllowanceReply,
  ackBody,
  allowanceRequest,
  type RoutingReport,
  STREAM_HEADER,
  STREAM_PATH,
  sharedSseEncoder,
  TICKET_EVENT,
  TICKET_HEADER,
  USAGE_PATH,
  usageBody,
} from './protocol.js';
import { servingTlsOptions } from './serving-tls.js';
import { StreamSessions } from './sessions.js';
import { issueTicket, ticketExpiry, verifyTicket } from './tickets.js';

export interface ServerDeps {
  hub: ConfigHub;
  authenticate: (token: string) => Promise<SidecarIdentity | undefined>;
  ledger: Pick<LedgerService, 'isLeader' | 'report' | 'allowance'>;
  /** Routing counts a usage batch carried (ModelRoute.status.routing); the leader keeps them. */
  onRouting?: (namespace: string, sidecarId: string, reports: RoutingReport[]) => void;
  /** The caches are synced: the leader may apply usage and grant allowances. */
  ready: () => boolean;
  /**
   * What /readyz says (default: `ready`). False too while the replica drains before a shutdown: the kubelet takes it
   * out of the Service, but a leader still serves usage and allowances until it hands over the Lease.
   */
  probeReady?: () => boolean;
  onNack?: () => void;
  /**
   * One usage batch answered: ok (applied, or a resend already applied), rejected (refused as it was: not the
   * leader, caches not synced, a bad body or identity) or error (a write failed; the sidecar resends).
   */
  onUsageBatch?: (result: 'ok' | 'rejected' | 'error') => void;
  keepAliveMs?: number;
  /** Authenticated streams; pass one in to observe it (tests, metrics). */
  sessions?: StreamSessions;
  /**
   * Resumption tickets (tickets.ts): the keys to issue with (the first) and accept (any). Without keys, streams get
   * no tickets and every new token costs a TokenReview.
   */
  ticketKeys?: () => readonly Buffer[];
  /** The token cache, told of a token a ticket vouched for (TokenAuthenticator.vouch). */
  vouch?: (token: string, identity: SidecarIdentity, expiresAt: number, reviewedAt: number) => void;
  /**
   * When the apiserver last accepted a token `authenticate` accepted (TokenAuthenticator.reviewedAt): what a ticket
   * for a stream it opened carries. Without it, every `authenticate` call counts as a review.
   */
  reviewedAt?: (token: string) => Promise<number | undefined>;
  /** Whether a re-review rejected this token lately (TokenAuthenticator.revoked): its tickets are refused. */
  revoked?: (token: string) => boolean;
  /** TICKET_REVIEW_BOUND_MS, smaller in tests (the operator's hidden --ticket-review-bound-seconds). */
  reviewBoundMs?: number;
  /** A stream presented a ticket: taken, or worthless (a TokenReview followed). */
  onTicket?: (accepted: boolean) => void;
  now?: () => number;
}

const MAX_BODY = 8 * 1024 * 1024;

/**
 * How long an idle sidecar connection (ACKs, usage, allowances) stays open. Node's default of 5 s closed it between
 * two pushes, so every push cost each sidecar a new connection for its ACK (over HTTPS, a TLS handshake on the
 * operator per sidecar); undici clients keep theirs as long as this says (the Keep-Alive header).
 */
const IDLE_KEEP_ALIVE_MS = 65_000;

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new TiermeshError('TM_BODY_TOO_LARGE', 'request body too large');
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new TiermeshError('TM_INVALID_JSON', 'request body is not JSON');
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new TiermeshError('TM_INVALID_REQUEST', formatIssues(r.error).join('; '));
  return r.data;
}

/** Only /healthz and /readyz are public; everything else needs a service-account token. */
export function probeHandler(ready: () => boolean) {
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return true;
    }
    if (path === '/readyz') {
      const ok = ready();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok' : 'not ready');
      return true;
    }
    return false;
  };
}

/** PEM serving certificate and key; with them the sidecar API is HTTPS. */
export interface TlsFiles {
  cert: string;
  key: string;
}

export function createOperatorServer(deps: ServerDeps, tls?: TlsFiles): OperatorServer {
  const probes = probeHandler(deps.probeReady ?? deps.ready);
  const keepAliveMs = deps.keepAliveMs ?? 15_000;
  const sessions = deps.sessions ?? new StreamSessions();
  const encode = sharedSseEncoder();
  const ticketKeys = deps.ticketKeys ?? (() => []);
  const now = deps.now ?? Date.now;
  const reviewBoundMs = deps.reviewBoundMs ?? TICKET_REVIEW_BOUND_MS;

  function bearer(req: IncomingMessage): string {
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!m) throw new TiermeshError('TM_UNAUTHENTICATED', 'missing bearer token');
    return m[1]!;
  }

  function checkClaim(namespace: string, claimed: string | undefined): void {
    if (claimed !== undefined && claimed !== namespace)
      throw new TiermeshError(
        'TM_FORBIDDEN',
        `service account of namespace ${namespace} cannot act for namespace ${claimed}`,
      );
  }

  async function identify(req: IncomingMessage, claimed?: string): Promise<SidecarIdentity> {
    const who = await deps.authenticate(bearer(req));
    if (!who)
      throw new TiermeshError(
        'TM_UNAUTHENTICATED',
        'token rejected; expected a service-account token for audience tiermesh',
      );
    checkClaim(who.namespace, claimed);
    return who;
  }

  function requireLeader(): void {
    // A leader whose caches are still empty sees no budgets: it would apply nothing and the sidecar drop the batch.
    if (!deps.ready())
      throw new TiermeshError('TM_NOT_READY', 'this operator replica has not synced its caches yet; retry', {
        retryAfter: 1,
      });
    if (!deps.ledger.isLeader())
      throw new TiermeshError('TM_NOT_READY', 'this operator replica is not the leader; retry', {
        retryAfter: 1,
      });
  }

  /**
   * Who a reconnecting stream is by its resumption ticket, when it is a good one for this sidecar and token; a
   * worthless ticket (tampered, expired, foreign, under a rotated key) is no error, the caller does a TokenReview.
   */
  function byTicket(
    req: IncomingMessage,
    sidecarId: string,
    token: string,
  ): (SidecarIdentity & { reviewedAt: number }) | undefined {
    const ticket = req.headers[TICKET_HEADER];
    if (typeof ticket !== 'string' || ticket === '') return undefined;
    // A token a re-review rejected has tickets still inside the bound: they must not resume what was just ended.
    const who = deps.revoked?.(token)
      ? undefined
      : verifyTicket(ticketKeys(), ticket, { sidecarId, token }, now(), undefined, reviewBoundMs);
    deps.onTicket?.(who !== undefined);
    if (!who) return undefined;
    const identity = { namespace: who.namespace, serviceAccount: who.serviceAccount };
    deps.vouch?.(token, identity, who.expiresAt, who.reviewedAt);
    return { ...identity, reviewedAt: who.reviewedAt };
  }

  /**
   * A fresh ticket for an open stream, as its SSE event; undefined without a key, once the token has expired, for a
   * token without an expiry, or once the token's last review is older than the review bound (tickets.ts).
   */
  function ticketEvent(
    who: SidecarIdentity,
    sidecarId: string,
    token: string,
    reviewedAt: number | undefined,
  ): string | undefined {
    const key = ticketKeys()[0];
    if (!key || reviewedAt === undefined) return undefined;
    const expiresAt = ticketExpiry(now(), token, reviewedAt, undefined, reviewBoundMs);
    if (expiresAt === undefined) return undefined;
    return sseEvent(TICKET_EVENT, {
      ticket: issueTicket(key, { ...who, sidecarId, expiresAt, reviewedAt }, token),
    });
  }

  async function stream(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const token = bearer(req);
    const claimed = url.searchParams.get('namespace') ?? undefined;
    const sidecarId = url.searchParams.get('sidecar') ?? '';
    // A bad id is checked only after the token: an unauthenticated caller learns nothing but 401.
    const goodId = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/.test(sidecarId);
    const ticketed = goodId ? byTicket(req, sidecarId, token) : undefined;
    if (ticketed) checkClaim(ticketed.namespace, claimed);
    const who = ticketed ?? (await identify(req, claimed));
    if (!goodId)
      throw new TiermeshError('TM_INVALID_REQUEST', 'query parameter sidecar must be a sidecar id', {
        param: 'sidecar',
      });
    // What this stream's tickets carry: the ticket's review (a resumed chain keeps its age), else the token's.
    const reviewedAt = ticketed
      ? ticketed.reviewedAt
      : deps.reviewedAt
        ? await deps.reviewedAt(token)
        : now();
    const running = url.searchParams.get('version') || undefined;
    // The background re-review (stream-reviews.ts) moves the session's review time, and renews the ticket at once;
    // when it rejects the token it ends the stream, and the sidecar's reconnect meets a 401.
    const session = sessions.start(who.namespace, sidecarId, token, {
      reviewedAt,
      end: () => {
        res.end();
        close();
      },
      refreshed: () => {
        const renewed = ticketEvent(who, sidecarId, token, sessions.reviewedAt(session));
        if (renewed) res.write(renewed);
      },
    });
    // Headers, the comment and the snapshot the hub sends at once go out in one write, not three: in a reconnect
    // storm the operator opens 1,000 streams in a second or two.
    res.cork();
    res.writeHead(200, {
      'content-type': SSE_CONTENT_TYPE,
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
      [STREAM_HEADER]: session,
    });
    res.write(': connected\n\n');
    // The ticket first: a sidecar whose stream drops right after the snapshot can already resume with it.
    const ticket = ticketEvent(who, sidecarId, token, reviewedAt);
    if (ticket) res.write(ticket);
    const disconnect = deps.hub.connect(who.namespace, sidecarId, running, (event, data, id) => {
      res.write(encode(event, data, id));
    });
    res.uncork();
    // The keep-alive renews the ticket: the operator still vouches for the token of a stream it holds open, so a
    // ticket stays good for a trust window past the stream's last keep-alive, up to the review bound (tickets.ts)
    // after the token's last review, which the background re-review keeps moving.
    const keepAlive = setInterval(
      () => res.write(ticketEvent(who, sidecarId, token, sessions.reviewedAt(session)) ?? ': keep-alive\n\n'),
      keepAliveMs,
    );
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      clearInterval(keepAlive);
      sessions.close(session);
      disconnect();
    };
    req.on('close', close);
    res.on('error', close);
  }

  async function usage(req: IncomingMessage): Promise<{ applied: boolean }> {
    const body = parse(usageBody, await readJson(req));
    const who = await identify(req, body.namespace);
    requireLeader();
    // Before the ledger: a resend after a failed write carries the same counts, which the book dedups.
    if (body.routing?.length) deps.onRouting?.(who.namespace, body.sidecarId, body.routing);
    return deps.ledger.report(who.namespace, body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (probes(req, res)) return;
    const url = new URL(req.url ?? '/', 'http://operator');
    const route = `${req.method} ${url.pathname}`;
    if (route === `GET ${STREAM_PATH}`) return stream(req, res, url);
    if (route === `POST ${ACK_PATH}`) {
      const body = parse(ackBody, await readJson(req));
      // Bound to the stream it answers: no TokenReview. A rotated token or a closed stream falls back to one.
      const bound = body.stream ? sessions.bound(body.stream, body.sidecarId, bearer(req)) : undefined;
      if (bound) checkClaim(bound, body.namespace);
      const namespace = bound ?? (await identify(req, body.namespace)).namespace;
      deps.hub.ack(namespace, body.sidecarId, body.version, body.ok, body.error);
      if (!body.ok) deps.onNack?.();
      return sendJson(res, 200, { ok: true });
    }
    if (route === `POST ${USAGE_PATH}`) {
      let answer: { applied: boolean };
      try {
        answer = await usage(req);
      } catch (e) {
        deps.onUsageBatch?.(isTiermeshError(e) ? 'rejected' : 'error');
        throw e;
      }
      deps.onUsageBatch?.('ok');
      return sendJson(res, 200, answer);
    }
    if (route === `POST ${ALLOWANCE_PATH}`) {
      const body = parse(allowanceRequest, await readJson(req));
      const who = await identify(req, body.namespace);
      requireLeader();
      const reply: AllowanceReply = await deps.ledger.allowance(who.namespace, body);
      return sendJson(res, 200, reply);
    }
    throw new TiermeshError('TM_NOT_FOUND', `no route ${route}`);
  }

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    // A follower closes an HTTP/1.1 connection so the client's retry opens a new one, which the Service may send to
    // the leader. (HTTP/2 has no such header: it carries streams and ACKs, which any replica serves.)
    const closeOnRetry = req.httpVersionMajor === 1 ? { headers: { connection: 'close' } } : {};
    handle(req, res).catch((e) =>
      sendError(res, e, isTiermeshError(e) && e.code === 'TM_NOT_READY' ? closeOnRetry : {}),
    );
  };
  if (!tls) {
    const server = createServer(handler);
    server.keepAliveTimeout = IDLE_KEEP_ALIVE_MS;
    return server;
  }
  return http2Server(tls, handler);
}

/** The sidecar API's server: node:http over plain HTTP, HTTP/2 (with HTTP/1.1 for other clients) over TLS. */
export type OperatorServer = (Server | Http2SecureServer) & { closeAllConnections(): void };

/**
 * Over TLS the sidecar API speaks HTTP/2, and HTTP/1.1 to clients that do not offer it (probes, curl). A sidecar's
 * config stream and its ACKs then share one connection: over HTTP/1.1 the open stream holds its connection, so every
 * ACK needed a second one, and a reconnect storm cost the operator two TLS handshakes per sidecar (docs/scale.md).
 * Sharing the connection also brings each ACK to the replica that holds its stream, where it is trusted without a
 * TokenReview. A sidecar sends its usage and allowance requests over HTTP/1.1 connections of their own, which the
 * Service may spread over the replicas until one reaches the leader (config-stream-operator.ts).
 */
function http2Server(
  tls: TlsFiles,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): OperatorServer {
  // The compatibility API's request and response have the members the handlers use (headers, url, method, a
  // readable body; writeHead, write, cork, end), and an HTTP/1.1 client gets node:http's own objects.
  const server = createSecureServer(
    { ...servingTlsOptions(tls), allowHTTP1: true },
    handler as unknown as Parameters<typeof createSecureServer>[1],
  ) as Http2SecureServer & { keepAliveTimeout?: number };
  // Read by node:http's handling of the HTTP/1.1 connections; an HTTP/2 connection stays open with its stream.
  server.keepAliveTimeout = IDLE_KEEP_ALIVE_MS;
  const sockets = new Set<TLSSocket>();
  server.on('secureConnection', (socket: TLSSocket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return Object.assign(server, {
    closeAllConnections() {
      for (const socket of sockets) socket.destroy();
    },
  });
}
