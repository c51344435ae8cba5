/** Pure mapping of upstream failures (HTTP status + body, socket errors) to ProviderError, with secrets scrubbed. */
import type { UpstreamFault } from '../errors.js';
import { parseRetryAfter } from './policy.js';
import { type FailureReason, ProviderError, type UpstreamRejection } from './types.js';

/** What a status code says about whose fault it is and whether another try may help. */
export function reasonForStatus(status: number): FailureReason {
  if (status === 429) return 'rate_limited';
  if (status === 401 || status === 403) return 'auth';
  if (status === 408) return 'timeout';
  // A 404 from an upstream means this target does not serve the mapped model: a config problem, not the caller's.
  if (status === 404) return 'server_error';
  if (status >= 400 && status < 500) return 'client_error';
  return 'server_error';
}

/** Anthropic's error.type values (also sent inside streams) mapped to our reasons. */
export function reasonForAnthropicType(type: string | undefined, status: number | undefined): FailureReason {
  switch (type) {
    case 'rate_limit_error':
      return 'rate_limited';
    case 'overloaded_error':
    case 'api_error':
    case 'not_found_error':
      return 'server_error';
    case 'authentication_error':
    case 'permission_error':
      return 'auth';
    case 'invalid_request_error':
    case 'request_too_large':
      return 'client_error';
    case 'timeout_error':
      return 'timeout';
    default:
      return status !== undefined ? reasonForStatus(status) : 'server_error';
  }
}

/** Gemini's error `status` values (google.rpc.Code names) mapped to our reasons. */
export function reasonForGeminiStatus(
  status: string | undefined,
  reasons: ReadonlyArray<string>,
): FailureReason | undefined {
  switch (status) {
    case 'INVALID_ARGUMENT':
      // A wrong key is a 400 INVALID_ARGUMENT with reason API_KEY_INVALID: the operator's fault, not the caller's.
      return reasons.includes('API_KEY_INVALID') ? 'auth' : 'client_error';
    case 'FAILED_PRECONDITION':
      // Billing not enabled, region not served: this account cannot serve anyone, another target may.
      return 'auth';
    case 'UNAUTHENTICATED':
    case 'PERMISSION_DENIED':
      return 'auth';
    case 'RESOURCE_EXHAUSTED':
      return 'rate_limited';
    case 'DEADLINE_EXCEEDED':
      return 'timeout';
    case 'NOT_FOUND':
    case 'INTERNAL':
    case 'UNAVAILABLE':
    case 'UNKNOWN':
    case 'ABORTED':
    case 'CANCELLED':
      return 'server_error';
    default:
      return undefined;
  }
}

/**
 * Whether a failure says the upstream is overloaded or unavailable for now rather than broken: Anthropic's 529 and
 * its `overloaded_error` (in an answer or a stream), any 503, Gemini's `UNAVAILABLE`. Clients retry such an answer
 * (Anthropic's overloaded_error); the breaker still counts it like any server error.
 */
export function overloadedFailure(f: { status?: number; type?: string; geminiStatus?: string }): boolean {
  return (
    f.status === 529 || f.status === 503 || f.type === 'overloaded_error' || f.geminiStatus === 'UNAVAILABLE'
  );
}

/**
 * An error object an OpenAI-wire stream sends instead of a chunk (`data: {"error": {...}}`): a rate limit by its code
 * or type (`rate_limit_exceeded`; `insufficient_quota` is a spent account), an overload by its words ("The engine is
 * currently overloaded", as OpenAI says it, with type server_error), else a server error.
 */
export function openAIStreamFailure(e: {
  message?: string | undefined;
  type?: string | undefined;
  code?: string | undefined;
}): { reason: FailureReason; overloaded: boolean } {
  const rateLimited = [e.code, e.type].some((x) => x === 'rate_limit_exceeded' || x === 'rate_limit_error');
  if (accountExhausted('openai', 429, e)) return { reason: 'auth', overloaded: false };
  if (rateLimited) return { reason: 'rate_limited', overloaded: false };
  const overloaded = [e.code, e.type].includes('overloaded_error') || /\boverloaded\b/i.test(e.message ?? '');
  return { reason: 'server_error', overloaded };
}

export interface GeminiErrorInfo {
  message?: string;
  status?: string;
  /** ErrorInfo reasons from `details`, e.g. API_KEY_INVALID. */
  reasons: string[];
  /** Seconds, from a google.rpc.RetryInfo detail ("17s", "1.5s"). */
  retryDelay?: number;
}

