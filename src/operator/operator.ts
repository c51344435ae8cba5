/**
 * Wires the operator together: informers -> queue -> reconcile -> config hub, the sidecar server, ledger, lease.
 * `startOperator` reads as the start-up order; each part has its own small starter below it:
 *
 *   the work queue, created paused -> the config hub -> informers -> replica sharing -> lease elector
 *   -> budget ledger, routing book -> sidecar API server -> metrics/probe server -> (lease campaign, replica sharing,
 *   informers synced) -> queue started
 */

import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { hostname } from 'node:os';
import type { TLSSocket } from 'node:tls';
import type { KubeConfig, V1OwnerReference } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { type ModelBudget, modelBudget } from '../api/modelbudget.js';
import { listen } from '../http/listen.js';
import { RetryLog } from '../telemetry/retry-log.js';
import { TICKET_REVIEW_BOUND_MS, tokenAuthenticator } from './auth.js';
import type { GrantPolicy } from './grants.js';
import { ConfigHub } from './hub.js';
import { apiCode, apiErrorMessage, apiFailureClass, Kube, type ObjectRef } from './kube.js';
import { LeaderElector, LeaseReleaseError } from './lease.js';
import { LedgerService } from './ledger-service.js';
import { operatorMetrics } from './metrics.js';
import { TOKEN_AUDIENCE } from './protocol.js';
import { WorkQueue } from './queue.js';
import { type ReconcileResult, reconcileNamespace } from './reconciler.js';
import { staleKeys } from './replica-stats.js';
import { ReplicaSharing } from './replicas.js';
import { RoutingBook } from './routing-status.js';
import { createOperatorServer, probeHandler, type ServerDeps, type TlsFiles } from './server.js';
import { servingTlsOptions } from './serving-tls.js';
import { StreamSessions } from './sessions.js';
import { startStreamReviews } from './stream-reviews.js';
import { reloadTicketKey } from './ticket-key-file.js';
import { ticketKeyFrom, ticketKeyFromSecret } from './tickets.js';
import { type KindWatch, watchKind } from './watch.js';

export interface HostPort {
  host: string;
  port: number;
}

export interface OperatorOptions {
  kubeConfig: KubeConfig;
  listen: HostPort;
  metrics?: HostPort | undefined;
  namespaces?: string[];
  leaseNamespace: string;
  leaseName?: string;
  /** Owner of the Lease (the pod's ServiceAccount, lease-owner.ts), so it goes when the release does. */
  leaseOwner?: V1OwnerReference;
  identity?: string;
  leaseDurationSeconds?: number;
  leaseRenewMs?: number;
  debounceMs?: number;
  /**
   * Re-reconcile everything this often, as a safety net only (controller-runtime's SyncPeriod): events drive
   * reconciles, and budget windows roll over by a requeue at each window's end.
   */
  resyncMs?: number;
  grants?: Partial<GrantPolicy>;
  /** How often status.routing is recomputed per route from the sidecars' reports (RoutingBook.status). */
  routingStatusMs?: number;
  /**
   * Serve the sidecar API over HTTPS with these PEM files, or with what `load` returns (e.g. the webhook's
   * self-managed cert); re-read every minute, so a rotated Secret or renewed cert is picked up.
   */
  tls?: { certFile: string; keyFile: string } | { load(): Promise<TlsFiles> } | undefined;
  /**
   * A secret file (at least 32 bytes, e.g. a mounted Secret) that keys the config streams' resumption tickets instead
   * of the serving key: for a sidecar API without TLS of its own. Re-read every minute.
   */
  ticketKeyFile?: string | undefined;
  /**
   * TICKET_REVIEW_BOUND_MS, for tests only (the hidden --ticket-review-bound-seconds): how long after a token's last
   * TokenReview its tickets stay good; open streams' tokens are re-reviewed from half of it on.
   */
  ticketReviewBoundMs?: number | undefined;
  logger: Logger;
}

