/** The injector's HTTPS server: `/mutate` for the apiserver, certs kept fresh (self-managed, cert-manager or provided). */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  AdmissionregistrationV1Api,
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
} from '@kubernetes/client-node';
import { type Logger, pino } from 'pino';
import { GROUP, VERSION } from '../api/common.js';
import { type Backoff, backoffDelay } from '../backoff.js';
import { deny, parseReview, review } from './admission.js';
import { ensureCertSecret, publishCaBundle } from './cert-store.js';
import { type InjectorConfigInput, injectorConfig } from './injector-config.js';
import { type MutateDeps, mutate } from './mutate.js';

export type CertMode = 'self' | 'cert-manager' | 'provided';

export interface WebhookServerOptions {
  kubeConfig: KubeConfig;
  /** The operator's namespace: holds the cert Secret and is never injected. */
  namespace: string;
  /** Sidecar image, version and operator URL; operatorNamespace defaults to `namespace`. */
  injector: Omit<InjectorConfigInput, 'operatorNamespace'> & { operatorNamespace?: string };
  host?: string;
  /** 0 picks a free port (tests). */
  port?: number;
  certMode?: CertMode;
  /** self: Secret holding CA + serving cert. */
  certSecretName?: string;
  /** self: the MutatingWebhookConfiguration whose caBundle this server keeps current (only this one is touched). */
  webhookConfigName?: string;
  /** Service name the apiserver dials; the serving cert covers its in-cluster DNS names. */
  serviceName?: string;
  extraDnsNames?: string[];
  extraIPs?: string[];
  /** cert-manager/provided: directory with tls.crt and tls.key (a mounted Secret; re-read on every refresh). */
  certDir?: string;
  /** How often certs are re-checked (renewal, rotation by another replica, remounted files). */
  refreshIntervalMs?: number;
  logger?: Logger;
}

export interface WebhookServer {
  url: string;
  port: number;
  /** PEM bundle clients must trust (self mode); undefined when someone else issues the certs. */
  caBundle(): string | undefined;
  /**
   * The PEM bundle injected sidecars trust for the operator's sidecar API: the self-managed caBundle, else the
   * mounted Secret's ca.crt (cert-manager and kubernetes.io/tls Secrets carry one), else undefined.
   */
  operatorCA(): string | undefined;
  /** The serving certificate and key in use now, so the operator's sidecar API can serve the same one. */
  servingCert(): { cert: string; key: string };
  /** Re-checks the certs now; normally driven by the timer. */
  refresh(): Promise<void>;
  /**
   * The start of a graceful shutdown: keeps answering, but every answer closes its connection (and idle kept-alive
   * ones are closed now), so the apiserver opens new connections, which reach the replicas that stay.
   */
  drain(): void;
  /** Stops accepting, lets answers in flight finish (up to 2 s), then closes what is left. */
  close(): Promise<void>;
}

/** The apiserver caps request bodies at 3 MiB, so nothing larger is a genuine AdmissionReview. */
const MAX_BODY = 3 * 1024 * 1024 + 64 * 1024;

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? `${body}\n` : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
  });
  res.end(text);
}

/** How retryTransient retries: how often, with which backoff (src/backoff.ts), and how it waits (tests record it). */
export interface TransientRetry {
  retries: number;
  backoff: Backoff;
  sleep?: (ms: number) => Promise<void>;
}

/** 250 then 500 ms: 0.75 s at most, well inside the webhook's timeout. */
export const TRANSIENT_RETRY: TransientRetry = { retries: 2, backoff: { baseMs: 250, maxMs: 1_000 } };

/**
 * Retries a read the apiserver asked us to retry (429, e.g. "storage is (re)initializing" while a watch cache
 * warms up; 503/504), with the project's one backoff. Bounded well inside the webhook timeout, so a persistent
 * failure still reaches the failurePolicy in time. No jitter: one webhook replica's own reads, nothing to spread.
 */
