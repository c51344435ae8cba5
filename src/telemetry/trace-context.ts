/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) carried through the sidecar: the app's `traceparent` (and
 * its `tracestate`) go on to the upstream unchanged, as a proxy that records no spans of its own should pass them,
 * so a self-hosted model server that traces (vLLM, TGI, an OpenTelemetry-instrumented gateway) joins the app's trace;
 * and the trace id goes into the request's log line, so the line can be found from the trace. A malformed value is
 * dropped, never forwarded: the header is the client's text and reaches another server.
 */
import type { IncomingHttpHeaders } from 'node:http';

/** The headers forwarded upstream: `traceparent`, and `tracestate` only beside a valid `traceparent`. */
export type TraceContext = Readonly<{ traceparent: string; tracestate?: string }>;

// version 00 (the one defined); a future version is forwarded only in its 00-compatible prefix form (the spec's
// rule for parsers of an older version), so anything longer is not matched here and dropped.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);
/** The spec's bound on tracestate (32 list members of at most 256 bytes: 512 is what it asks vendors to keep). */
const MAX_TRACESTATE = 512;
// Printable ASCII without a comma-less control: what list members of key=value may hold.
const TRACESTATE = /^[\x20-\x7e]*$/;

export function traceContextOf(headers: IncomingHttpHeaders): TraceContext | undefined {
  const tp = headers['traceparent'];
  if (typeof tp !== 'string') return undefined;
  const m = TRACEPARENT.exec(tp);
  // Version ff is invalid; all-zero ids are invalid.
  if (!m || m[1] === 'ff' || m[2] === ZERO_TRACE || m[3] === ZERO_SPAN) return undefined;
  const ts = headers['tracestate'];
  const state = Array.isArray(ts) ? ts.join(',') : ts;
  if (state !== undefined && state.length > 0 && state.length <= MAX_TRACESTATE && TRACESTATE.test(state))
    return { traceparent: tp, tracestate: state };
  return { traceparent: tp };
}

/** The trace id of a valid context (the second field of traceparent). */
export function traceIdOf(ctx: TraceContext): string {
  return ctx.traceparent.slice(3, 35);
}
