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
  /**
   * Set by a stream's adapter when the answer's terminator ([DONE], message_stop) arrived: what is left of the body
   * is only its tail (the chunked encoding's last chunk often comes in a packet of its own), so readSse drains it
   * rather than destroying the socket, and the keep-alive connection is reused.
   */
  whole: boolean;
  /** The answer's headers (lower-case names). */
  headers: ResponseHeaders;
}

/**
 * LISTENERS: abort listeners on the hot path are functions (an arrow per object), never the object itself with a
 * `handleEvent` method. Node's EventTarget keeps an object listener in a way V8's young-generation collector treats
 * as strong until the next full collection, so the listener and everything it reaches (the call, its request, the
 * promise chain waiting on it) survived every scavenge and was promoted: measured in bench/sidecar.ts's sidecar with
 * --trace-gc-nvp, ~2.5 KB of every request, ~700 KB per scavenge, against ~10 KB for the bare proxy. A function
 * listener dies young with its call.
 */

/**
 * The call's signal with the first-byte deadline armed on it, and the controls to disarm it. A class rather than
 * closures: one is made for every upstream call, and its methods are shared.
 */
class ArmedCall {
  readonly signal: AbortSignal;
  private readonly abort: (reason: unknown) => void;
  private readonly timer: NodeJS.Timeout;
  /** Our own controller, linked to the caller's signal by hand, when the caller gave no `abort`. */
  private readonly local: AbortController | undefined;

  constructor(
    private readonly provider: string,
    private readonly call: Omit<UpstreamCall, 'body'>,
  ) {
    // A missed first-byte deadline ends the attempt: abort the caller's signal when it lets us (the failover loop
    // does), else a controller of our own linked to it by hand (AbortSignal.any() measurably slows every call).
    if (call.abort) {
      this.signal = call.signal;
      this.abort = call.abort;
    } else {
      const local = new AbortController();
      this.local = local;
      this.signal = local.signal;
      this.abort = (reason) => local.abort(reason);
      if (call.signal.aborted) this.callerAborted();
      else call.signal.addEventListener('abort', this.callerAborted, { once: true });
    }
    this.timer = setTimeout(firstByteMissed, call.firstByteTimeoutMs, this);
  }

  /** The caller's signal aborted: forwarded to our own controller (a function listener: see LISTENERS). */
  private readonly callerAborted = (): void => {
    this.local?.abort(this.call.signal.reason);
  };

  missed(): void {
    this.abort(
      new ProviderError(
        'timeout',
        `provider "${this.provider}": no first byte within ${this.call.firstByteTimeoutMs}ms`,
      ),
    );
  }

  /** Disarms the first-byte deadline. */
  firstByte(): void {
    clearTimeout(this.timer);
  }

  /** Disarms everything (deadline, the link to the caller's signal). */
  close(): void {
    clearTimeout(this.timer);
    if (this.local) this.call.signal.removeEventListener('abort', this.callerAborted);
  }
}

function firstByteMissed(armed: ArmedCall): void {
  armed.missed();
}

/** Before any timer or socket: a body we cannot serialize is never the upstream's failure. */
function serialized(req: UpstreamRequest): string {
  return beforeSending('serializing the upstream request', () => JSON.stringify(req.body));
}

function requestHeaders(req: UpstreamRequest): Record<string, string> {
  return {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    ...req.headers,
  };
}

/** The request with the client's trace context among its headers; a header the provider config sets wins. */
function traced(req: UpstreamRequest, call: Omit<UpstreamCall, 'body'>): UpstreamRequest {
  const ctx = call.traceContext;
  return ctx ? { ...req, headers: { ...ctx, ...req.headers } } : req;
}

/** Largest error body kept to classify a failure. */
const ERROR_BODY_LIMIT = 64 * 1024;
/** Largest whole JSON answer read. */
const JSON_ANSWER_LIMIT = 32 * 1024 * 1024;