export async function retryTransient<T>(
  fn: () => Promise<T>,
  opts: TransientRetry = TRANSIENT_RETRY,
): Promise<T> {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  for (let retry = 1; ; retry++) {
    try {
      return await fn();
    } catch (e) {
      const code = e instanceof ApiException ? e.code : undefined;
      if (retry > opts.retries || (code !== 429 && code !== 503 && code !== 504)) throw e;
      await sleep(backoffDelay(retry, opts.backoff));
    }
  }
}

/** Cluster lookups for mutate(): namespace labels and the namespace's ModelRoutes, read-only. */
export function kubeLookups(kc: KubeConfig): Omit<MutateDeps, 'cfg'> {
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  return {
    async namespaceLabels(name) {
      return (await retryTransient(() => core.readNamespace({ name }))).metadata?.labels;
    },
    async routesIn(namespace) {
      try {
        // resourceVersion "0": served from the watch cache as it is. A consistent list waits for the cache to catch
        // up with every write in the cluster (measured: ~70 ms more per injected pod while pods are being created);
        // a route changed milliseconds ago is not worth that, and pods are re-created to pick up new keys anyway.
        const list = (await retryTransient(() =>
          custom.listNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            namespace,
            plural: 'modelroutes',
            resourceVersion: '0',
          }),
        )) as { items?: unknown[] };
        return list.items ?? [];
      } catch (e) {
        // No CRD yet (operator installed without it): no routes, so no keys to mount.
        if (e instanceof ApiException && e.code === 404) return [];
        throw e;
      }
    },
  };
}

