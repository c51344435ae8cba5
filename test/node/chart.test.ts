/**
 * tiermesh as a user meets it, on the real node: `helm install` the chart with the image built from the Dockerfile,
 * the operator becomes Ready through its real HTTPS probes, the apiserver calls the injector through its Service,
 * an app Deployment in a labelled namespace calls its injected sidecar with the official openai SDK and gets
 * answers (JSON and streaming) from the example ModelRoute, spend shows in the ModelBudget's status; the app keeps
 * being answered while every operator pod is gone, and a change made meanwhile reaches it from the new pods;
 * `helm upgrade` rolls the operator without one failed app call; `helm uninstall` leaves pods creatable.
 * Figures (install-to-first-answer, pod start with and without injection, the sidecar's RSS under load) are printed
 * for docs/testing.md, never asserted.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AdmissionregistrationV1Api, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { repoRoot } from '../cluster/binaries.js';
import { waitFor } from '../cluster/kube.js';
import { coreApi, helm, kubectl, newNamespace, nodeKubeConfig, nodeSkip, readyPods } from './helpers.js';

const exec = promisify(execFile);
const SYSTEM_NS = 'tiermesh-system';
const RELEASE = 'tiermesh';

interface Stats {
  ok: number;
  failed: number;
  streamed: number;
  firstOkAt: number;
  startedAt: number;
  errors: string[];
}
interface Answer {
  stream: boolean;
  content: string;
  chunks?: number;
  headers: Record<string, string>;
}

const figures: Record<string, unknown> = {};
let appNs = '';
let appIp = '';
let installStartedAt = 0;

const appGet = async <T>(path: string): Promise<T> => {
  const res = await fetch(`http://${appIp}:8080${path}`, { signal: AbortSignal.timeout(120_000) });
  const body = (await res.json()) as T & { error?: string };
  if (res.status !== 200) throw new Error(`app ${path}: ${res.status} ${JSON.stringify(body)}`);
  return body;
};

/** The example manifests a user applies (examples/standalone.yaml), moved into `ns`. */
function exampleManifests(ns: string): string {
  return readFileSync(join(repoRoot, 'examples/standalone.yaml'), 'utf8').replace(
    /^(\s+namespace:).*$/gm,
    `$1 ${ns}`,
  );
}

function appDeployment(image: string): unknown {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'app', labels: { app: 'openai-app' } },
    spec: {
      selector: { matchLabels: { app: 'openai-app' } },
      template: {
        metadata: { labels: { app: 'openai-app' } },
        spec: {
          securityContext: { runAsNonRoot: true, runAsUser: 65532 },
          containers: [
            {
              name: 'app',
              image,
              imagePullPolicy: 'Never',
              ports: [{ containerPort: 8080 }],
              readinessProbe: { httpGet: { path: '/stats', port: 8080 }, periodSeconds: 1 },
              securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
            },
          ],
        },
      },
    },
  };
}

/** Pid (on the host) of a pod's container, from containerd's task list. */
async function containerPid(pod: V1Pod, container: string): Promise<number> {
  const statuses = [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])];
  const id = statuses.find((s) => s.name === container)?.containerID?.replace(/^containerd:\/\//, '');
  if (!id) throw new Error(`no container ${container} in ${pod.metadata?.name}`);
  const { stdout } = await exec('ctr', [
    '--address',
    inject('nodeContainerdSocket'),
    '-n',
    'k8s.io',
    'tasks',
    'ls',
  ]);
  const line = stdout.split('\n').find((l) => l.startsWith(id));
  const pid = Number(line?.split(/\s+/)[1]);
  if (!pid) throw new Error(`no task for container ${id}`);
  return pid;
}

/** VmRSS and VmHWM (peak) of a process, in MiB. */
function rssMiB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { rss: Math.round(kb('VmRSS') / 102.4) / 10, peak: Math.round(kb('VmHWM') / 102.4) / 10 };
}

