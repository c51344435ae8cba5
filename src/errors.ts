/**
 * The one registry of every error tiermesh answers with: a stable code, its HTTP status, its OpenAI error type and
 * its Anthropic error type. Every error body any server of ours writes is built here (`errorBody`), in the shape of
 * the API the client speaks. docs/errors.md lists the same codes; errors.test.ts keeps the two in step.
 */
import type { OpenAIErrorBody } from './api/openai.js';

type OpenAIType =
  | 'invalid_request_error'
  | 'rate_limit_exceeded'
  | 'insufficient_quota'
  | 'api_error'
  | 'server_error'
  | 'authentication_error';

/** The `error.type` values of the Anthropic Messages API. */
type AnthropicType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'overloaded_error'
  | 'timeout_error';

interface ErrorDef {
  status: number;
  type: OpenAIType;
  anthropicType: AnthropicType;
  /** Who is at fault: decides whether a failure may count against anyone but the client. */
  blame: 'client' | 'budget' | 'upstream' | 'sidecar';
  /**
   * Other statuses an error of this code may carry instead of `status`: a provider's own, passed on so an SDK raises
   * the class it would for that provider (a 422 is UnprocessableEntityError, a 413 no BadRequestError).
   */
  statuses?: readonly number[];
  /**
   * The status an Anthropic Messages client gets instead of `status`, where Anthropic answers the same failure with
   * a status of its own (529 for overloaded_error, which the Anthropic SDK raises as OverloadedError).
   */
  anthropicStatus?: number;
}

export const errorCodes = {
  TM_INVALID_JSON: {
    status: 400,
    type: 'invalid_request_error',
    anthropicType: 'invalid_request_error',
    blame: 'client',
  },
  TM_INVALID_REQUEST: {
    status: 400,
    type: 'invalid_request_error',
    anthropicType: 'invalid_request_error',
    blame: 'client',
  },
  TM_UPSTREAM_REJECTED: {
    status: 400,
    statuses: [413, 422],
    type: 'invalid_request_error',
    anthropicType: 'invalid_request_error',
    blame: 'client',
  },
  TM_CONTEXT_TOO_LONG: {
    status: 400,
    type: 'invalid_request_error',
    anthropicType: 'invalid_request_error',
    blame: 'client',
  },
  TM_UNAUTHENTICATED: {
    status: 401,
    type: 'authentication_error',
    anthropicType: 'authentication_error',
    blame: 'client',
  },
  TM_FORBIDDEN: {
    status: 403,
    type: 'authentication_error',
    anthropicType: 'permission_error',
    blame: 'client',
  },
  TM_MODEL_NOT_FOUND: {
    status: 404,
    type: 'invalid_request_error',
    anthropicType: 'not_found_error',
    blame: 'client',
  },
  TM_NOT_FOUND: {
    status: 404,
    type: 'invalid_request_error',
    anthropicType: 'not_found_error',
    blame: 'client',
  },
  TM_METHOD_NOT_ALLOWED: {
    status: 405,
    type: 'invalid_request_error',
    anthropicType: 'invalid_request_error',
    blame: 'client',
  },
  TM_REQUEST_TIMEOUT: {
    status: 408,
    type: 'invalid_request_error',
    anthropicType: 'timeout_error',
    blame: 'client',
  },
  TM_BODY_TOO_LARGE: {
    status: 413,
    type: 'invalid_request_error',
    anthropicType: 'request_too_large',
    blame: 'client',
  },
  TM_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    type: 'invalid_request_error',
    anthropicType: 'invalid_request_error',
    blame: 'client',
  },
  TM_HEADERS_TOO_LARGE: {
    status: 431,
    type: 'invalid_request_error',
    anthropicType: 'invalid_request_error',
    blame: 'client',
  },
  TM_RATE_LIMITED: {
    status: 429,
    type: 'rate_limit_exceeded',
    anthropicType: 'rate_limit_error',
    blame: 'budget',
  },
  TM_BUDGET_EXCEEDED: {
    status: 429,
    type: 'insufficient_quota',
    anthropicType: 'rate_limit_error',
    blame: 'budget',
  },
  TM_QUEUE_FULL: {
    status: 429,
    type: 'rate_limit_exceeded',
    anthropicType: 'rate_limit_error',
    blame: 'budget',
  },
  TM_QUEUE_TIMEOUT: {
    status: 429,
    type: 'rate_limit_exceeded',
    anthropicType: 'rate_limit_error',
    blame: 'budget',
  },
  TM_UPSTREAM_ERROR: { status: 502, type: 'api_error', anthropicType: 'api_error', blame: 'upstream' },
  TM_ALL_TARGETS_FAILED: { status: 502, type: 'api_error', anthropicType: 'api_error', blame: 'upstream' },
  TM_UPSTREAM_OVERLOADED: {
    status: 502,
    anthropicStatus: 529,
    type: 'api_error',
    anthropicType: 'overloaded_error',
    blame: 'upstream',
  },
  TM_BREAKER_OPEN: { status: 503, type: 'api_error', anthropicType: 'overloaded_error', blame: 'upstream' },
  TM_UPSTREAM_TIMEOUT: { status: 504, type: 'api_error', anthropicType: 'timeout_error', blame: 'upstream' },
  TM_NOT_READY: { status: 503, type: 'server_error', anthropicType: 'overloaded_error', blame: 'sidecar' },
  TM_INVALID_CONFIG: { status: 500, type: 'server_error', anthropicType: 'api_error', blame: 'sidecar' },
  TM_INTERNAL: { status: 500, type: 'server_error', anthropicType: 'api_error', blame: 'sidecar' },
} as const satisfies Record<string, ErrorDef>;