/**
 * POSTs JSON and returns the open 2xx response, or throws a ProviderError. The first-byte deadline stays armed
 * after the headers: for streams the first chunk is what counts, so the adapter disarms it.
 */
export async function postUpstream(
  req: UpstreamRequest,
  call: Omit<UpstreamCall, 'body'>,
): Promise<OpenResponse> {
  req = traced(req, call);
  const payload = serialized(req);
  const armed = new ArmedCall(req.provider, call);
  const { signal } = armed;
  const close = () => armed.close();
  let res: Dispatcher.ResponseData;
  try {
    const target = parsedUrl(req.url);
    res = await untilAborted(
      upstreamAgent.request({
        origin: target.origin,
        path: target.path,
        method: 'POST',
        headers: requestHeaders(req),
        body: payload,
        signal,
      }),
      signal,
    );
  } catch (err) {
    close();
    throw toProviderError(err, req.provider, signal);
  }
  if (res.statusCode < 200 || res.statusCode >= 300) {
    let bodyText = '';
    try {
      bodyText = await readCapped(res.body, ERROR_BODY_LIMIT);
    } catch {
      // The status alone is enough to classify the failure.
    } finally {
      close();
    }
    throw failure(req, res.statusCode, res.headers, bodyText);
  }
  return {
    body: res.body,
    signal,
    firstByte: () => armed.firstByte(),
    close,
    whole: false,
    headers: res.headers as ResponseHeaders,
  };
}

/**
 * undici's request() acts on its signal only once the request is on a connection: while it waits for a free pooled
 * connection or a TLS handshake (a hung upstream holds it up to the connect timeout) an abort is merely noted. The
 * call's deadline and the client's abort end the wait at once here; undici drops the request itself when it gets to
 * it, and an answer that still arrives after the abort is freed unread.
 */