export interface RunningOperator {
  url: string;
  metricsUrl: string | undefined;
  hub: ConfigHub;
  isLeader(): boolean;
  /** Additional servers to close on stop (the webhook, when started alongside). */
  addCloser(fn: () => Promise<void>): void;
  /**
   * The start of a graceful shutdown: /readyz answers 503 from now on, while everything keeps serving until stop(),
   * so the pod leaves its Service's endpoints before its listeners close.
   */
  drain(): void;
  stop(): Promise<void>;
}

export async function startOperator(opts: OperatorOptions): Promise<RunningOperator> {
  const core = operatorCore(opts);
  const { log, metrics } = core;
  let synced = false;
  let draining = false;
  /** What /readyz says: synced, and not draining before a shutdown (the leader still serves meanwhile). */
  const probeReady = () => synced && !draining;

  // Paused until the informer caches are filled: a reconcile before then would compile a partial namespace.
  // `reconcile` is defined below, once the parts it works with exist; nothing runs before queue.start().
  const queue = new WorkQueue((ns) => reconcile(ns), {
    paused: true,
    debounceMs: opts.debounceMs ?? 150,
    onError: (ns, e, failures, terminal) => {
      if (terminal)
        log.error({ namespace: ns, err: apiErrorMessage(e) }, 'reconcile failed; retried when it changes');
      else log.warn({ namespace: ns, failures, err: apiErrorMessage(e) }, 'reconcile failed; backing off');
    },
  });
  // `replicas` is only called once sidecars connect, which the API server started below lets them do.
  const hub = configHub(core, queue, () => replicas.sharing.changed());
  const watches = startWatches(core, opts, queue);
  const replicas = replicaSharing(core, opts, { hub, queue });
  const elector = leaderElector(core, opts, replicas, {
    onLeader: () => {
      ledger.reset();
      routingBook.clear();
      // A new leader owes every namespace a status pass.
      for (const ns of watches.namespaces()) queue.add(ns);
    },
    onFollower: () => {
      ledger.reset();
      // The new leader reports the spend; a stale copy here would be summed with its series.
      core.metrics.spend.reset();
      routingBook.clear();
    },
  });
  const ledger = budgetLedger(core, opts, { hub, watches, isLeader: () => elector.isLeader() });
  const routingBook = new RoutingBook(ROUTING_KEEP_MS, 10_000, opts.routingStatusMs ?? 10_000);
  const reconcile = reconcileWith(core, {
    hub,
    watches,
    ledger,
    routingBook,
    queue,
    isLeader: () => elector.isLeader(),
  });

  const api = await startSidecarApi(core, opts, {
    hub,
    ledger,
    ready: () => synced,
    probeReady,
    onRouting: (ns, sidecarId, reports) => {
      const now = Date.now();
      let due = routingBook.refreshMs;
      for (const r of reports) {
        routingBook.add(ns, { sidecarId, ...r }, now);
        due = Math.min(due, routingBook.dueIn(ns, r.route, now) ?? routingBook.refreshMs);
      }
      // When the book would show it; reports every second from every sidecar still make one reconcile per interval.
      queue.add(ns, due + STATUS_COALESCE_MS);
    },
  });
  const probes = opts.metrics
    ? await startMetricsServer(metrics, opts.metrics, {
        ready: probeReady,
        queueDepth: () => queue.depth(),
      })
    : undefined;

  elector.start();
  replicas.sharing.start();
  await watches.start();
  synced = true;
  queue.start();
  // Including namespaces whose sidecars connected while the caches were filling.
  for (const ns of new Set([...watches.namespaces(), ...hub.namespaces()])) queue.add(ns, 0);
  const resync = setInterval(() => {
    for (const ns of watches.namespaces()) queue.add(ns);
  }, opts.resyncMs ?? DEFAULT_RESYNC_MS);
  resync.unref();
  log.info({ url: api.url, metricsUrl: probes?.url, identity: core.identity }, 'operator started');

  const closers: Array<() => Promise<void>> = [];
  return {
    url: api.url,
    metricsUrl: probes?.url,
    hub,
    isLeader: () => elector.isLeader(),
    addCloser: (fn) => closers.push(fn),
    drain() {
      draining = true;
    },
    async stop() {
      clearInterval(resync);
      queue.stop();
      api.close();
      probes?.close();
      await watches.stop();
      await replicas.sharing.stop();
      await elector.stop();
      for (const fn of closers) await fn();
    },
  };
}