export function serviceDnsNames(service: string, namespace: string): string[] {
  return [
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.cluster.local`,
  ];
}

export async function startWebhookServer(opts: WebhookServerOptions): Promise<WebhookServer> {
  // The operator passes its own logger; this default is for standalone use and tests. No pod contents are logged.
  const log =
    opts.logger ?? pino({ base: { component: 'webhook' }, timestamp: pino.stdTimeFunctions.isoTime });
  const certMode = opts.certMode ?? 'self';
  const cfg = injectorConfig.parse({ operatorNamespace: opts.namespace, ...opts.injector });
  const deps: MutateDeps = { cfg, ...kubeLookups(opts.kubeConfig) };
  const core = opts.kubeConfig.makeApiClient(CoreV1Api);
  const admission = opts.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  const dnsNames = [
    ...serviceDnsNames(opts.serviceName ?? 'tiermesh-operator', opts.namespace),
    ...(opts.extraDnsNames ?? []),
  ];
  const ipAddresses = opts.extraIPs ?? ['127.0.0.1'];

  type Loaded = { cert: string; key: string; caBundle: string | undefined; operatorCA: string | undefined };
  let current: Loaded | undefined;

  async function loadCerts(): Promise<Loaded> {
    if (certMode === 'self') {
      const { bundle, renewed } = await ensureCertSecret(core, {
        namespace: opts.namespace,
        name: opts.certSecretName ?? 'tiermesh-webhook-certs',
        dnsNames,
        ipAddresses,
      });
      if (renewed) log.info({ reason: renewed }, 'webhook certificates renewed');
      return {
        cert: bundle.tlsCert,
        key: bundle.tlsKey,
        caBundle: bundle.caBundle,
        operatorCA: bundle.caBundle,
      };
    }
    if (!opts.certDir)
      throw new Error(`certMode ${certMode} needs certDir (the mounted serving-cert Secret)`);
    const [cert, key, ca] = await Promise.all([
      readFile(join(opts.certDir, 'tls.crt'), 'utf8'),
      readFile(join(opts.certDir, 'tls.key'), 'utf8'),
      readFile(join(opts.certDir, 'ca.crt'), 'utf8').catch(() => undefined),
    ]);
    return { cert, key, caBundle: undefined, operatorCA: ca?.trim() ? ca : undefined };
  }

  current = await loadCerts();
  deps.operatorCA = () => current?.operatorCA;

  let draining = false;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Shutting down: no connection is kept for a next call that would find this replica gone.
    if (draining) res.setHeader('connection', 'close');
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz' && req.method === 'GET') return send(res, 200, 'ok');
    if (path !== '/mutate') return send(res, 404, `no such path ${path}; the injector serves POST /mutate`);
    if (req.method !== 'POST') return send(res, 405, 'use POST with an AdmissionReview body');
    if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) {
      return send(res, 415, 'content-type must be application/json');
    }
    const body = await readBody(req);
    if (!body) return send(res, 413, 'request body too large for an AdmissionReview');
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      return send(
        res,
        400,
        'request body is not valid JSON; expected an admission.k8s.io/v1 AdmissionReview',
      );
    }
    const parsed = parseReview(json);
    if (parsed.kind === 'not-a-review') return send(res, 400, parsed.message);
    if (parsed.kind === 'invalid') return send(res, 200, review(deny(parsed.uid, 400, parsed.message)));
    const { request } = parsed;
    try {
      const outcome = await mutate(request, deps);
      log.info(
        {
          uid: request.uid,
          namespace: request.namespace,
          allowed: outcome.response.allowed,
          patched: !!outcome.response.patch,
          reason: outcome.reason,
        },
        'admission',
      );
      return send(res, 200, review(outcome.response));
    } catch (e) {
      // Not an answer: the apiserver then applies the webhook's failurePolicy (Ignore admits the pod uninjected).
      log.error(
        { uid: request.uid, namespace: request.namespace, err: e instanceof Error ? e.message : String(e) },
        'admission failed',
      );
      return send(res, 500, 'injector could not decide (cluster lookup failed); see operator logs');
    }
  }

  const server: Server = createServer(
    { cert: current.cert, key: current.key, minVersion: 'TLSv1.2' },
    (req, res) => {
      handle(req, res).catch((e: unknown) => {
        log.error({ err: e instanceof Error ? e.message : String(e) }, 'webhook handler failed');
        if (!res.headersSent) send(res, 500, 'internal error');
        else res.destroy();
      });
    },
  );
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  async function publish(): Promise<void> {
    if (certMode !== 'self' || !opts.webhookConfigName || !current?.caBundle) return;
    try {
      if (await publishCaBundle(admission, opts.webhookConfigName, current.caBundle)) {
        log.info({ webhookConfiguration: opts.webhookConfigName }, 'caBundle published');
      }
    } catch (e) {
      // Installed before its configuration (or the configuration was deleted): the next refresh publishes.
      if (!(e instanceof ApiException && e.code === 404)) throw e;
      log.warn(
        { webhookConfiguration: opts.webhookConfigName },
        'MutatingWebhookConfiguration not found; caBundle not published yet',
      );
    }
  }

  async function refresh(): Promise<void> {
    const next = await loadCerts();
    if (next.cert !== current?.cert || next.key !== current?.key) {
      server.setSecureContext({ cert: next.cert, key: next.key, minVersion: 'TLSv1.2' });
      log.info('webhook serving certificate reloaded');
    }
    current = next;
    await publish();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 9443, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  try {
    await publish();
  } catch (e) {
    server.close();
    throw e;
  }

  const timer = setInterval(() => {
    refresh().catch((e: unknown) =>
      log.warn({ err: e instanceof Error ? e.message : String(e) }, 'webhook cert refresh failed'),
    );
  }, opts.refreshIntervalMs ?? 3_600_000);
  timer.unref();

  const { port } = server.address() as AddressInfo;
  const host = opts.host ?? '127.0.0.1';
  return {
    url: `https://${host.includes(':') ? `[${host}]` : host}:${port}/mutate`,
    port,
    caBundle: () => current?.caBundle,
    operatorCA: () => current?.operatorCA,
    servingCert: () => ({ cert: (current as Loaded).cert, key: (current as Loaded).key }),
    refresh,
    drain: () => {
      draining = true;
      server.closeIdleConnections();
    },
    close: async () => {
      clearInterval(timer);
      // An admission call cut mid-answer is a webhook failure for the apiserver (failurePolicy decides the pod).
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const late = setTimeout(() => server.closeAllConnections(), 2_000);
      await closed;
      clearTimeout(late);
    },
  };
}
