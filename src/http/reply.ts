/**
 * The one set of HTTP reply helpers every server of ours answers with: JSON bodies, error bodies from the registry
 * (src/errors.ts) with their Retry-After, and the raw-socket answer for requests node:http refuses before parsing.
 */
import { type ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { type ErrorDialect, errorBody, type TiermeshError, toTiermeshError } from '../errors.js';

const JSON_TYPE = 'application/json';

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  sendJsonText(res, status, JSON.stringify(body), headers);
}

/** A JSON body already serialized (e.g. an upstream answer passed through as it came). */
export function sendJsonText(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': JSON_TYPE,
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/** Retry-After in whole seconds, at least 1: "0" or a fraction makes some clients retry in a tight loop. */
export function retryAfterValue(seconds: number): string {
  return String(Math.max(1, Math.ceil(seconds)));
}

export interface ErrorReplyOptions {
  headers?: Record<string, string>;
  dialect?: ErrorDialect;
}

/**
 * Answers with the error's status and registry body, plus Retry-After when it has one and the headers it carries. Once headers are out (a
 * stream) there is no status left to send: the connection is destroyed, so the client sees a failure, not an end.
 */
export function sendError(res: ServerResponse, err: unknown, opts: ErrorReplyOptions = {}): TiermeshError {
  const e = toTiermeshError(err);
  if (res.headersSent) {
    res.destroy();
    return e;
  }
  const headers = opts.headers ? { ...opts.headers } : {};
  // Headers the error carries from the answer it passes on (a provider's rate limits).
  if (e.headers) Object.assign(headers, e.headers);
  if (e.retryAfter !== undefined) headers['retry-after'] = retryAfterValue(e.retryAfter);
  sendJson(res, e.statusFor(opts.dialect), errorBody(e, opts.dialect), headers);
  return e;
}

export interface RawErrorOptions {
  /** Sent as x-request-id, so even this answer can be found in the logs. */
  requestId?: string;
  /**
   * An answer to an earlier (pipelined) request on this connection is still being written: bytes of ours would land
   * inside it, so the connection is only destroyed.
   */
  underway?: boolean;
}

/**
 * A complete HTTP/1.1 error answer written straight to a socket, for requests node:http rejects before there is a
 * ServerResponse (headers over the limit, a malformed request line), then closes the connection.
 */
export function sendRawError(socket: Socket, err: TiermeshError, opts: RawErrorOptions = {}): void {
  if (!socket.writable || opts.underway) {
    socket.destroy();
    return;
  }
  const text = JSON.stringify(err.toBody());
  const id = opts.requestId !== undefined ? `x-request-id: ${opts.requestId}\r\n` : '';
  socket.end(
    `HTTP/1.1 ${err.status} ${statusText(err.status)}\r\n${id}` +
      `content-type: ${JSON_TYPE}\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
  );
}

function statusText(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}
