/** Wire format between sidecars and the operator: config stream events, ACK/NACK, usage batches, allowances. */
import { z } from 'zod';
import { sseEvent } from '../providers/sse.js';

export const STREAM_PATH = '/v1/config/stream';
export const ACK_PATH = '/v1/config/ack';
export const USAGE_PATH = '/v1/usage';
export const ALLOWANCE_PATH = '/v1/allowance';
/** Response header of the config stream: the handle its ACKs name, so they need no TokenReview of their own. */
export const STREAM_HEADER = 'x-tiermesh-stream';
/**
 * Request header of a reconnecting config stream: the resumption ticket the operator sent on the last one (a `ticket`
 * event, src/operator/tickets.ts), so the stream needs no TokenReview. Secret like the token it is bound to.
 */
export const TICKET_HEADER = 'x-tiermesh-ticket';
/** The config stream's event that carries a fresh resumption ticket: `{ "ticket": "..." }`. */
export const TICKET_EVENT = 'ticket';

/** Token audience sidecars request for their projected service-account token. */
export const TOKEN_AUDIENCE = 'tiermesh';

const sidecarId = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must use only A-Z a-z 0-9 . _ -');

export const ackBody = z.object({
  sidecarId,
  version: z.string().min(1).max(128),
  ok: z.boolean(),
  error: z.string().max(4096).optional(),
  namespace: z.string().optional(),
  /** The STREAM_HEADER of the stream that delivered the snapshot. */
  stream: z.string().max(64).optional(),
});
export type AckBody = z.infer<typeof ackBody>;

export const usageRecord = z.object({
  route: z.string().max(253),
  model: z.string().max(200),
  // Unbounded on purpose: a batch the operator refuses would be resent forever, holding up all later usage.
  user: z.string().optional(),
  inputTokens: z.number().int().min(0),
  outputTokens: z.number().int().min(0),
  costUSD: z.number().min(0),
  baselineCostUSD: z.number().min(0),
  at: z.number(),
});

/**
 * What the sidecar counted for one route since its previous report (src/sidecar/routing-tally.ts), for
 * ModelRoute.status.routing: counts only, no prompt, user or request id. The batch's sidecarId says whose.
 */
export const routingReport = z.object({
  route: z.string().min(1).max(253),
  /** Epoch ms: the interval [from, to) the counts cover. */
  from: z.number().int().min(0),
  to: z.number().int().min(0),
  requests: z.record(z.string().max(63), z.number().int().min(0)).refine((r) => Object.keys(r).length <= 64, {
    message: 'at most 64 tiers',
  }),
  escalations: z.number().int().min(0),
  feedbackCount: z.number().int().min(0),
  feedbackSum: z.number().min(0),
});
export type RoutingReport = z.infer<typeof routingReport>;

/** At most this many routing reports per batch are read; the rest are dropped. */
export const MAX_ROUTING_REPORTS = 1_000;

/** The well-formed reports of a batch (an interval that ends before it starts is not). */
export function validRoutingReports(reports: unknown[] | undefined): RoutingReport[] | undefined {
  if (reports === undefined) return undefined;
  return reports.slice(0, MAX_ROUTING_REPORTS).flatMap((r) => {
    const p = routingReport.safeParse(r);
    return p.success && p.data.from <= p.data.to ? [p.data] : [];
  });
}

export const usageBody = z
  .object({
    sidecarId,
    seq: z.number().int().min(1),
    records: z.array(usageRecord).max(100_000),
    /**
     * Optional (sidecars from before it send none): the routing counts since the last batch, per route. A malformed
     * report is dropped, not refused: a refused batch is resent forever, and usage must never wait on routing data.
     */
    routing: z.array(z.unknown()).optional().transform(validRoutingReports),
    namespace: z.string().optional(),
    /** A draining sidecar's last batch: everything before it was answered, its dedup entry may go. */
    retire: z.boolean().optional(),
  })
  .refine((b) => !b.retire || b.records.length === 0, {
    message: 'a retire batch carries no records',
    path: ['records'],
  });
export type UsageBody = z.infer<typeof usageBody>;

export const usageReply = z.object({ applied: z.boolean() });

export const allowanceRequest = z.object({
  sidecarId,
  budget: z.string().min(1).max(253),
  namespace: z.string().optional(),
  /** The sidecar just came back from serving on local knowledge: since when, and what it spent beyond its slices. */
  local: z.object({ sinceMs: z.number().int().min(0), spentUSD: z.number().min(0).max(1e9) }).optional(),
  /** What one request of this sidecar costs (its last estimate): slices are not made smaller than that. */
  wantUSD: z.number().min(0).max(1e6).optional(),
});
export type AllowanceRequest = z.infer<typeof allowanceRequest>;

export const allowanceReply = z.object({
  grantUSD: z.number().min(0),
  ttlMs: z.number().int().min(0),
  remainingUSD: z.number(),
});
export type AllowanceReply = z.infer<typeof allowanceReply>;

/** One server-sent event: `snapshot` carries a full config, `current` says the sidecar's version is up to date. */
// One SSE encoder for the product: the config stream's events are the same wire format as the answers'.
export { sseEvent };

/**
 * `sseEvent` that encodes each object once: a push or a reconnect storm sends one published snapshot to every stream
 * of its namespace, and serializing it per stream made N copies of the same work. Keyed by the object (a WeakMap, so
 * a replaced snapshot is collected), which is sound because published snapshots are never mutated.
 */
export function sharedSseEncoder(): (event: string, data: unknown, id?: string) => string {
  const memo = new WeakMap<object, { event: string; id: string | undefined; text: string }>();
  return (event, data, id) => {
    if (typeof data !== 'object' || data === null) return sseEvent(event, data, id);
    const hit = memo.get(data);
    if (hit && hit.event === event && hit.id === id) return hit.text;
    const text = sseEvent(event, data, id);
    memo.set(data, { event, id, text });
    return text;
  };
}