function untilAborted(
  sent: Promise<Dispatcher.ResponseData>,
  signal: AbortSignal,
): Promise<Dispatcher.ResponseData> {
  return new Promise((resolve, reject) => {
    // A function listener: see LISTENERS.
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    sent.then(
      (res) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) res.body.destroy();
        else resolve(res);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

function failure(
  req: UpstreamRequest,
  status: number,
  headers: Record<string, string | string[] | undefined>,
  bodyText: string,
): ProviderError {
  const header = (name: string) => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  return httpFailure({
    provider: req.provider,
    vendor: req.vendor,
    status,
    header,
    bodyText,
    secrets: req.secrets,
    nowMs: Date.now(),
  });
}

/** The answer's headers as undici gives them (lower-case names). */
export type ResponseHeaders = Record<string, string | string[] | undefined>;

/** Turns a whole 2xx answer's text into its value; gets the headers too, for what it keeps of them. */
export type AnswerParser = (text: string, headers: ResponseHeaders) => unknown;

const parseJson: AnswerParser = (text) => JSON.parse(text);

/**
 * POSTs JSON and reads the whole JSON answer: `postUpstream` then `readJson`, with the same deadlines, limits and
 * errors, as one undici dispatch with a handler of our own. undici's `request()` wraps every answer in a Readable
 * (plus an async-resource scope and abort wiring) that a buffered JSON answer does not need; in bench/sidecar.ts that
 * plumbing was a visible share of the sidecar's CPU per request.
 */
export function postUpstreamJson(
  req: UpstreamRequest,
  call: Omit<UpstreamCall, 'body'>,
  limit = JSON_ANSWER_LIMIT,
  parse: AnswerParser = parseJson,
): Promise<unknown> {
  req = traced(req, call);
  let payload: string;
  try {
    payload = serialized(req);
  } catch (err) {
    return Promise.reject(err);
  }
  const armed = new ArmedCall(req.provider, call);
  return new Promise((resolve, reject) =>
    new JsonExchange(req, armed, limit, parse, resolve, reject).start(payload),
  );
}

/**
 * One JSON call as an undici dispatch handler. A class rather than a handler object of closures: one is made for
 * every upstream call, and its methods are shared. Settles exactly once: the answer parsed, or a ProviderError.
 */
class JsonExchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private status = 0;
  private headers: ResponseHeaders = {};
  private cap: number;
  private parts: Buffer[] = [];
  private size = 0;
  private settled = false;

  constructor(
    private readonly req: UpstreamRequest,
    private readonly armed: ArmedCall,
    private readonly limit: number,
    private readonly parse: AnswerParser,
    private readonly resolve: (v: unknown) => void,
    private readonly reject: (e: unknown) => void,
  ) {
    this.cap = limit;
  }

  start(payload: string): void {
    const { signal } = this.armed;
    if (signal.aborted) {
      this.fail(signal.reason);
      return;
    }
    signal.addEventListener('abort', this.aborted, { once: true });
    const target = parsedUrl(this.req.url);
    try {
      upstreamAgent.dispatch(
        {
          origin: target.origin,
          path: target.path,
          method: 'POST',
          headers: requestHeaders(this.req),
          body: payload,
        },
        this,
      );
    } catch (err) {
      this.fail(err);
    }
  }

  /** The call's signal aborted (a deadline, or the client). A function listener: see LISTENERS. */
  private readonly aborted = (): void => {
    const reason = this.armed.signal.reason;
    if (this.controller) this.controller.abort(reason);
    // Not on a connection yet (waiting for a free one, or for a TLS handshake): undici would only act on the abort
    // once it has one. Settled now, as a call that sent nothing; onRequestStart aborts it when undici gets to it.
    else if (!this.settled) {
      const pe = toProviderError(reason, this.req.provider, this.armed.signal);
      this.settle();
      this.reject(new ProviderError(pe.reason, pe.message, { cause: pe, unsent: true }));
    }
  };

  onRequestStart(c: Dispatcher.DispatchController): void {
    this.controller = c;
    if (this.armed.signal.aborted) c.abort(this.armed.signal.reason);
  }

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, h: Record<string, unknown>): void {
    if (statusCode < 200) return; // informational (100 Continue): the answer is still to come
    this.status = statusCode;
    this.headers = h as typeof this.headers;
    // The headers are the first byte of a JSON answer: the whole-call deadline covers the rest. An error body is
    // still read under the first-byte deadline, as postUpstream does.
    if (ok(statusCode)) this.armed.firstByte();
    this.cap = ok(statusCode) ? this.limit : ERROR_BODY_LIMIT;
  }

  onResponseData(c: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled) return;
    if (this.size + chunk.length > this.cap) {
      // Past the limit: keep what fit and stop reading, as readCapped does.
      this.finish();
      c.abort(new Error('answer over the size limit'));
      return;
    }
    this.size += chunk.length;
    this.parts.push(chunk);
  }

  onResponseEnd(): void {
    this.finish();
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    this.fail(err);
  }

  private settle(): void {
    this.settled = true;
    this.armed.close();
    this.armed.signal.removeEventListener('abort', this.aborted);
  }

  private fail(err: unknown): void {
    if (this.settled) return;
    this.settle();
    // An error body that could not be read whole: the status alone classifies the failure.
    if (this.status !== 0 && !ok(this.status)) this.reject(failure(this.req, this.status, this.headers, ''));
    else this.reject(toProviderError(err, this.req.provider, this.armed.signal));
  }

  private finish(): void {
    if (this.settled) return;
    this.settle();
    const text = joined(this.parts);
    this.parts = [];
    if (!ok(this.status)) {
      this.reject(failure(this.req, this.status, this.headers, text));
      return;
    }
    try {
      this.resolve(this.parse(text, this.headers));
    } catch {
      this.reject(
        new ProviderError('bad_response', `provider "${this.req.provider}": answer is not valid JSON`),
      );
    }
  }
}

const ok = (status: number) => status >= 200 && status < 300;

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
export function readCapped(body: AsyncIterable<Buffer | Uint8Array>, limit: number): Promise<string> {
  // A stream already ended emits no more events; the iterator still reports it correctly.
  if (isEventStream(body) && !body.readableEnded && !body.destroyed) return readCappedEvents(body, limit);
  return readCappedIterable(body, limit);
}

