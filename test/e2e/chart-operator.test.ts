/**
 * The chart's operator command line, run for real: the args Helm renders into the Deployment start `tiermesh operator`
 * (as a process, against the real apiserver), which fills the chart's cert Secret, publishes the caBundle into the
 * chart's webhook configuration, and injects pods with the sidecar the chart configured. That sidecar's args and env
 * then run a real `tiermesh sidecar`, which verifies the operator's HTTPS certificate against the Service name.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  type KubernetesObject,
  type V1Deployment,
  type V1MutatingWebhookConfiguration,
  type V1Pod,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { SseParser } from '../../src/providers/sse.js';
import { operatorFetch } from '../../src/sidecar/config-stream-operator.js';
import {
  applyYaml,
  freshNamespace,
  helmTemplate,
  kubeConfig,
  kubeconfigPath,
  serviceAccountToken,
  waitFor,
} from '../cluster/fixtures.js';
import { logTail, type Managed, startProcess, stopProcess } from '../cluster/process.js';
import { routeConfig } from '../helpers/config.js';
import { killAll, spawnTiermesh, waitForOutput } from './operator-procs.js';

const root = join(import.meta.dirname, '../..');

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const admission = kc.makeApiClient(AdmissionregistrationV1Api);
const run = randomBytes(3).toString('hex');
const release = `op-${run}`;
const SCOPE = { 'tiermesh.dev/e2e-chart-operator': run };

let namespace: string;
let objects: KubernetesObject[];
let operator: Managed | undefined;
let webhookPort: number;
let sidecarApiPort: number;
let logDir: string;

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

function find<T>(kind: string): T {
  const o = objects.find((x) => x.kind === kind);
  if (!o) throw new Error(`chart rendered no ${kind}`);
  return o as T;
}

/** A fresh namespace labelled for injection (within this run's scope), and an app pod created in it. */
async function createAppPod(prefix: string): Promise<{ apps: string; pod: V1Pod }> {
  const apps = await freshNamespace(prefix);
  const ns = await core.readNamespace({ name: apps });
  ns.metadata = {
    ...ns.metadata,
    labels: { ...ns.metadata?.labels, ...SCOPE, 'tiermesh.dev/inject': 'enabled' },
  };
  await core.replaceNamespace({ name: apps, body: ns });
  const pod = await core.createNamespacedPod({
    namespace: apps,
    body: {
      metadata: { generateName: 'app-' },
      spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] },
    },
  });
  return { apps, pod };
}

beforeAll(async () => {
  namespace = await freshNamespace('tiermesh-op');
  objects = helmTemplate(release, namespace, ['--set', 'metrics.podMonitor.enabled=true']);

  // The chart's empty cert Secret, as `helm install` would create it.
  const secret = objects.find((o) => o.kind === 'Secret') as KubernetesObject;
  await core.createNamespacedSecret({ namespace, body: secret });

  // The chart's webhook configuration, re-pointed at the loopback port (there is no kubelet or Service here)
  // and scoped to this test's namespaces.
  webhookPort = await freePort();
  const mwc = find<V1MutatingWebhookConfiguration>('MutatingWebhookConfiguration');
  for (const w of mwc.webhooks ?? []) {
    w.clientConfig = { url: `https://127.0.0.1:${webhookPort}/mutate` };
    w.namespaceSelector = {
      ...w.namespaceSelector,
      matchLabels: { ...w.namespaceSelector?.matchLabels, ...SCOPE },
    };
  }
  await admission.createMutatingWebhookConfiguration({ body: mwc });

  // The Deployment's args, with the kubelet's $(VAR) expansion and loopback ports instead of 0.0.0.0.
  const container = find<V1Deployment>('Deployment').spec?.template.spec?.containers[0];
  const env: Record<string, string> = { POD_NAMESPACE: namespace, POD_NAME: `${release}-0` };
  sidecarApiPort = await freePort();
  const ports: Record<string, number> = {
    listen: sidecarApiPort,
    metrics: await freePort(),
    'webhook-listen': webhookPort,
  };
  const args = (container?.args ?? []).map((a) => {
    const m = /^--(listen|metrics|webhook-listen)=/.exec(a);
    if (m) return `--${m[1]}=127.0.0.1:${ports[m[1] as string]}`;
    return a.replace(/\$\((\w+)\)/g, (_, name: string) => env[name] ?? '');
  });
  expect(args[0]).toBe('operator');

  logDir = mkdtempSync(join(tmpdir(), 'tiermesh-op-'));
  // The operator reads POD_NAMESPACE like it would in the pod; the child inherits it.
  process.env['POD_NAMESPACE'] = namespace;
  operator = startProcess(
    'tiermesh operator',
    process.execPath,
    ['--import', 'tsx', join(root, 'cmd/tiermesh.ts'), ...args, `--kubeconfig=${kubeconfigPath()}`],
    join(logDir, 'operator.log'),
  );
  delete process.env['POD_NAMESPACE'];
});

