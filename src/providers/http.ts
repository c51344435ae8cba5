/** The one upstream HTTP client: a shared keep-alive undici pool, deadlines wired to abort signals, errors typed. */
import { Agent, type Dispatcher } from 'undici';
import { type SseEvent, SseLineTooLongError, SseParser } from './sse.js';
import { beforeSending, ProviderError, type UpstreamCall } from './types.js';
import { httpFailure, toProviderError, type Vendor } from './upstream-errors.js';

/**
 * One pool per process, shared by every adapter and config version. undici's request() skips the WHATWG fetch
 * layers (Request/Response objects, web streams) that cost real CPU per call, and keep-alive matters more still:
 * a TLS handshake to a vendor costs tens of milliseconds, which would otherwise be paid on every request.
 */
export const upstreamAgent = new Agent({
  keepAliveTimeout: 30_000,
  keepAliveMaxTimeout: 600_000,
  connections: 256,
  connect: { timeout: 10_000 },
  // Our own timers own every deadline (so each failure gets the right reason); undici's would race them.
  headersTimeout: 0,
  bodyTimeout: 0,
});

export interface UpstreamRequest {
  provider: string;
  vendor: Vendor;
  url: string;
  headers: Record<string, string>;
  body: unknown;
  /** Secrets to scrub from any upstream message we keep. */
  secrets: ReadonlyArray<string | undefined>;
}

export interface OpenResponse {
  body: Dispatcher.ResponseData['body'];
  /** Aborts on the caller's signal or the first-byte deadline; read the body under it. */
  signal: AbortSignal;
  /** Call when the first useful byte arrived: disarms the first-byte deadline. */
  firstByte(): void;
  /** Disarms timers; call once the body is consumed or abandoned. */
  close(): void;
}

/**
 * POSTs JSON and returns the open 2xx response, or throws a ProviderError. The first-byte deadline stays armed
 * after the headers: for streams the first chunk is what counts, so the adapter disarms it.
 */
export async function postUpstream(
  req: UpstreamRequest,
  call: Omit<UpstreamCall, 'body'>,
): Promise<OpenResponse> {
  // Before any timer or socket: a body we cannot serialize is never the upstream's failure.
  const payload = beforeSending('serializing the upstream request', () => JSON.stringify(req.body));
  // A missed first-byte deadline ends the attempt: abort the caller's signal when it lets us (the failover loop
  // does), else a controller of our own linked to it by hand (AbortSignal.any() measurably slows every call).
  let signal = call.signal;
  let abort = call.abort;
  let unlink: (() => void) | undefined;
  if (!abort) {
    const local = new AbortController();
    const forward = () => local.abort(call.signal.reason);
    if (call.signal.aborted) forward();
    else call.signal.addEventListener('abort', forward, { once: true });
    signal = local.signal;
    abort = (reason) => local.abort(reason);
    unlink = () => call.signal.removeEventListener('abort', forward);
  }
  const timer = setTimeout(
    () =>
      abort(
        new ProviderError(
          'timeout',
          `provider "${req.provider}": no first byte within ${call.firstByteTimeoutMs}ms`,
        ),
      ),
    call.firstByteTimeoutMs,
  );
  const firstByte = () => clearTimeout(timer);
  const close = () => {
    clearTimeout(timer);
    unlink?.();
  };
  let res: Dispatcher.ResponseData;
  try {
    const target = parsedUrl(req.url);
    res = await upstreamAgent.request({
      origin: target.origin,
      path: target.path,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...req.headers,
      },
      body: payload,
      signal,
    });
  } catch (err) {
    close();
    throw toProviderError(err, req.provider, signal);
  }
  const header = (name: string) => {
    const v = res.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  if (res.statusCode < 200 || res.statusCode >= 300) {
    let bodyText = '';
    try {
      bodyText = await readCapped(res.body, 64 * 1024);
    } catch {
      // The status alone is enough to classify the failure.
    } finally {
      close();
    }
    throw httpFailure({
      provider: req.provider,
      vendor: req.vendor,
      status: res.statusCode,
      header,
      bodyText,
      secrets: req.secrets,
      nowMs: Date.now(),
    });
  }
  return { body: res.body, signal, firstByte, close };
}

/**
 * Provider URLs come from the config, so there are few of them: each is parsed once rather than on every call, which
 * is what undici's top-level `request(url)` would do (a WHATWG URL parse per request).
 */
const parsedUrls = new Map<string, { origin: string; path: string }>();
function parsedUrl(url: string): { origin: string; path: string } {
  let p = parsedUrls.get(url);
  if (!p) {
    const u = new URL(url);
    p = { origin: u.origin, path: `${u.pathname}${u.search}` };
    // Bounded all the same: a long-lived process sees every URL any config version ever named.
    if (parsedUrls.size >= 1024) parsedUrls.clear();
    parsedUrls.set(url, p);
  }
  return p;
}

/** Reads a body as text, refusing to buffer more than `limit` bytes of it. */
export async function readCapped(body: AsyncIterable<Buffer | Uint8Array>, limit: number): Promise<string> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) {
      (body as { destroy?: () => void }).destroy?.();
      break;
    }
    // The stream hands out fresh chunks, so they are kept as they are rather than copied.
    parts.push(chunk);
  }
  const one = parts.length === 1 ? parts[0]! : undefined;
  if (one) return Buffer.isBuffer(one) ? one.toString('utf8') : Buffer.from(one).toString('utf8');
  return Buffer.concat(parts).toString('utf8');
}

/** Reads a whole JSON answer under the open response's deadline. Malformed JSON is `bad_response`. */
export async function readJson(
  open: OpenResponse,
  provider: string,
  limit = 32 * 1024 * 1024,
): Promise<unknown> {
  // Headers arrived, which is the first byte of a JSON answer; the caller's whole-call deadline covers the rest.
  open.firstByte();
  let text: string;
  try {
    text = await readCapped(open.body, limit);
  } catch (err) {
    throw toProviderError(err, provider, open.signal);
  } finally {
    open.close();
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ProviderError('bad_response', `provider "${provider}": answer is not valid JSON`);
  }
}

/**
 * The SSE events of an open streaming answer. Socket errors and deadlines surface as ProviderErrors; the stream
 * ending is simply the end of the iteration (the adapter decides whether that end was legitimate).
 */
export async function* readSse(open: OpenResponse, provider: string): AsyncGenerator<SseEvent> {
  const parser = new SseParser();
  try {
    for await (const chunk of open.body) {
      for (const ev of parser.push(chunk as Buffer)) yield ev;
    }
    for (const ev of parser.end()) yield ev;
  } catch (err) {
    if (err instanceof SseLineTooLongError)
      throw new ProviderError('bad_response', `provider "${provider}": ${err.message}`);
    throw toProviderError(err, provider, open.signal);
  } finally {
    open.close();
    // Abandoned early (consumer stopped, or an error): free the socket instead of draining an endless stream.
    if (!open.body.destroyed) open.body.destroy();
  }
}
