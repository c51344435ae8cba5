/** Assembles a running sidecar: config store, runtime builder, metrics, logger, chat pipeline and HTTP server. */

import { monitoringOf } from '../api/modelroute.js';
import type { Snapshot } from '../api/snapshot.js';
import type { Allowance } from '../budget/gate.js';
import { RateLimiter } from '../budget/ratelimit.js';
import type { UsageRecord } from '../budget/types.js';
import { BreakerBoard } from '../providers/breaker.js';
import { defaultKeyEnv, type KeyEnv, resolveKey } from '../providers/keys.js';
import { type DecisionLog, type DecisionLogOptions, openDecisionLog } from '../telemetry/decision-log.js';
import { createLogger, type Logger } from '../telemetry/logger.js';
import { SidecarMetrics } from '../telemetry/metrics.js';
import { countTokensHandler } from './apis/count-tokens.js';
import { anthropicMessagesApi, apiAdapter, responsesApi } from './apis/inbound-api.js';
import { ItemMemory } from './apis/item-memory.js';
import { newResponsesId } from './apis/responses.js';
import { type ApplyResult, ConfigStore } from './config-store.js';
import { DecisionRing } from './decisions.js';
import { DEFAULT_MAX_BODY_BYTES, SIDECAR_HOST, SIDECAR_PORT } from './defaults.js';
import { feedbackHandler, retryBlockedBy } from './feedback.js';
import { chatPipeline } from './pipeline.js';
import { DecisionRecorder } from './recorder.js';
import type { RoutingTally } from './routing-tally.js';
import { runtimeBuilder, type SidecarRuntime } from './runtime.js';
import { createSidecarServer, type SidecarServer } from './server.js';

export { DEFAULT_MAX_BODY_BYTES } from './defaults.js';

export interface SidecarOptions {
  host?: string;
  port?: number;
  /** Served on a non-loopback address on purpose (--allow-remote): no Host/Origin browser guard. */
  allowRemote?: boolean;
  maxBodyBytes?: number;
  logPrompts?: boolean;
  logger?: Logger;
  keyEnv?: KeyEnv;
  allowance?: Allowance;
  /** Receives every usage record (the operator link's reporter). */
  onUsage?: (u: UsageRecord) => void;
  /** Applied before listening; without one the sidecar starts unready and waits for `store.apply`. */
  snapshot?: Snapshot;
  /** The decision ring behind POST /v1/feedback: size and TTL (docs/feedback.md). */
  decisions?: { size?: number; ttlMs?: number };
  /** Feedback requests per minute this sidecar accepts (default 600). */
  feedbackRpm?: number;
  /** The opt-in JSONL decision log: a file rotated by size, or "-" for stdout. */
  decisionLog?: Omit<DecisionLogOptions, 'onError'>;
  /** Counts for the operator's ModelRoute.status.routing, when linked to one. */
  routingTally?: RoutingTally;
  /** The labels of the pod served (from the injector): only routes whose podSelector selects it run. */
  podLabels?: Record<string, string> | undefined;
}

export interface Sidecar {
  readonly url: string;
  readonly store: ConfigStore<SidecarRuntime>;
  readonly metrics: SidecarMetrics;
  readonly breakers: BreakerBoard;
  readonly server: SidecarServer;
  readonly logger: Logger;
  /** Recent decisions, as POST /v1/feedback sees them. */
  readonly decisions: DecisionRing;
  /** Drains in-flight requests, then stops. */
  close(graceMs?: number): Promise<void>;
}

