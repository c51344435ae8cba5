/** Wires the operator together: informers -> queue -> reconcile -> config hub, the sidecar server, ledger, lease. */

import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { type ModelBudget, modelBudget } from '../api/modelbudget.js';
import { listen } from '../http/listen.js';
import { tokenAuthenticator } from './auth.js';
import type { GrantPolicy } from './grants.js';
import { ConfigHub } from './hub.js';
import { apiCode, Kube, type ObjectRef } from './kube.js';
import { LeaderElector } from './lease.js';
import { LedgerService } from './ledger-service.js';
import { operatorMetrics } from './metrics.js';
import { TOKEN_AUDIENCE } from './protocol.js';
import { WorkQueue } from './queue.js';
import { reconcileNamespace } from './reconciler.js';
import { createOperatorServer, probeHandler, type TlsFiles } from './server.js';
import { watchKind } from './watch.js';

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
  identity?: string;
  leaseDurationSeconds?: number;
  leaseRenewMs?: number;
  debounceMs?: number;
  /** Re-reconcile everything this often (budget windows roll over without any event). */
  resyncMs?: number;
  grants?: Partial<GrantPolicy>;
  /**
   * Serve the sidecar API over HTTPS with these PEM files, or with what `load` returns (e.g. the webhook's
   * self-managed cert); re-read every minute, so a rotated Secret or renewed cert is picked up.
   */
  tls?: { certFile: string; keyFile: string } | { load(): Promise<TlsFiles> } | undefined;
  logger: Logger;
}

export interface RunningOperator {
  url: string;
  metricsUrl: string | undefined;
  hub: ConfigHub;
  isLeader(): boolean;
  /** Additional servers to close on stop (the webhook, when started alongside). */
  addCloser(fn: () => Promise<void>): void;
  stop(): Promise<void>;
}