afterAll(async () => {
  await killAll();
  if (operator) await stopProcess(operator);
  await admission
    .deleteMutatingWebhookConfiguration({ name: `${release}-tiermesh-sidecar-injector` })
    .catch(() => undefined);
  if (logDir) rmSync(logDir, { recursive: true, force: true });
});

describe('chart-rendered operator command (real process, real apiserver)', () => {
  it('fills its cert Secret, publishes the caBundle, serves TLS and injects the chart-configured sidecar', async () => {
    const name = `${release}-tiermesh-sidecar-injector`;
    const caBundle = await waitFor(
      async () => {
        if (operator?.exited)
          throw new Error(`operator exited ${JSON.stringify(operator.exited)}:\n${logTail(operator)}`);
        const cfg = await admission.readMutatingWebhookConfiguration({ name });
        const bundles = cfg.webhooks?.map((w) => w.clientConfig.caBundle);
        return bundles?.every((b) => b) && bundles[0];
      },
      60_000,
      250,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n--- operator log ---\n${operator ? logTail(operator) : ''}`);
    });
    const ca = Buffer.from(caBundle, 'base64').toString('utf8');

    const secret = await core.readNamespacedSecret({ name: `${release}-tiermesh-webhook-certs`, namespace });
    expect(Buffer.from(secret.data?.['ca-bundle.crt'] ?? '', 'base64').toString()).toBe(ca);

    const health = await new Promise<string>((resolve, reject) => {
      get({ host: '127.0.0.1', port: webhookPort, path: '/healthz', ca }, (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve(`${res.statusCode} ${body.trim()}`));
      }).on('error', reject);
    });
    expect(health).toBe('200 ok');

    const { pod } = await createAppPod('op-apps');
    const sidecar = pod.spec?.initContainers?.find((c) => c.name === 'tiermesh-sidecar');
    expect(sidecar?.restartPolicy).toBe('Always');
    expect(sidecar?.image).toBe('ghcr.io/tiermesh/tiermesh:0.1.0');
    const operatorURL = `https://${release}-tiermesh.${namespace}.svc:8443`;
    expect(sidecar?.args).toEqual([
      'sidecar',
      '--operator',
      operatorURL,
      '--token-file',
      '/var/run/secrets/tiermesh/token/token',
      '--state-dir',
      '/var/lib/tiermesh',
      '--listen',
      '127.0.0.1:4000',
      '--drain-seconds',
      '20',
      '--metrics-listen',
      '0.0.0.0:9464',
      '--health-listen',
      '0.0.0.0:4021',
    ]);
    // The CA to verify the operator with is the bundle the webhook published (it follows the cert Secret).
    expect(sidecar?.env?.find((e) => e.name === 'TIERMESH_OPERATOR_CA_PEM')?.value).toBe(ca);
    expect(sidecar?.ports).toEqual([
      { name: 'tm-metrics', containerPort: 9464, protocol: 'TCP' },
      { name: 'tm-health', containerPort: 4021, protocol: 'TCP' },
    ]);
    expect(sidecar?.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'tm-health', scheme: 'HTTP' });
    expect(sidecar?.resources).toEqual({
      requests: { cpu: '50m', memory: '128Mi' },
      limits: { memory: '256Mi' },
    });

    // The operator's own namespace is excluded by the chart's selectors and by the injector itself.
    const own = await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { generateName: 'x-', labels: { 'tiermesh.dev/inject': 'true' } },
        spec: { containers: [{ name: 'app', image: 'a' }] },
      },
    });
    expect(own.spec?.containers.map((c) => c.name)).toEqual(['app']);
  });
});