/** Two of the longest spec.monitoring.windowSeconds (7 days): the current window and the drift baseline. */
const ROUTING_KEEP_MS = 14 * 86_400_000;

/** Ten minutes, as a net under missed events; a budget rollover does not wait for it. */
const DEFAULT_RESYNC_MS = 600_000;

interface OperatorCore {
  log: Logger;
  identity: string;
  kube: Kube;
  metrics: ReturnType<typeof operatorMetrics>;
  event(ref: ObjectRef, type: 'Normal' | 'Warning', reason: string, message: string): void;
}

function operatorCore(opts: OperatorOptions): OperatorCore {
  const log = opts.logger;
  const identity = opts.identity ?? `${hostname()}-${randomBytes(3).toString('hex')}`;
  const kube = new Kube(opts.kubeConfig, identity);
  return {
    log,
    identity,
    kube,
    metrics: operatorMetrics(),
    event: (ref, type, reason, message) => {
      kube
        .event(ref, type, reason, message)
        .catch((e) => log.warn({ err: apiErrorMessage(e), reason }, 'cannot create Event'));
    },
  };
}

/** How long ACK/NACK and replica-count news waits to be batched into one status pass. */
const STATUS_COALESCE_MS = 20;

/**
 * The sidecars' config hub: a connect or an ACK/NACK changes route status, so it queues the namespace, and this
 * replica's stream counts, so `shareCounts` publishes them to the other replicas.
 */
function configHub(core: OperatorCore, queue: WorkQueue, shareCounts: () => void): ConfigHub {
  const hub: ConfigHub = new ConfigHub({
    onStatsChange: (ns) => {
      core.metrics.connectedSidecars.set(hub.connected());
      // ACKs are status-only news: a short coalescing delay, not the CRD debounce window.
      queue.add(ns, STATUS_COALESCE_MS);
      shareCounts();
    },
    onNeedSnapshot: (ns) => queue.add(ns, 0),
    onPush: () => core.metrics.pushes.inc(),
  });
  return hub;
}