/** The parts of Gemini's error body `{error: {code, message, status, details}}` we act on. */
export function geminiError(body: unknown): GeminiErrorInfo {
  const e = (body as { error?: unknown } | null)?.error as
    | { message?: unknown; status?: unknown; details?: unknown }
    | undefined;
  const out: GeminiErrorInfo = { reasons: [] };
  if (!e || typeof e !== 'object') return out;
  if (typeof e.message === 'string') out.message = e.message;
  if (typeof e.status === 'string') out.status = e.status;
  if (Array.isArray(e.details)) {
    for (const d of e.details as Array<Record<string, unknown>>) {
      if (typeof d?.['reason'] === 'string') out.reasons.push(d['reason']);
      const delay = d?.['retryDelay'];
      if (typeof delay === 'string') {
        const m = /^(\d+(?:\.\d+)?)s$/.exec(delay.trim());
        if (m) {
          const s = Number(m[1]);
          if (Number.isFinite(s) && s <= 86_400) out.retryDelay = s;
        }
      }
    }
  }
  return out;
}

/** How much of an upstream's own error text we keep: enough to act on, too little to carry a prompt's worth. */
export const MAX_UPSTREAM_MESSAGE = 300;

/**
 * Removes the given secrets and anything shaped like a vendor key from text we may show or log. Upstreams echo
 * (partially masked) keys in 401 messages, so this runs on every upstream message we keep.
 */
export function redact(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = redactKeyParts(out.split(s).join('[redacted]'), s);
  return (
    out
      .replace(/\b(sk|rk|pk)-[A-Za-z0-9_*.-]{6,}/g, '[redacted]')
      // Google API keys (Gemini): "AIza" and 35 more characters.
      .replace(/\bAIza[0-9A-Za-z_-]{20,}/g, '[redacted]')
      .replace(/\bBearer\s+\S+/gi, 'Bearer [redacted]')
  );
}

/** Partial echoes of a key shorter than this are left: too little of it to matter, too likely to be other text. */
export const MIN_KEY_PART = 8;

/**
 * `text` without any run of >= MIN_KEY_PART characters that is a prefix or a suffix of `key`: upstreams echo keys
 * masked in the middle ("sk-abcd1234...wxyz") or cut short.
 */
function redactKeyParts(text: string, key: string): string {
  if (key.length < MIN_KEY_PART || text.length < MIN_KEY_PART) return text;
  const cut: Array<[number, number]> = [];
  const head = key.slice(0, MIN_KEY_PART);
  for (let i = text.indexOf(head); i !== -1; i = text.indexOf(head, i + 1)) {
    let n = MIN_KEY_PART;
    while (n < key.length && i + n < text.length && text[i + n] === key[n]) n++;
    cut.push([i, i + n]);
  }
  const tail = key.slice(-MIN_KEY_PART);
  for (let i = text.indexOf(tail); i !== -1; i = text.indexOf(tail, i + 1)) {
    let n = MIN_KEY_PART;
    while (
      n < key.length &&
      i - (n - MIN_KEY_PART) > 0 &&
      text[i - (n - MIN_KEY_PART) - 1] === key[key.length - n - 1]
    )
      n++;
    cut.push([i + MIN_KEY_PART - n, i + MIN_KEY_PART]);
  }
  if (cut.length === 0) return text;
  cut.sort((x, y) => x[0] - y[0]);
  let out = '';
  let at = 0;
  for (const [from, to] of cut) {
    if (to <= at) continue;
    if (from > at) out += text.slice(at, from);
    if (from >= at) out += '[redacted]';
    at = to;
  }
  return out + text.slice(at);
}

/** An upstream's error text as we keep it (messages, logs): keys removed, then truncated. */
export function upstreamText(message: string, secrets: ReadonlyArray<string | undefined>): string {
  return redact(message, secrets).slice(0, MAX_UPSTREAM_MESSAGE);
}