export async function startOperator(opts: OperatorOptions): Promise<RunningOperator> {
  const log = opts.logger;
  const identity = opts.identity ?? `${hostname()}-${randomBytes(3).toString('hex')}`;
  const kube = new Kube(opts.kubeConfig, identity);
  const metrics = operatorMetrics();
  const closers: Array<() => Promise<void>> = [];
  let synced = false;

  const event = (ref: ObjectRef, type: 'Normal' | 'Warning', reason: string, message: string) => {
    kube
      .event(ref, type, reason, message)
      .catch((e) => log.warn({ err: String(e), reason }, 'cannot create Event'));
  };

  // Declared before use by the queue and hub callbacks; assigned right below.
  let queue: WorkQueue | undefined;
  const hub = new ConfigHub({
    onStatsChange: (ns) => {
      metrics.connectedSidecars.set(hub.connected());
      queue?.add(ns);
    },
    onNeedSnapshot: (ns) => queue?.add(ns, 0),
    onPush: () => metrics.pushes.inc(),
  });

  const elector = new LeaderElector(kube, {
    namespace: opts.leaseNamespace,
    name: opts.leaseName ?? 'tiermesh-operator',
    identity,
    ...(opts.leaseDurationSeconds !== undefined ? { durationSeconds: opts.leaseDurationSeconds } : {}),
    ...(opts.leaseRenewMs !== undefined ? { renewMs: opts.leaseRenewMs } : {}),
    onChange: (leader) => {
      metrics.leader.set(leader ? 1 : 0);
      log.info({ identity, leader }, leader ? 'became leader' : 'lost leadership');
      ledger.reset();
      // A new leader owes every namespace a status pass.
      if (leader) for (const ns of knownNamespaces()) queue?.add(ns);
    },
    onError: (e) => log.warn({ err: String(e) }, 'lease round failed'),
  });

  const routes = watchKind(kube, 'ModelRoute', {
    namespaces: opts.namespaces ?? [],
    onChange: (ns) => queue?.add(ns),
    onError: (kind, e) => log.warn({ kind, err: String(e) }, 'watch failed; restarting'),
  });
  const budgets = watchKind(kube, 'ModelBudget', {
    namespaces: opts.namespaces ?? [],
    onChange: (ns) => queue?.add(ns),
    onError: (kind, e) => log.warn({ kind, err: String(e) }, 'watch failed; restarting'),
  });
  const knownNamespaces = () =>
    new Set(
      [...routes.list(''), ...budgets.list('')].flatMap((o) =>
        o.metadata?.namespace ? [o.metadata.namespace] : [],
      ),
    );

  const ledger = new LedgerService({
    isLeader: () => elector.isLeader(),
    sidecars: (ns) => hub.connected(ns),
    ...(opts.grants ? { grants: opts.grants } : {}),
    store: {
      cached: (ns) =>
        budgets.list(ns).flatMap((o) => {
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
        event(
          { kind: 'ModelBudget', metadata: b.metadata },
          percent >= 100 ? 'Warning' : 'Normal',
          'BudgetThreshold',
          `spent ${status.spentUSD} of ${b.spec.limit.usd} USD (${percent}% threshold) in window starting ${status.windowStart}`,
        ),
      spend: (ns, name, usd) => metrics.spend.set({ namespace: ns, budget: name }, usd),
    },
  });

  const announced = new Set<string>();
  queue = new WorkQueue(
    async (ns) => {
      metrics.queueDepth.set(queue?.depth() ?? 0);
      try {
        const r = await reconcileNamespace(ns, {
          routes: (n) => routes.list(n),
          budgets: (n) => budgets.list(n),
          hub,
          isLeader: () => elector.isLeader(),
          writeRouteStatus: async (route, status) => {
            await kube.patchStatus({ kind: 'ModelRoute', metadata: route.metadata }, status);
          },
          refreshBudget: (n, name) => ledger.refresh(n, name),
          event,
          announced,
        });
        metrics.reconciles.inc({ result: 'ok' });
        log.debug({ namespace: ns, ...r }, 'reconciled');
      } catch (e) {
        metrics.reconciles.inc({ result: 'error' });
        throw e;
      }
    },
    {
      debounceMs: opts.debounceMs ?? 150,
      onError: (ns, e, n) =>
        log.warn({ namespace: ns, failures: n, err: String(e) }, 'reconcile failed; backing off'),
    },
  );
  // Events before the caches are filled would compile a partial namespace; hold the queue until then.
  const heldQueue = queue;
  queue = undefined;

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
  const server = createOperatorServer(
    {
      hub,
      authenticate: tokenAuthenticator((token) => kube.reviewToken(token, TOKEN_AUDIENCE)),
      ledger,
      ready: () => synced,
      onNack: () => metrics.nacks.inc(),
    },
    tls,
  );
  const url = await listen(server, opts.listen.host, opts.listen.port, tls ? 'https' : 'http');
  const tlsReload = setInterval(() => {
    readTls().then(
      (next) => {
        if (!next || (next.cert === tls?.cert && next.key === tls?.key)) return;
        (server as import('node:https').Server).setSecureContext(next);
        tls = next;
        log.info('sidecar API certificate reloaded');
      },
      (e) =>
        log.warn({ err: String(e) }, 'cannot re-read the sidecar API certificate; keeping the current one'),
    );
  }, 60_000);
  tlsReload.unref();

  let metricsServer: Server | undefined;
  let metricsUrl: string | undefined;
  if (opts.metrics) {
    const probes = probeHandler(() => synced);
    metricsServer = createServer((req, res) => {
      if (probes(req, res)) return;
      if ((req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      metrics.queueDepth.set(heldQueue.depth());
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    });
    metricsUrl = await listen(metricsServer, opts.metrics.host, opts.metrics.port);
  }

  elector.start();
  await Promise.all([routes.start(), budgets.start()]);
  queue = heldQueue;
  synced = true;
  // Including namespaces whose sidecars connected while the caches were filling.
  for (const ns of new Set([...knownNamespaces(), ...hub.namespaces()])) queue.add(ns, 0);
  const resync = setInterval(() => {
    for (const ns of knownNamespaces()) queue?.add(ns);
  }, opts.resyncMs ?? 60_000);
  log.info({ url, metricsUrl, identity }, 'operator started');

  return {
    url,
    metricsUrl,
    hub,
    isLeader: () => elector.isLeader(),
    addCloser: (fn) => closers.push(fn),
    async stop() {
      clearInterval(resync);
      clearInterval(tlsReload);
      heldQueue.stop();
      server.closeAllConnections();
      server.close();
      metricsServer?.closeAllConnections();
      metricsServer?.close();
      await Promise.all([routes.stop(), budgets.stop()]);
      await elector.stop();
      for (const fn of closers) await fn();
    },
  };
}