interface Watches {
  routes: KindWatch;
  budgets: KindWatch;
  /** Namespaces with a ModelRoute or ModelBudget in the caches. */
  namespaces(): Set<string>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

function startWatches(core: OperatorCore, opts: OperatorOptions, queue: WorkQueue): Watches {
  const watch = (kind: 'ModelRoute' | 'ModelBudget') => {
    // An apiserver outage fails every restart of the watch: one warning for the outage, not one per retry.
    const failures = new RetryLog(core.log.child({ kind }), `${kind} watch`, apiFailureClass);
    return watchKind(core.kube, kind, {
      namespaces: opts.namespaces ?? [],
      onChange: (ns) => queue.add(ns),
      onError: (_k, e) => failures.failed(e, { err: apiErrorMessage(e) }),
      onListed: () => failures.succeeded(),
    });
  };
  const routes = watch('ModelRoute');
  const budgets = watch('ModelBudget');
  return {
    routes,
    budgets,
    namespaces: () =>
      new Set(
        [...routes.list(''), ...budgets.list('')].flatMap((o) =>
          o.metadata?.namespace ? [o.metadata.namespace] : [],
        ),
      ),
    start: async () => {
      await Promise.all([routes.start(), budgets.start()]);
    },
    stop: async () => {
      await Promise.all([routes.stop(), budgets.stop()]);
    },
  };
}

interface Replicas {
  sharing: ReplicaSharing;
  /** A replica's record outlives it by at most this long (SIGKILL); a clean stop removes it at once. */
  staleMs: number;
}

/** Stream counts shared between replicas on the Lease's annotations, so route status counts every replica's sidecars. */
function replicaSharing(
  core: OperatorCore,
  opts: OperatorOptions,
  deps: { hub: ConfigHub; queue: WorkQueue },
): Replicas {
  const renewMs = opts.leaseRenewMs ?? 2_000;
  const staleMs = Math.max(3 * renewMs, (opts.leaseDurationSeconds ?? 15) * 1000);
  const sharing = new ReplicaSharing({
    kube: core.kube,
    namespace: opts.leaseNamespace,
    name: leaseName(opts),
    identity: core.identity,
    hub: deps.hub,
    heartbeatMs: renewMs,
    staleMs,
    onRemoteChange: (ns) => deps.queue.add(ns, STATUS_COALESCE_MS),
    onError: (e) => core.log.debug({ err: apiErrorMessage(e) }, 'sharing stream counts failed; retrying'),
  });
  deps.hub.shareWith((ns) => sharing.remoteFor(ns));
  return { sharing, staleMs };
}

const leaseName = (opts: OperatorOptions) => opts.leaseName ?? 'tiermesh-operator';

function leaderElector(
  core: OperatorCore,
  opts: OperatorOptions,
  replicas: Replicas,
  on: { onLeader(): void; onFollower(): void },
): LeaderElector {
  // Renewals run every two seconds; an apiserver outage is one warning, not one per round.
  const leaseRounds = new RetryLog(core.log, 'lease round', apiFailureClass);
  return new LeaderElector(core.kube, {
    namespace: opts.leaseNamespace,
    name: leaseName(opts),
    identity: core.identity,
    // Other replicas' stream counts ride on the Lease; the holder drops records of replicas gone quiet.
    onLease: (lease) => replicas.sharing.observe(lease),
    prune: (annotations) => staleKeys(annotations, Date.now(), replicas.staleMs),
    ...(opts.leaseOwner ? { owner: opts.leaseOwner } : {}),
    ...(opts.leaseDurationSeconds !== undefined ? { durationSeconds: opts.leaseDurationSeconds } : {}),
    ...(opts.leaseRenewMs !== undefined ? { renewMs: opts.leaseRenewMs } : {}),
    onChange: (leader) => {
      core.metrics.leader.set(leader ? 1 : 0);
      core.log.info({ identity: core.identity, leader }, leader ? 'became leader' : 'lost leadership');
      if (leader) on.onLeader();
      else on.onFollower();
    },
    onError: (e) =>
      e instanceof LeaseReleaseError
        ? core.log.warn({ err: apiErrorMessage(e.cause) }, 'cannot release the lease; it expires on its own')
        : leaseRounds.failed(e, { err: apiErrorMessage(e) }),
    onRound: () => leaseRounds.succeeded(),
  });
}

function budgetLedger(
  core: OperatorCore,
  opts: OperatorOptions,
  deps: { hub: ConfigHub; watches: Watches; isLeader: () => boolean },
): LedgerService {
  const { kube, metrics } = core;
  return new LedgerService({
    isLeader: deps.isLeader,
    // Slices are sized by the sidecars of every replica, not just the leader's streams.
    sidecars: (ns) => deps.hub.stats(ns).connected,
    ...(opts.grants ? { grants: opts.grants } : {}),
    store: {
      cached: (ns) =>
        deps.watches.budgets.list(ns).flatMap((o) => {
          const r = modelBudget.safeParse(o);
          return r.success ? [r.data] : [];
        }),
      get: async (ns, name) => {
        const raw = await kube.get('ModelBudget', ns, name);
        if (!raw) return undefined;
        const r = modelBudget.safeParse(raw);
        return r.success ? r.data : undefined;
      },
      writeStatus: async (b, status) =>
        (await kube.patchStatus(
          { kind: 'ModelBudget', metadata: b.metadata },
          status,
          b.metadata.resourceVersion,
        )) as ModelBudget,
      isConflict: (e) => apiCode(e) === 409,
    },
    events: {
      threshold: (b, percent, status) =>
        core.event(
          { kind: 'ModelBudget', metadata: b.metadata },
          percent >= 100 ? 'Warning' : 'Normal',
          'BudgetThreshold',
          `spent ${status.spentUSD} of ${b.spec.limit.usd} USD (${percent}% threshold) in window starting ${status.windowStart}`,
        ),
      spend: (ns, name, usd) => metrics.spend.set({ namespace: ns, budget: name }, usd),
    },
  });
}

/** The queue's handler: one namespace reconciled against the caches, counted and logged. */
function reconcileWith(
  core: OperatorCore,
  deps: {
    hub: ConfigHub;
    watches: Watches;
    ledger: LedgerService;
    routingBook: RoutingBook;
    queue: WorkQueue;
    isLeader: () => boolean;
  },
): (ns: string) => Promise<ReconcileResult> {
  const announced = new Set<string>();
  return async (ns) => {
    try {
      const r = await reconcileNamespace(ns, {
        routes: (n) => deps.watches.routes.list(n),
        budgets: (n) => deps.watches.budgets.list(n),
        hub: deps.hub,
        isLeader: deps.isLeader,
        writeRouteStatus: async (route, status) => {
          await core.kube.patchStatus({ kind: 'ModelRoute', metadata: route.metadata }, status);
        },
        writeBudgetStatus: async (budget, status) => {
          await core.kube.patchStatus({ kind: 'ModelBudget', metadata: budget.metadata }, status);
        },
        refreshBudget: (n, name) => deps.ledger.refresh(n, name),
        routing: (n, route, windowSeconds, now) => deps.routingBook.status(n, route, windowSeconds, now),
        routingSince: (n, route, since, now) => deps.routingBook.totalsSince(n, route, since, now),
        log: (fields, message) => core.log.info(fields, message),
        event: core.event,
        announced,
      });
      // Reports that came in while the held routing status was fresh: a pass once it may be recomputed.
      const now = Date.now();
      let due: number | undefined;
      for (const o of deps.watches.routes.list(ns)) {
        const ms = o.metadata?.name ? deps.routingBook.dueIn(ns, o.metadata.name, now) : undefined;
        if (ms !== undefined) due = Math.min(due ?? ms, ms);
      }
      if (due !== undefined) deps.queue.add(ns, due + STATUS_COALESCE_MS);
      core.metrics.reconciles.inc({ result: 'ok' });
      core.log.debug({ namespace: ns, ...r }, 'reconciled');
      return r;
    } catch (e) {
      core.metrics.reconciles.inc({ result: 'error' });
      throw e;
    }
  };
}

/** Connections the kernel may queue for the sidecar API: more than the sidecars that reconnect together. */
const SIDECAR_API_BACKLOG = 8192;

/** The sidecar API (config stream, ACKs, usage, allowances), over HTTPS when given a certificate. */
async function startSidecarApi(
  core: OperatorCore,
  opts: OperatorOptions,
  deps: {
    hub: ConfigHub;
    ledger: LedgerService;
    ready: () => boolean;
    probeReady: () => boolean;
    onRouting: NonNullable<ServerDeps['onRouting']>;
  },
): Promise<{ url: string; close(): void }> {
  const { kube, log, metrics } = core;
  const tlsSource = opts.tls;
  const readTls = async (): Promise<TlsFiles | undefined> =>
    !tlsSource
      ? undefined
      : 'load' in tlsSource
        ? tlsSource.load()
        : {
            cert: await readFile(tlsSource.certFile, 'utf8'),
            key: await readFile(tlsSource.keyFile, 'utf8'),
          };
  let tls = await readTls();
  // Resumption tickets are keyed off the serving key (or the key file), which every replica shares and a restart
  // keeps; the key before a rotation is still accepted, so tickets issued just before it stay good for their short life.
  let ticketKeys: Buffer[] = [];
  const useTicketKey = (key: Buffer) => {
    if (!ticketKeys[0]?.equals(key)) ticketKeys = [key, ...ticketKeys].slice(0, 2);
  };
  const keyFile = opts.ticketKeyFile;
  // A key file that cannot be used at start is a configuration error; later, the last good key stays.
  if (keyFile) useTicketKey(ticketKeyFromSecret(await readFile(keyFile)));
  const keepTicketKey = (pem: string) => {
    if (keyFile) return;
    try {
      useTicketKey(ticketKeyFrom(pem));
    } catch (e) {
      log.warn(
        { err: String(e) },
        'cannot derive the ticket key from the serving key; streams get no tickets',
      );
    }
  };
  if (tls) keepTicketKey(tls.key);
  const reviewBoundMs = opts.ticketReviewBoundMs ?? TICKET_REVIEW_BOUND_MS;
  const authenticate = tokenAuthenticator(
    (token, reason) => {
      metrics.tokenReviews.inc({ reason });
      return kube.reviewToken(token, TOKEN_AUDIENCE);
    },
    { revokedMs: reviewBoundMs },
  );
  const sessions = new StreamSessions();
  // Keeps the open streams' tickets fresh across a restart and notices a token revoked on an open stream.
  const reviews = startStreamReviews({
    sessions,
    review: authenticate.review,
    boundMs: reviewBoundMs,
    onResult: (result) => metrics.rereviews.inc({ result }),
    onRevoked: (n) => {
      metrics.revokedStreams.inc(n);
      if (n) log.info({ streams: n }, 'a re-review rejected a token; its config streams ended');
    },
    onError: (e) => log.warn({ err: apiErrorMessage(e) }, 'cannot re-review a stream token; retrying later'),
  });
  const server = createOperatorServer(
    {
      hub: deps.hub,
      authenticate,
      sessions,
      vouch: authenticate.vouch,
      reviewedAt: authenticate.reviewedAt,
      revoked: authenticate.revoked,
      reviewBoundMs,
      ticketKeys: () => ticketKeys,
      onTicket: (accepted) => metrics.tickets.inc({ result: accepted ? 'accepted' : 'refused' }),
      ledger: deps.ledger,
      ready: deps.ready,
      probeReady: deps.probeReady,
      onRouting: deps.onRouting,
      onNack: () => metrics.nacks.inc(),
      onUsageBatch: (result) => metrics.usageBatches.inc({ result }),
    },
    tls,
  );
  // Whether sidecars resume their TLS sessions (serving-tls.ts): after a restart most handshakes should be resumed.
  if (tls)
    server.on('secureConnection', (s: TLSSocket) =>
      metrics.tlsHandshakes.inc({ session: s.isSessionReused() ? 'resumed' : 'new' }),
    );
  // A restarted operator is met by every sidecar at once, while it is still starting up: with Node's default accept
  // queue (511) the kernel dropped the connections beyond it, and each came back only after a TCP retransmit (1 s,
  // then 3 s), which made a 1,000-sidecar reconnect storm take several seconds (docs/scale.md). The kernel caps this
  // at net.core.somaxconn.
  const url = await listen(
    server,
    opts.listen.host,
    opts.listen.port,
    tls ? 'https' : 'http',
    SIDECAR_API_BACKLOG,
  );
  const tlsReload = setInterval(() => {
    if (keyFile)
      void reloadTicketKey(keyFile, useTicketKey, (err) =>
        log.warn({ err }, 'cannot re-read the ticket key; keeping the current one'),
      );
    readTls().then(
      (next) => {
        if (!next || (next.cert === tls?.cert && next.key === tls?.key)) return;
        (server as import('node:http2').Http2SecureServer).setSecureContext(servingTlsOptions(next));
        tls = next;
        keepTicketKey(next.key);
        log.info('sidecar API certificate reloaded');
      },
      (e) =>
        log.warn({ err: String(e) }, 'cannot re-read the sidecar API certificate; keeping the current one'),
    );
  }, 60_000);
  tlsReload.unref();
  return {
    url,
    close() {
      clearInterval(tlsReload);
      reviews.stop();
      server.closeAllConnections();
      server.close();
    },
  };
}

/** /metrics plus the /healthz and /readyz probes. */
async function startMetricsServer(
  metrics: ReturnType<typeof operatorMetrics>,
  at: HostPort,
  deps: { ready: () => boolean; queueDepth: () => number },
): Promise<{ url: string; close(): void }> {
  const probes = probeHandler(deps.ready);
  const server = createServer((req, res) => {
    if (probes(req, res)) return;
    if ((req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    metrics.queueDepth.set(deps.queueDepth());
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  });
  const url = await listen(server, at.host, at.port);
  return {
    url,
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}