/** The upstream's own error message, type, code and param, if its body is one of the two vendor error shapes. */
export function upstreamMessage(bodyText: string): {
  message?: string;
  type?: string;
  code?: string;
  param?: string;
} {
  try {
    const parsed = JSON.parse(bodyText) as {
      error?: { message?: unknown; type?: unknown; code?: unknown; param?: unknown; details?: unknown };
    };
    const e = parsed?.error;
    if (e && typeof e === 'object') {
      // Anthropic puts its machine-readable cause in `details.error_code`; OpenAI in `code`.
      const detailCode = (e.details as { error_code?: unknown } | null | undefined)?.error_code;
      const code = typeof e.code === 'string' ? e.code : detailCode;
      return {
        message: typeof e.message === 'string' ? e.message : undefined,
        type: typeof e.type === 'string' ? e.type : undefined,
        code: typeof code === 'string' ? code : undefined,
        param: typeof e.param === 'string' ? e.param : undefined,
      };
    }
  } catch {
    // Not JSON: an HTML error page from a proxy, say. We do not echo it.
  }
  return {};
}

export type Vendor = 'openai' | 'anthropic' | 'gemini';

export interface HttpFailure {
  provider: string;
  vendor: Vendor;
  status: number;
  header: (name: string) => string | undefined;
  bodyText: string;
  secrets: ReadonlyArray<string | undefined>;
  nowMs: number;
}

/**
 * An answer that says this account cannot serve anyone until someone pays: Anthropic's 400 "Your credit balance is
 * too low" (an invalid_request_error by type, though no request would pass) and its billing_error, OpenAI's 429
 * insufficient_quota (a rate limit by status, though waiting does not help). Classified `auth`, as Gemini's
 * FAILED_PRECONDITION is: another target may answer, this one is not retried, and its breaker counts it.
 */
export function accountExhausted(
  vendor: Vendor,
  status: number,
  e: { message?: string | undefined; type?: string | undefined; code?: string | undefined },
): boolean {
  if (vendor === 'anthropic')
    return (
      e.type === 'billing_error' || (status === 400 && /credit balance is too low/i.test(e.message ?? ''))
    );
  return status === 429 && (e.code === 'insufficient_quota' || e.type === 'insufficient_quota');
}

/** A non-2xx upstream answer as a ProviderError. */
export function httpFailure(f: HttpFailure): ProviderError {
  if (f.vendor === 'gemini') return geminiHttpFailure(f);
  const e = upstreamMessage(f.bodyText);
  const { message, type } = e;
  const reason = accountExhausted(f.vendor, f.status, e)
    ? 'auth'
    : f.vendor === 'anthropic'
      ? reasonForAnthropicType(type, f.status)
      : reasonForStatus(f.status);
  const detail = message ? `: ${upstreamText(message, f.secrets)}` : '';
  return new ProviderError(reason, `provider "${f.provider}" answered HTTP ${f.status}${detail}`, {
    status: f.status,
    retryAfter: parseRetryAfter(f.header, f.nowMs),
    overloaded: overloadedFailure({ status: f.status, ...(type !== undefined ? { type } : {}) }),
    ...(reason === 'client_error' ? { rejection: rejection(f, e) } : {}),
  });
}

/**
 * What the client is told of an upstream's refusal of its request: the upstream's code, param and type where they
 * are plain identifiers without a key in them (anything else is dropped, never shown), a context-length refusal
 * under OpenAI's `context_length_exceeded` whatever vendor said it (LiteLLM maps them alike), and its rate limits.
 */
export function rejection(
  f: Pick<HttpFailure, 'vendor' | 'status' | 'header' | 'secrets'>,
  e: {
    message?: string | undefined;
    type?: string | undefined;
    code?: string | undefined;
    param?: string | undefined;
  },
): UpstreamRejection {
  const fault: UpstreamFault = {};
  const code =
    identifier(e.code, f.secrets) ??
    (e.message !== undefined && CONTEXT_LENGTH.test(e.message) ? 'context_length_exceeded' : undefined);
  if (code !== undefined) fault.code = code;
  const param = identifier(e.param, f.secrets);
  if (param !== undefined) fault.param = param;
  // An OpenAI-wire upstream's type is already an OpenAI type; the others' are not, and the registry's stands.
  const type = f.vendor === 'openai' ? identifier(e.type, f.secrets) : undefined;
  if (type !== undefined) fault.type = type;
  fault.anthropicType =
    f.status === 413 || (f.vendor === 'anthropic' && e.type === 'request_too_large')
      ? 'request_too_large'
      : 'invalid_request_error';
  return { fault, headers: rateLimitHeaders(f.header) ?? {} };
}

