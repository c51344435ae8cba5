/** Reads a request body up to a byte limit; past it, stops reading at once instead of buffering the rest. */
import type { IncomingMessage } from 'node:http';
import { TiermeshError } from '../errors.js';

function tooLarge(limit: number): TiermeshError {
  return new TiermeshError('TM_BODY_TOO_LARGE', `request body exceeds the ${limit} byte limit`);
}

/**
 * The client hung up while sending its body: its own doing, and nobody is left to answer. The request is logged as
 * a client-closed one (499), never as our failure.
 */
export class BodyAborted extends TiermeshError {
  constructor(cause: unknown) {
    super('TM_INVALID_REQUEST', 'the client closed the connection before the request body arrived', {
      cause,
    });
  }
}

/**
 * Resolves with the whole body, or rejects with TM_BODY_TOO_LARGE as soon as the declared or received size passes
 * `limit`. On rejection the stream is paused, not drained: the caller answers 413 and closes the connection. A
 * client that hangs up first rejects it with BodyAborted.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.pause();
    return Promise.reject(tooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        reject(tooLarge(limit));
        return;
      }
      parts.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(parts.length === 1 ? parts[0]! : Buffer.concat(parts, size));
    };
    const onError = (err: NodeJS.ErrnoException) => {
      cleanup();
      reject(err.code === 'ECONNRESET' ? new BodyAborted(err) : err);
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/**
 * Deeper than any real request nests (content parts, tool JSON schemas), and far below where our own
 * JSON.stringify of the upstream body would overflow the stack (a few thousand levels).
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Whether a parsed JSON value nests arrays/objects deeper than `limit`. Iterative, so the check itself cannot
 * overflow, and it stops at the first branch too deep.
 */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const stack: Array<{ v: object; depth: number }> = [{ v: value, depth: 1 }];
  while (stack.length > 0) {
    const { v, depth } = stack.pop()!;
    if (depth > limit) return true;
    const children = Array.isArray(v) ? v : Object.values(v);
    for (const c of children) if (typeof c === 'object' && c !== null) stack.push({ v: c, depth: depth + 1 });
  }
  return false;
}
