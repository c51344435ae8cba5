/** The operator's Prometheus metrics, on a registry of its own so tests and embedders never collide. */
import { Counter, Gauge, Registry } from 'prom-client';

export function operatorMetrics() {
  const registry = new Registry();
  const m = {
    registry,
    reconciles: new Counter({
      name: 'tiermesh_operator_reconciles_total',
      help: 'Namespace reconciles, by result.',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'tiermesh_operator_queue_depth',
      help: 'Namespaces waiting to reconcile.',
      registers: [registry],
    }),
    connectedSidecars: new Gauge({
      name: 'tiermesh_operator_connected_sidecars',
      help: 'Sidecars holding a config stream to this replica.',
      registers: [registry],
    }),
    pushes: new Counter({
      name: 'tiermesh_operator_config_pushes_total',
      help: 'Snapshots sent to sidecars.',
      registers: [registry],
    }),
    nacks: new Counter({
      name: 'tiermesh_operator_config_nacks_total',
      help: 'Snapshots sidecars refused.',
      registers: [registry],
    }),
    usageBatches: new Counter({
      name: 'tiermesh_operator_usage_batches_total',
      help: 'Usage batches answered, by result: ok (applied, or a resend already applied), rejected (not the leader, caches not synced, a bad body or identity) or error (a write failed; resent).',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    spend: new Gauge({
      name: 'tiermesh_operator_budget_spent_usd',
      help: 'Ledger spend in the current window, by the leader (a replica that loses the lease drops its series).',
      labelNames: ['namespace', 'budget'] as const,
      registers: [registry],
    }),
    tokenReviews: new Counter({
      name: 'tiermesh_operator_token_reviews_total',
      help: "TokenReviews sent to the apiserver, by reason: connect (a token the cache or a ticket could not vouch for; one per new token, not per message) or refresh (the background re-review of an open stream's token).",
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    rereviews: new Counter({
      name: 'tiermesh_operator_stream_rereviews_total',
      help: "Background re-reviews of open config streams' tokens, by result: accepted, rejected (the streams ended) or error (the apiserver did not answer; retried).",
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    revokedStreams: new Counter({
      name: 'tiermesh_operator_revoked_streams_total',
      help: 'Open config streams ended because a background re-review rejected their token.',
      registers: [registry],
    }),
    tickets: new Counter({
      name: 'tiermesh_operator_stream_tickets_total',
      help: 'Resumption tickets config streams presented, by result: accepted (no TokenReview) or refused (one instead).',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    tlsHandshakes: new Counter({
      name: 'tiermesh_operator_tls_handshakes_total',
      help: 'TLS handshakes on the sidecar API, by session: new (a full handshake) or resumed (a session ticket; cheaper on both sides).',
      labelNames: ['session'] as const,
      registers: [registry],
    }),
    leader: new Gauge({
      name: 'tiermesh_operator_leader',
      help: '1 while this replica holds the lease.',
      registers: [registry],
    }),
  };
  // Both reasons from the start, so a reader sees 0 rather than no series before the first review.
  for (const reason of ['connect', 'refresh'] as const) m.tokenReviews.inc({ reason }, 0);
  for (const session of ['new', 'resumed'] as const) m.tlsHandshakes.inc({ session }, 0);
  for (const result of ['ok', 'rejected', 'error'] as const) m.usageBatches.inc({ result }, 0);
  return m;
}
export type OperatorMetrics = ReturnType<typeof operatorMetrics>;