/** A Readable (undici's bodies are): read by its events, which skips the async iterator's promise per chunk. */
interface EventStream extends AsyncIterable<Buffer | Uint8Array> {
  on(event: string, fn: (arg: never) => void): unknown;
  off(event: string, fn: (arg: never) => void): unknown;
  destroy(): unknown;
  readonly readableEnded?: boolean;
  readonly destroyed?: boolean;
}
function isEventStream(body: AsyncIterable<Buffer | Uint8Array>): body is EventStream {
  const b = body as Partial<EventStream>;
  return typeof b.on === 'function' && typeof b.off === 'function' && typeof b.destroy === 'function';
}

function readCappedEvents(body: EventStream, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Uint8Array[] = [];
    let size = 0;
    const finish = () => {
      cleanup();
      resolve(joined(parts));
    };
    const onData = (chunk: Buffer | Uint8Array) => {
      if (size + chunk.length > limit) {
        finish();
        body.destroy();
        return;
      }
      size += chunk.length;
      // The stream hands out fresh chunks, so they are kept as they are rather than copied.
      parts.push(chunk);
    };
    const onError = (err: unknown) => {
      cleanup();
      reject(err);
    };
    // Destroyed without an error and without an end: cut short, as the async iterator would report it.
    const onClose = () => {
      cleanup();
      reject(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    };
    const cleanup = () => {
      body.off('data', onData);
      body.off('end', finish);
      body.off('error', onError);
      body.off('close', onClose);
    };
    body.on('data', onData);
    body.on('end', finish);
    body.on('error', onError);
    body.on('close', onClose);
  });
}

async function readCappedIterable(body: AsyncIterable<Buffer | Uint8Array>, limit: number): Promise<string> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) {
      (body as { destroy?: () => void }).destroy?.();
      break;
    }
    parts.push(chunk);
  }
  return joined(parts);
}

function joined(parts: Uint8Array[]): string {
  const one = parts.length === 1 ? parts[0]! : undefined;
  if (one) return Buffer.isBuffer(one) ? one.toString('utf8') : Buffer.from(one).toString('utf8');
  return Buffer.concat(parts).toString('utf8');
}

/** Reads a whole JSON answer under the open response's deadline. Malformed JSON is `bad_response`. */
export async function readJson(
  open: OpenResponse,
  provider: string,
  limit = JSON_ANSWER_LIMIT,
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
    // Not destroyed when the loop is left early: the finally below decides between draining and destroying.
    for await (const chunk of open.body.iterator({ destroyOnReturn: false })) {
      for (const ev of parser.push(chunk as Buffer)) yield ev;
    }
    for (const ev of parser.end()) yield ev;
  } catch (err) {
    if (err instanceof SseLineTooLongError)
      throw new ProviderError('bad_response', `provider "${provider}": ${err.message}`);
    throw toProviderError(err, provider, open.signal);
  } finally {
    open.close();
    const body = open.body;
    if (!body.destroyed && !body.readableEnded) {
      // The answer is whole: read the tail, so the connection goes back to the pool. Bounded in size and time, as
      // an upstream may keep sending after its terminator.
      if (open.whole) drainTail(body);
      // Abandoned early (consumer stopped, or an error): free the socket instead of draining an endless stream. The
      // iterator has let go of the body, so the abort error undici raises on it has no other listener.
      else body.on('error', ignore).destroy();
    }
  }
}

/** Most a stream's tail after its terminator is read to keep the connection, and for how long. */
const TAIL_LIMIT = 64 * 1024;
const TAIL_MS = 2_000;

function ignore(): void {}

function drainTail(body: OpenResponse['body']): void {
  // dump() destroys the body itself past the limit or on the signal; its outcome changes nothing for the answer.
  body.dump({ limit: TAIL_LIMIT, signal: AbortSignal.timeout(TAIL_MS) }).catch(() => {});
}