/** CPU time (user + system) a process has used, in ms (clock ticks are 10 ms on Linux). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  // After "pid (comm) ", utime and stime are the 12th and 13th fields.
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Milliseconds from creating a pod (app image, a sleeping node) until it is Ready. */
async function podStartMs(ns: string, name: string, image: string): Promise<number> {
  const core = coreApi();
  const t0 = Date.now();
  await core.createNamespacedPod({
    namespace: ns,
    body: {
      metadata: { name },
      spec: {
        securityContext: { runAsNonRoot: true, runAsUser: 65532 },
        containers: [
          {
            name: 'main',
            image,
            imagePullPolicy: 'Never',
            command: ['node', '-e', 'setInterval(() => {}, 1 << 30)'],
          },
        ],
      },
    },
  });
  await waitFor(
    async () => {
      const p = await core.readNamespacedPod({ name, namespace: ns });
      return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    },
    120_000,
    50,
  );
  return Date.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

describe.skipIf(nodeSkip())('the chart on a real node, as a user runs it', () => {
  beforeAll(async () => {
    const tm = inject('nodeImages').tiermesh.ref;
    const [repository, tag] = [tm.slice(0, tm.lastIndexOf(':')), tm.slice(tm.lastIndexOf(':') + 1)];
    installStartedAt = Date.now();
    await helm([
      'install',
      RELEASE,
      join(repoRoot, 'charts/tiermesh'),
      '--namespace',
      SYSTEM_NS,
      '--create-namespace',
      '--set',
      `image.repository=${repository}`,
      '--set',
      `image.tag=${tag}`,
      '--set',
      'image.pullPolicy=Never',
      '--wait',
      '--timeout',
      '5m',
    ]);
    figures['helm install --wait (operator Ready), ms'] = Date.now() - installStartedAt;
  });

  afterAll(() => {
    console.log(`node e2e figures (measured, not asserted): ${JSON.stringify(figures, null, 2)}`);
  });

  it('runs the operator as uid 65532 on a read-only root filesystem, Ready through its HTTPS probes', async () => {
    const pods = await readyPods(SYSTEM_NS, 'app.kubernetes.io/name=tiermesh', 2);
    const probe = pods[0]?.spec?.containers[0]?.readinessProbe?.httpGet;
    expect(probe?.scheme).toBe('HTTPS');
    const out = await kubectl([
      '-n',
      SYSTEM_NS,
      'exec',
      pods[0]?.metadata?.name ?? '',
      '-c',
      'operator',
      '--',
      'sh',
      '-c',
      'id -u; id -g; touch /probe-write 2>/dev/null && echo writable || echo read-only',
    ]);
    expect(out.trim().split('\n')).toEqual(['65532', '65532', 'read-only']);
    // The operator published its CA into the webhook configuration the apiserver calls through the Service.
    const admission = nodeKubeConfig().makeApiClient(AdmissionregistrationV1Api);
    const mwc = await waitFor(async () => {
      const list = await admission.listMutatingWebhookConfiguration();
      const c = list.items.find((i) => i.metadata?.name?.startsWith(RELEASE));
      return c?.webhooks?.every((w) => w.clientConfig.caBundle) && c;
    }, 60_000);
    for (const w of mwc.webhooks ?? []) {
      expect(w.clientConfig.url).toBeUndefined();
      expect(w.clientConfig.service).toMatchObject({ name: RELEASE, namespace: SYSTEM_NS });
    }
  });

  it('injects the sidecar into an app that then gets JSON and streamed answers with the x-tiermesh headers', async () => {
    appNs = await newNamespace('app', { 'tiermesh.dev/inject': 'enabled' });
    await kubectl(['apply', '--server-side', '-n', appNs, '-f', '-'], exampleManifests(appNs));
    await kubectl(
      ['apply', '-n', appNs, '-f', '-'],
      JSON.stringify(appDeployment(inject('nodeImages').app.ref)),
    );
    const [pod] = await readyPods(appNs, 'app=openai-app');
    const sidecar = pod?.spec?.initContainers?.find((c) => c.name === 'tiermesh-sidecar');
    expect(sidecar?.restartPolicy).toBe('Always');
    expect(pod?.spec?.containers[0]?.env?.find((e) => e.name === 'OPENAI_BASE_URL')?.value).toBe(
      'http://127.0.0.1:4000/v1',
    );
    appIp = pod?.status?.podIP ?? '';
    const stats = await waitFor(async () => {
      const s = await appGet<Stats>('/stats');
      return s.ok > 0 && s;
    }, 60_000);
    figures['helm install -> first routed answer, ms'] = stats.firstOkAt - installStartedAt;
    figures['app calls failed before its first answer'] = stats.failed;

    const json = await appGet<Answer>('/once');
    expect(json.content.length).toBeGreaterThan(0);
    expect(json.headers['x-tiermesh-provider']).toBe('sim');
    expect(json.headers['x-tiermesh-tier']).toBe('cheap');
    expect(json.headers['x-tiermesh-model']).toMatch(/^(gpt-4o-mini|claude-3-5-haiku-latest)$/);
    expect(Number(json.headers['x-tiermesh-cost-usd'])).toBeGreaterThan(0);
    const streamed = await appGet<Answer>('/once?stream=1');
    expect(streamed.stream).toBe(true);
    expect(streamed.chunks).toBeGreaterThan(1);
    expect(streamed.content.length).toBeGreaterThan(0);
    expect(streamed.headers['x-tiermesh-tier']).toBe('cheap');
  });

  it('shows Ready routes and the app spend in kubectl get and the budget status', async () => {
    const spent = await waitFor(
      async () => {
        const b = JSON.parse(
          await kubectl(['-n', appNs, 'get', 'modelbudget', 'demo-monthly', '-o', 'json']),
        ) as {
          status?: { spentUSD?: number };
        };
        return (b.status?.spentUSD ?? 0) > 0 && b.status?.spentUSD;
      },
      90_000,
      1000,
    );
    expect(spent).toBeGreaterThan(0);
    // -o wide: the route's Version column has priority 1, as in the CRD.
    const table = await kubectl(['-n', appNs, 'get', 'modelroutes,modelbudgets', '-o', 'wide']);
    console.log(`kubectl get modelroutes,modelbudgets -o wide:\n${table}`);
    const [routeHeader, routeRow] = table.split('\n');
    expect(routeHeader?.split(/\s+/)).toEqual(expect.arrayContaining(['NAME', 'READY', 'TIERS', 'VERSION']));
    expect(routeRow).toMatch(/^modelroute\.tiermesh\.dev\/default\s+True\s/);
    expect(table).toMatch(/STATE\s+LIMIT\s+SPEND/);
    // Observed, not asserted (issue 11: only the leader writes status, the app's stream may sit on the follower).
    const route = JSON.parse(await kubectl(['-n', appNs, 'get', 'modelroute', 'default', '-o', 'json'])) as {
      status?: { sidecars?: unknown };
    };
    figures['ModelRoute status.sidecars with 2 operator replicas, 1 app pod'] =
      route.status?.sidecars ?? null;
    expect(table).toMatch(/modelbudget\.tiermesh\.dev\/demo-monthly\s+True\s/);
  });

  it('keeps answering from last-known-good config with no operator, and takes a change made meanwhile', async () => {
    const before = await appGet<Stats>('/stats');
    expect((await appGet<Answer>('/once?task=chat')).headers['x-tiermesh-tier']).toBe('cheap');
    await kubectl(['-n', SYSTEM_NS, 'scale', 'deployment', RELEASE, '--replicas=0']);
    await waitFor(
      async () => (await coreApi().listNamespacedPod({ namespace: SYSTEM_NS })).items.length === 0,
      120_000,
      250,
    );
    // No operator at all: the sidecar still answers, and the route changes (chat -> premium).
    expect((await appGet<Answer>('/once')).content.length).toBeGreaterThan(0);
    await kubectl([
      '-n',
      appNs,
      'patch',
      'modelroute',
      'default',
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { taskTypes: { chat: 'premium' } } }),
    ]);
    expect((await appGet<Answer>('/once?task=chat')).headers['x-tiermesh-tier']).toBe('cheap');
    await kubectl(['-n', SYSTEM_NS, 'scale', 'deployment', RELEASE, '--replicas=2']);
    await readyPods(SYSTEM_NS, 'app.kubernetes.io/name=tiermesh', 2);
    await waitFor(
      async () => (await appGet<Answer>('/once?task=chat')).headers['x-tiermesh-tier'] === 'premium',
      90_000,
      500,
    );
    const after = await appGet<Stats>('/stats');
    expect(after.failed, after.errors.join('\n')).toBe(before.failed);
    expect(after.ok).toBeGreaterThan(before.ok);
  });

  it('measures pod start with and without injection, and the sidecar under load', async () => {
    const plainNs = await newNamespace('plain');
    const image = inject('nodeImages').app.ref;
    const plain: number[] = [];
    const injected: number[] = [];
    for (let i = 0; i < 3; i++) {
      plain.push(await podStartMs(plainNs, `p${i}`, image));
      injected.push(await podStartMs(appNs, `i${i}`, image));
    }
    figures['pod start, no injection, ms (median of 3)'] = median(plain);
    figures['pod start, injected, ms (median of 3)'] = median(injected);
    const injectedPod = await coreApi().readNamespacedPod({ name: 'i0', namespace: appNs });
    const injectedSidecar = injectedPod.spec?.initContainers?.find((c) => c.name === 'tiermesh-sidecar');
    // Ready through the kubelet's own HTTP probes of the probe-only port on the pod IP (no Node process per probe).
    expect(injectedSidecar?.startupProbe?.httpGet).toMatchObject({ path: '/healthz', port: 'tm-health' });
    expect(injectedSidecar?.readinessProbe?.httpGet).toMatchObject({ path: '/readyz', port: 'tm-health' });
    const plainPod = await coreApi().readNamespacedPod({ name: 'p0', namespace: plainNs });
    expect(plainPod.spec?.initContainers ?? []).toEqual([]);

    const [app] = await readyPods(appNs, 'app=openai-app');
    if (!app) throw new Error('no app pod');
    const pid = await containerPid(app, 'tiermesh-sidecar');
    figures['sidecar RSS before load, MiB'] = rssMiB(pid).rss;
    const samples: number[] = [];
    const cpuBefore = cpuMs(pid);
    const sampler = setInterval(() => samples.push(rssMiB(pid).rss), 200);
    const burst = await appGet<{ n: number; failed: number; ms: number }>('/load?n=1000&concurrency=32');
    clearInterval(sampler);
    expect(burst.failed).toBe(0);
    const { peak } = rssMiB(pid);
    figures['sidecar under load'] = {
      calls: burst.n,
      concurrency: 32,
      ms: burst.ms,
      sidecarCpuMs: cpuMs(pid) - cpuBefore,
      rssMaxSampledMiB: Math.max(...samples),
      peakRssMiB: peak,
    };
    const operators = await readyPods(SYSTEM_NS, 'app.kubernetes.io/name=tiermesh', 2);
    figures['operator RSS, MiB'] = await Promise.all(
      operators.map(async (p) => rssMiB(await containerPid(p, 'operator'))),
    );
  });

  it('rolls the operator on helm upgrade without one failed app call', async () => {
    const before = await appGet<Stats>('/stats');
    await helm([
      'upgrade',
      RELEASE,
      join(repoRoot, 'charts/tiermesh'),
      '--namespace',
      SYSTEM_NS,
      '--reuse-values',
      '--set',
      'operator.logLevel=debug',
      '--wait',
      '--timeout',
      '5m',
    ]);
    const pods = await readyPods(SYSTEM_NS, 'app.kubernetes.io/name=tiermesh', 2);
    expect(pods.every((p) => p.spec?.containers[0]?.args?.includes('--log-level=debug'))).toBe(true);
    // A few more loop calls after the roll, then not one failure in the whole window.
    await waitFor(async () => (await appGet<Stats>('/stats')).ok > before.ok + 8, 30_000, 250);
    const after = await appGet<Stats>('/stats');
    expect(after.failed, after.errors.join('\n')).toBe(before.failed);
  });

  it('helm uninstall leaves no webhook that would block or alter pod creation', async () => {
    await helm(['uninstall', RELEASE, '--namespace', SYSTEM_NS, '--wait', '--timeout', '2m']);
    const admission = nodeKubeConfig().makeApiClient(AdmissionregistrationV1Api);
    const left = (await admission.listMutatingWebhookConfiguration()).items.filter((i) =>
      i.metadata?.name?.startsWith(RELEASE),
    );
    expect(left).toEqual([]);
    const ms = await podStartMs(appNs, 'after-uninstall', inject('nodeImages').app.ref);
    const pod = await coreApi().readNamespacedPod({ name: 'after-uninstall', namespace: appNs });
    expect(pod.spec?.initContainers ?? []).toEqual([]);
    figures['pod start after uninstall, ms'] = ms;
    // Observed, not asserted (issue 11: the Lease may keep naming the old leader after uninstall).
    const lease = JSON.parse(
      await kubectl([
        '-n',
        SYSTEM_NS,
        'get',
        'lease',
        'tiermesh-operator',
        '-o',
        'json',
        '--ignore-not-found',
      ]).then((out) => out || 'null'),
    ) as { spec?: { holderIdentity?: string } } | null;
    figures['Lease tiermesh-operator after helm uninstall'] = lease
      ? (lease.spec?.holderIdentity ?? '(no holder)')
      : 'deleted';
  });
});