export async function startSidecar(opts: SidecarOptions = {}): Promise<Sidecar> {
  const logger = opts.logger ?? createLogger();
  const metrics = new SidecarMetrics();
  const breakers = new BreakerBoard();
  breakers.on('state', (c) => {
    metrics.breakerState(c, c.state === 'half_open' ? 'half-open' : c.state);
    // Opening is what an operator must hear about; half-open and closed are the recovery.
    const level = c.state === 'open' ? 'warn' : 'info';
    logger[level](
      { route: c.route, provider: c.provider, model: c.model, state: c.state },
      'circuit breaker state change',
    );
  });
  breakers.on('added', (b) => metrics.breakerState(b, 'closed'));
  breakers.on('removed', (b) => metrics.breakerRemoved(b));
  const store = new ConfigStore<SidecarRuntime>(
    runtimeBuilder({
      breakers,
      ...(opts.keyEnv ? { keyEnv: opts.keyEnv } : {}),
      ...(opts.allowance ? { allowance: opts.allowance } : {}),
    }),
    opts.podLabels,
  );
  metrics.budgetsFrom(() => store.current?.budget.status(Date.now()) ?? []);
  store.onApplied((rt) => {
    metrics.config(rt.snapshot.version);
    metrics.routeTargets(
      rt.snapshot.routes.map((r) => ({
        route: r.name,
        maxEscalationRate: monitoringOf(r.spec).maxEscalationRate,
        calibrationOffset: r.calibration?.offset ?? 0,
      })),
    );
    metrics.budgetLimits(rt.snapshot.budgets.map((b) => ({ budget: b.name, limitUSD: b.spec.limit.usd })));
    metrics.refreshBudgets();
    for (const s of breakers.states())
      metrics.breakerState(s, s.state === 'half_open' ? 'half-open' : s.state);
    logger.info(
      {
        version: rt.snapshot.version,
        namespace: rt.snapshot.namespace,
        routes: rt.snapshot.routes.map((r) => r.name),
      },
      'config applied',
    );
    // A key file or mounted Secret that cannot be read is said once per version, at warn: its targets are skipped
    // (as a missing env var is, which the keyless demo relies on, so that stays quiet).
    for (const r of rt.snapshot.routes)
      for (const p of r.spec.providers) {
        if (!p.apiKey || p.apiKey.env !== undefined) continue;
        const k = resolveKey(p.apiKey, opts.keyEnv ?? defaultKeyEnv());
        if (!k.ok)
          logger.warn(
            { route: r.name, provider: p.name, why: k.why },
            'provider API key cannot be read: its targets are skipped until it can',
          );
      }
  });
  if (opts.snapshot) {
    const r: ApplyResult = store.apply(opts.snapshot);
    if (!r.ok) throw new Error(`invalid config: ${r.error}`);
  }
  const decisions = new DecisionRing(opts.decisions);
  let decisionLog: DecisionLog | undefined;
  if (opts.decisionLog) {
    let warned = false;
    decisionLog = openDecisionLog({
      ...opts.decisionLog,
      // Once per run: a full disk would otherwise add a warning to every request.
      onError: (e) => {
        if (warned) return;
        warned = true;
        logger.warn({ error: (e as Error).message }, 'decision log write failed; lines are being dropped');
      },
    });
  }
  const recorder = new DecisionRecorder({
    ring: decisions,
    metrics,
    log: decisionLog,
    tally: opts.routingTally,
    logPrompts: opts.logPrompts ?? false,
  });
  const chat = chatPipeline({
    store,
    metrics,
    logger,
    maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    logPrompts: opts.logPrompts ?? false,
    ...(opts.onUsage ? { onUsage: opts.onUsage } : {}),
    recorder,
  });
  const feedback = feedbackHandler({
    ring: decisions,
    // One bucket (maxUsers 1): the limit is the sidecar's, whoever sends the feedback.
    limiter: new RateLimiter({ rpm: opts.feedbackRpm ?? 600, maxUsers: 1 }),
    logPrompts: opts.logPrompts ?? false,
    maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    onFeedback: (e) => recorder.feedback(e),
    retry: chat.retry,
    retryBlocked: (r) => retryBlockedBy(store.current?.snapshot, r),
  });
  const itemMemory = new ItemMemory();
  const server = createSidecarServer({
    store,
    metrics,
    logger,
    allowRemote: opts.allowRemote ?? false,
    chat,
    feedback,
    explain: chat.explain,
    embeddings: chat.embeddings,
    messages: chat.serve(apiAdapter(anthropicMessagesApi, 'anthropic')),
    countTokens: countTokensHandler(
      opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      () => store.current?.snapshot,
    ),
    responses: chat.serve(
      apiAdapter(responsesApi({ memory: itemMemory, now: Date.now, newId: newResponsesId }), 'openai'),
    ),
  });
  const url = await server.listen(opts.host ?? SIDECAR_HOST, opts.port ?? SIDECAR_PORT);
  return {
    url,
    store,
    metrics,
    breakers,
    server,
    logger,
    decisions,
    async close(graceMs) {
      await server.close(graceMs);
      await chat.closeShadows();
      decisionLog?.close();
      breakers.shutdown();
      logger.flush();
    },
  };
}