export type ErrorCode = keyof typeof errorCodes;

/**
 * `{ type: "error", error: { type, message } }`, what the Anthropic API and its SDKs expect. `details.error_code` is
 * where the Anthropic API puts a machine-readable cause (the SDK's `err.errorCode`).
 */
export interface AnthropicErrorBody {
  type: 'error';
  error: {
    type: AnthropicType;
    message: string;
    details?: { error_code?: string; param?: string };
  };
}

/**
 * A provider's own account of why it refused a request (TM_UPSTREAM_REJECTED): its code, param and types, already
 * checked to be short identifiers with no key in them (upstream-errors.ts), so they can go into any body.
 */
export interface UpstreamFault {
  code?: string;
  param?: string;
  /** The OpenAI-style `error.type` it gave, e.g. `invalid_request_error`. */
  type?: string;
  /** The Anthropic type an Anthropic client gets, e.g. `request_too_large` for a 413. */
  anthropicType?: AnthropicType;
}

/** The API dialect a client speaks, which decides the shape of the error body it gets. */
export type ErrorDialect = 'openai' | 'anthropic';

export class TiermeshError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly param: string | null;
  /** Seconds a client should wait, sent as Retry-After on 429/503. */
  readonly retryAfter: number | undefined;
  /**
   * The message for our own logs when `message` carries client text (a model name, a field value): logs never hold
   * what the client sent unless --log-prompts. Defaults to `message`.
   */
  readonly logMessage: string;
  /** The provider's own code, param and types, for an error that passes on a provider's refusal. */
  readonly upstream: UpstreamFault | undefined;
  /** Headers of the provider's answer the client gets with this error (its rate limits). */
  readonly headers: Readonly<Record<string, string>> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    opts: {
      param?: string;
      retryAfter?: number;
      cause?: unknown;
      logMessage?: string;
      /** One of the code's `statuses`; any other is ignored (the code's own status stands). */
      status?: number;
      upstream?: UpstreamFault;
      headers?: Record<string, string>;
    } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = 'TiermeshError';
    this.code = code;
    const def: ErrorDef = errorCodes[code];
    this.status =
      opts.status !== undefined && def.statuses?.includes(opts.status) === true ? opts.status : def.status;
    this.param = opts.param ?? null;
    this.retryAfter = opts.retryAfter;
    this.logMessage = opts.logMessage ?? message;
    this.upstream = opts.upstream;
    this.headers = opts.headers;
  }

  /**
   * The OpenAI error body (`{ error: { message, type, param, code } }`). A provider's refusal keeps the provider's
   * code, param and type, so a client branching on `code === "context_length_exceeded"` works through tiermesh.
   */
  toBody(): OpenAIErrorBody {
    const u = this.upstream;
    return {
      error: {
        message: this.message,
        type: u?.type ?? errorCodes[this.code].type,
        param: u?.param ?? this.param,
        code: u?.code ?? this.code,
      },
    };
  }

  toAnthropicBody(): AnthropicErrorBody {
    const u = this.upstream;
    const type = u?.anthropicType ?? errorCodes[this.code].anthropicType;
    if (u?.code === undefined && u?.param === undefined)
      return { type: 'error', error: { type, message: this.message } };
    const details: { error_code?: string; param?: string } = {};
    if (u.code !== undefined) details.error_code = u.code;
    if (u.param !== undefined) details.param = u.param;
    return { type: 'error', error: { type, message: this.message, details } };
  }

  /** The status a client of the given API gets: Anthropic's own where it has one (529 overloaded), else `status`. */
  statusFor(dialect: ErrorDialect = 'openai'): number {
    const def: ErrorDef = errorCodes[this.code];
    return dialect === 'anthropic' && def.anthropicStatus !== undefined ? def.anthropicStatus : this.status;
  }

  /** What a log line says about this error: the code and the log-safe message. */
  toLog(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.logMessage };
  }
}

/** The error body for a client of the given API. */
export function errorBody(
  e: TiermeshError,
  dialect: ErrorDialect = 'openai',
): OpenAIErrorBody | AnthropicErrorBody {
  return dialect === 'anthropic' ? e.toAnthropicBody() : e.toBody();
}

export function isTiermeshError(e: unknown): e is TiermeshError {
  return e instanceof TiermeshError;
}

/** Any thrown value as a TiermeshError; unknown failures become TM_INTERNAL without leaking their text. */
export function toTiermeshError(e: unknown): TiermeshError {
  if (e instanceof TiermeshError) return e;
  return new TiermeshError('TM_INTERNAL', 'internal error', { cause: e });
}

/** Whether a code is the client's own doing (or its budget's): such failures never count against a provider. */
export function blameOf(code: ErrorCode): ErrorDef['blame'] {
  return errorCodes[code].blame;
}
