/** One registry of every error tiermesh returns: a stable code, its HTTP status and its OpenAI error type. */
import type { OpenAIErrorBody } from './api/openai.js';

interface ErrorDef {
  status: number;
  type:
    | 'invalid_request_error'
    | 'rate_limit_exceeded'
    | 'insufficient_quota'
    | 'api_error'
    | 'server_error'
    | 'authentication_error';
}

export const errorCodes = {
  TM_INVALID_JSON: { status: 400, type: 'invalid_request_error' },
  TM_INVALID_REQUEST: { status: 400, type: 'invalid_request_error' },
  TM_BODY_TOO_LARGE: { status: 413, type: 'invalid_request_error' },
  TM_UNSUPPORTED_MEDIA_TYPE: { status: 415, type: 'invalid_request_error' },
  TM_MODEL_NOT_FOUND: { status: 404, type: 'invalid_request_error' },
  TM_NOT_FOUND: { status: 404, type: 'invalid_request_error' },
  TM_CONTEXT_TOO_LONG: { status: 400, type: 'invalid_request_error' },
  TM_RATE_LIMITED: { status: 429, type: 'rate_limit_exceeded' },
  TM_BUDGET_EXCEEDED: { status: 429, type: 'insufficient_quota' },
  TM_UNAUTHENTICATED: { status: 401, type: 'authentication_error' },
  TM_FORBIDDEN: { status: 403, type: 'authentication_error' },
  TM_NOT_READY: { status: 503, type: 'server_error' },
  TM_UPSTREAM_ERROR: { status: 502, type: 'api_error' },
  TM_UPSTREAM_TIMEOUT: { status: 504, type: 'api_error' },
  TM_ALL_TARGETS_FAILED: { status: 502, type: 'api_error' },
  TM_BREAKER_OPEN: { status: 503, type: 'api_error' },
  TM_INVALID_CONFIG: { status: 500, type: 'server_error' },
  TM_INTERNAL: { status: 500, type: 'server_error' },
} as const satisfies Record<string, ErrorDef>;

export type ErrorCode = keyof typeof errorCodes;

export class TiermeshError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly param: string | null;
  /** Seconds a client should wait, sent as Retry-After on 429/503. */
  readonly retryAfter: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { param?: string; retryAfter?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = 'TiermeshError';
    this.code = code;
    this.status = errorCodes[code].status;
    this.param = opts.param ?? null;
    this.retryAfter = opts.retryAfter;
  }

  toBody(): OpenAIErrorBody {
    return {
      error: { message: this.message, type: errorCodes[this.code].type, param: this.param, code: this.code },
    };
  }
}

export function isTiermeshError(e: unknown): e is TiermeshError {
  return e instanceof TiermeshError;
}

/** Any thrown value as a TiermeshError; unknown failures become TM_INTERNAL without leaking their text. */
export function toTiermeshError(e: unknown): TiermeshError {
  if (e instanceof TiermeshError) return e;
  return new TiermeshError('TM_INTERNAL', 'internal error', { cause: e });
}