describe('the injected sidecar, run as a real process on loopback', () => {
  it('verifies the operator over HTTPS against the Service name with the injected CA and receives its config', async () => {
    const { apps, pod } = await createAppPod('op-tls-apps');
    const injected = pod.spec?.initContainers?.find((c) => c.name === 'tiermesh-sidecar');
    const operatorURL = injected?.args?.[injected.args.indexOf('--operator') + 1] ?? '';
    expect(operatorURL).toMatch(/^https:\/\//);
    await applyYaml(
      routeConfig({
        namespace: apps,
        upstreams: [{ name: 'up', baseURL: 'http://127.0.0.1:9/v1' }],
        cheap: [{ name: 'chart-tls-small', upstreams: ['up'] }],
        premium: [{ name: 'chart-tls-big', upstreams: ['up'] }],
      }),
      apps,
    );
    const dir = mkdtempSync(join(tmpdir(), 'tiermesh-op-sc-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'token'), await serviceAccountToken(apps, 'default', 'tiermesh'));
    const metricsPort = await freePort();

    // The injected args and env as the kubelet would run them, except for the pod's paths and the pod IP: the
    // Service name does not resolve here, so the sidecar dials the operator's loopback port while still checking
    // the certificate against the Service name in its URL.
    const env = Object.fromEntries(
      (injected?.env ?? []).flatMap((e) => (e.value !== undefined ? [[e.name, e.value]] : [])),
    );
    const localArgs = (args: string[], state: string) =>
      args.map((a, i) => {
        const flag = args[i - 1];
        if (flag === '--token-file') return join(dir, 'token');
        if (flag === '--state-dir') return join(dir, state);
        if (flag === '--listen') return '127.0.0.1:0';
        if (flag === '--metrics-listen') return `127.0.0.1:${metricsPort}`;
        if (flag === '--health-listen') return '127.0.0.1:0';
        return a;
      });
    const sidecar = spawnTiermesh(
      [...localArgs(injected?.args ?? [], 'state'), '--operator-connect', `127.0.0.1:${sidecarApiPort}`],
      { ...env, POD_NAME: pod.metadata?.name ?? 'app', POD_NAMESPACE: apps },
    );
    const url = (await waitForOutput(sidecar, /listening on (http:\/\/\S+)\/v1/))[1];
    await waitFor(async () => {
      const res = await fetch(`${url}/v1/models`);
      return (
        res.status === 200 &&
        ((await res.json()) as { data: Array<{ id: string }> }).data.some((m) => m.id === 'chart-tls-small')
      );
    }, 30_000).catch((e: Error) => {
      throw new Error(`${e.message}\n--- sidecar ---\n${sidecar.output()}`);
    });

    // The metrics-only listener serves /metrics and nothing of the chat API (it starts after the chat listener).
    await waitForOutput(sidecar, /sidecar metrics on /);
    const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^tiermesh_/m);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/v1/models`)).status).toBe(404);
    // So does the probe-only listener: ready now that the operator's config arrived, and no API.
    const health = (await waitForOutput(sidecar, /health probes on (http:\/\/\S+)\/healthz/))[1];
    expect((await fetch(`${health}/readyz`)).status).toBe(200);
    expect((await fetch(`${health}/v1/models`)).status).toBe(404);

    // Resumption tickets are keyed off the chart's self-managed serving key: a stream gets one at once, with no
    // Secret or RBAC rule of its own.
    const probe = await operatorFetch(env['TIERMESH_OPERATOR_CA_PEM'], {
      host: '127.0.0.1',
      port: sidecarApiPort,
    })(`${operatorURL}/v1/config/stream?sidecar=chart-probe`, {
      headers: { authorization: `Bearer ${readFileSync(join(dir, 'token'), 'utf8')}` },
      signal: AbortSignal.timeout(10_000),
    });
    expect(probe.status).toBe(200);
    const parser = new SseParser();
    let ticket: string | undefined;
    for await (const chunk of probe.body!) {
      for (const ev of parser.push(chunk as Uint8Array))
        if (ev.event === 'ticket') ticket = JSON.parse(ev.data).ticket;
      if (ticket) break;
    }
    expect(ticket).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);

    // Host-name verification is real: the same CA and address under a name the certificate lacks is refused.
    const wrongName = operatorURL.replace(`${release}-tiermesh.`, `${release}-other.`);
    const impostor = spawnTiermesh(
      [
        ...localArgs(
          (injected?.args ?? []).map((a) => (a === operatorURL ? wrongName : a)),
          'impostor-state',
        ).filter((_, i, all) => all[i] !== '--metrics-listen' && all[i - 1] !== '--metrics-listen'),
        '--operator-connect',
        `127.0.0.1:${sidecarApiPort}`,
      ],
      { ...env, POD_NAME: 'impostor', POD_NAMESPACE: apps },
    );
    await waitForOutput(impostor, /ERR_TLS_CERT_ALTNAME_INVALID/, 30_000);
  });
});

describe('the chart-rendered operator on SIGTERM (a rollout, helm upgrade, node drain)', () => {
  /** GET over HTTPS without verifying the certificate, as the kubelet probes: status and Connection header. */
  const probe = (port: number, path: string) =>
    new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
      get({ host: '127.0.0.1', port, path, rejectUnauthorized: false }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
      }).on('error', reject);
    });

  it('keeps injecting pods for its shutdown delay, unready and closing each connection, then exits', async () => {
    const m = operator as Managed;
    const delay = Number(
      (m.child.spawnargs.find((a) => a.startsWith('--shutdown-delay-seconds=')) ?? '=0').split('=')[1],
    );
    // The chart's default: without it the listeners close at once and pods created meanwhile get no sidecar.
    expect(delay).toBe(5);
    expect((await probe(sidecarApiPort, '/readyz')).status).toBe(200);
    const exited = new Promise<number>((resolve) => m.child.once('exit', () => resolve(Date.now())));
    const signalledAt = Date.now();
    m.child.kill('SIGTERM');
    // The kubelet's readiness probe sees it leave, so the Service stops sending it new calls...
    await waitFor(async () => (await probe(sidecarApiPort, '/readyz')).status === 503, 3_000, 50);
    // ...while calls that still reach it (kube-proxy not yet updated, kept-alive connections) are answered: the
    // apiserver's calls during the delay still inject, and no connection is kept for a later call.
    const { pod } = await createAppPod('op-drain-apps');
    expect(pod.spec?.initContainers?.map((c) => c.name)).toEqual(['tiermesh-sidecar']);
    expect((await probe(webhookPort, '/healthz')).connection).toBe('close');
    expect(Date.now() - signalledAt).toBeLessThan(delay * 1000);
    // Then it closes and exits inside the chart's grace period (30 s).
    const gone = await exited;
    expect(gone - signalledAt).toBeGreaterThanOrEqual(delay * 1000);
    expect(gone - signalledAt).toBeLessThan(25_000);
    expect(m.exited?.code, logTail(m)).toBe(0);
  });
});
