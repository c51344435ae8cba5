/** Pure retry/failover decisions: Retry-After parsing and what to do after a failed attempt (backoff: src/backoff.ts). */
import { backoffDelay } from '../backoff.js';
import type { FailureReason } from './types.js';

/**
 * Seconds to wait from an upstream's headers, or undefined. `retry-after-ms` (OpenAI) wins over `retry-after`,
 * which may be delta-seconds or an HTTP date. Garbage, negative and absurd values are ignored.
 */
export function parseRetryAfter(
  get: (name: string) => string | undefined,
  nowMs: number,
): number | undefined {
  const ms = get('retry-after-ms')?.trim();
  if (ms && /^\d+(\.\d+)?$/.test(ms)) return sane(Number(ms) / 1000);
  const raw = get('retry-after')?.trim();
  if (!raw) return undefined;
  if (/^\d+(\.\d+)?$/.test(raw)) return sane(Number(raw));
  // All three HTTP date formats start with a day name; anything else (e.g. "-3") is not a date, whatever Date.parse thinks.
  if (!/^[A-Za-z]/.test(raw)) return undefined;
  const date = Date.parse(raw);
  if (Number.isNaN(date)) return undefined;
  return sane(Math.max(0, (date - nowMs) / 1000));
}

/** A day is longer than any deadline we run with; beyond that the header is wrong. */
function sane(seconds: number): number | undefined {
  return Number.isFinite(seconds) && seconds >= 0 && seconds <= 86_400 ? seconds : undefined;
}

export interface RetrySettings {
  /** Retries per target after the first try. */
  attempts: number;
  backoffMs: number;
  maxBackoffMs: number;
}

export type NextStep =
  | { kind: 'retry'; delayMs: number }
  | { kind: 'next-target' }
  /** The failure is the caller's (a 400): every other target would refuse it too. */
  | { kind: 'stop' };

export interface FailureContext {
  reason: FailureReason;
  /** Seconds, from the failed answer's Retry-After. */
  retryAfter: number | undefined;
  /** Tries already made on this target, including the one that just failed. */
  triesOnTarget: number;
  retries: RetrySettings;
  /** Time left before the request's deadline. */
  remainingMs: number;
  /** Whether another target follows this one in the plan. */
  hasNextTarget: boolean;
  /** A number in [0, 1) for jitter; injected so the decision stays pure. */
  random: number;
}

/** Reasons where trying the same target again cannot help soon: move on at once. */
const MOVE_ON: ReadonlySet<FailureReason> = new Set<FailureReason>([
  'breaker_open',
  'unavailable',
  'auth',
  // A hung upstream usually stays hung, and another full timeout would eat the request's deadline.
  'timeout',
  'quality',
]);

/** What to do after an attempt failed. */
export function afterFailure(c: FailureContext): NextStep {
  if (c.reason === 'client_error') return { kind: 'stop' };
  if (MOVE_ON.has(c.reason)) return { kind: 'next-target' };
  if (c.triesOnTarget > c.retries.attempts) return { kind: 'next-target' };
  const asked = c.retryAfter !== undefined ? Math.ceil(c.retryAfter * 1000) : undefined;
  // A Retry-After longer than we would ever back off says "busy for a while": another target may answer now.
  if (asked !== undefined && asked > c.retries.maxBackoffMs && c.hasNextTarget)
    return { kind: 'next-target' };
  const delayMs =
    asked ??
    backoffDelay(c.triesOnTarget, { baseMs: c.retries.backoffMs, maxMs: c.retries.maxBackoffMs }, c.random);
  if (delayMs >= c.remainingMs) return { kind: 'next-target' };
  return { kind: 'retry', delayMs };
}

/** A stream's first-output deadline when the route sets no `firstByteTimeoutMs`. */
export const STREAM_FIRST_BYTE_TIMEOUT_MS = 15_000;

/**
 * The first-byte deadline of one attempt. A stream's first byte is its first chunk, so a stream that does not start
 * soon is left for the next target. A whole (non-streamed) answer's first byte is the whole answer (OpenAI-style
 * servers send no header before it is complete), so a default there would fail every long answer, and SDKs retry
 * the 504, paying for the generation again: only a value the route sets applies, and without one `timeoutMs`
 * bounds the call alone (as LiteLLM keeps `stream_timeout` apart from `timeout`).
 */
export function firstByteDeadlineMs(
  res: { timeoutMs: number; firstByteTimeoutMs?: number | undefined },
  stream: boolean,
): number {
  if (res.firstByteTimeoutMs !== undefined) return res.firstByteTimeoutMs;
  return stream ? Math.min(STREAM_FIRST_BYTE_TIMEOUT_MS, res.timeoutMs) : res.timeoutMs;
}