/**
 * How vendors word "the prompt does not fit the model": OpenAI and OpenAI-compatible servers (vLLM) "maximum context
 * length", Anthropic "prompt is too long" and "input length and `max_tokens` exceed context limit", Gemini "input
 * token count (N) exceeds the maximum number of tokens allowed".
 */
const CONTEXT_LENGTH =
  /maximum context length|context length exceeded|prompt is too long|exceed context limit|exceeds the maximum number of tokens/i;

/** A code, param or type as we pass it on: a short identifier (`messages[0].content`), or nothing. */
const IDENTIFIER = /^[A-Za-z0-9_.:[\]-]{1,100}$/;

function identifier(v: string | undefined, secrets: ReadonlyArray<string | undefined>): string | undefined {
  if (v === undefined || !IDENTIFIER.test(v)) return undefined;
  return redact(v, secrets) === v ? v : undefined;
}

/** The rate-limit headers vendors send, OpenAI's and Anthropic's, passed on under their own names. */
export const RATE_LIMIT_HEADERS: readonly string[] = [
  ...['limit', 'remaining', 'reset'].flatMap((k) =>
    ['requests', 'tokens'].map((what) => `x-ratelimit-${k}-${what}`),
  ),
  ...['requests', 'tokens', 'input-tokens', 'output-tokens'].flatMap((what) =>
    ['limit', 'remaining', 'reset'].map((k) => `anthropic-ratelimit-${what}-${k}`),
  ),
];

/** Values we pass on: counts, durations ("6m0s"), timestamps; nothing that could break a header or carry text. */
const HEADER_VALUE = /^[A-Za-z0-9.:+ -]{1,64}$/;

/** The rate-limit headers of an answer, or undefined when it has none (most answers of most upstreams). */
export function rateLimitHeaders(
  header: (name: string) => string | undefined,
): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  for (const name of RATE_LIMIT_HEADERS) {
    const v = header(name);
    if (v === undefined || !HEADER_VALUE.test(v)) continue;
    out ??= {};
    out[name] = v;
  }
  return out;
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);
const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);

/**
 * Any thrown value from an upstream call as a ProviderError. When our signal fired, its reason (a ProviderError for
 * our own deadlines) wins over whatever the socket layer threw.
 */
export function toProviderError(err: unknown, provider: string, signal?: AbortSignal): ProviderError {
  if (err instanceof ProviderError) return err;
  if (signal?.aborted) {
    const r: unknown = signal.reason;
    if (r instanceof ProviderError) return r;
    return new ProviderError('connection', `provider "${provider}": request aborted`, { cause: err });
  }
  const code = (err as { code?: unknown })?.code;
  const c = typeof code === 'string' ? code : '';
  if (TIMEOUT_CODES.has(c))
    return new ProviderError('timeout', `provider "${provider}": ${c}`, { cause: err });
  if (CONNECTION_CODES.has(c) || c.startsWith('UND_ERR'))
    return new ProviderError('connection', `provider "${provider}": connection failed (${c})`, {
      cause: err,
    });
  if (err instanceof SyntaxError)
    return new ProviderError('bad_response', `provider "${provider}": malformed JSON`, { cause: err });
  return new ProviderError('connection', `provider "${provider}": request failed`, { cause: err });
}

/** Gemini's errors carry a google.rpc status name and, for 429s, the retry delay in the body rather than a header. */
function geminiHttpFailure(f: HttpFailure): ProviderError {
  let body: unknown;
  try {
    body = JSON.parse(f.bodyText);
  } catch {
    // Not JSON: a proxy's error page. The status alone classifies it.
  }
  const info = geminiError(body);
  const reason = reasonForGeminiStatus(info.status, info.reasons) ?? reasonForStatus(f.status);
  const detail = info.message ? `: ${upstreamText(info.message, f.secrets)}` : '';
  return new ProviderError(reason, `provider "${f.provider}" answered HTTP ${f.status}${detail}`, {
    status: f.status,
    retryAfter: parseRetryAfter(f.header, f.nowMs) ?? info.retryDelay,
    overloaded: overloadedFailure({
      status: f.status,
      ...(info.status !== undefined ? { geminiStatus: info.status } : {}),
    }),
    // Gemini's google.rpc status names mean nothing to an OpenAI client: only a context-length refusal is named.
    ...(reason === 'client_error' ? { rejection: rejection(f, { message: info.message }) } : {}),
  });
}
