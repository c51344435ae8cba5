/**
 * tiermesh as a user meets it, on a real cluster: `helm install` the chart with the image built from the Dockerfile,
 * the operator becomes Ready through its real HTTPS probes, the apiserver calls the injector through its Service,
 * an app Deployment in a labelled namespace calls its injected sidecar with the official openai SDK and gets
 * answers (JSON and streaming) from the example ModelRoute, spend shows in the ModelBudget's status; the app keeps
 * being answered while every operator pod is gone, and a change made meanwhile reaches it from the new pods;
 * `helm upgrade` rolls the operator without one failed app call; `helm uninstall` leaves pods creatable and no
 * Lease behind (its owner, the release's ServiceAccount, takes it along). One body for every cluster (a ClusterHandle): the real test node (test/node/chart.test.ts) and kind
 * (test/kind/chart.test.ts, run by scripts/e2e-kind.sh).
 * Figures (install-to-first-answer, pod start with and without injection, the sidecar's RSS under load) are printed
 * for docs/testing.md, never asserted.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AdmissionregistrationV1Api, type V1Lease, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../cluster/binaries.js';
import { waitFor } from '../cluster/kube.js';
import { type ClusterHandle, type ClusterTools, clusterTools } from './cluster.js';

const SYSTEM_NS = 'tiermesh-system';
const RELEASE = 'tiermesh';
const LEASE = 'tiermesh-operator';
const OPERATOR_PODS = 'app.kubernetes.io/name=tiermesh';

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

/** The pure parts: what the figures are made of. */
function procRss(status: string): { rss: number; peak: number; anon: number; file: number } {
  const mib = (k: string) =>
    Math.round(Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0) / 102.4) / 10;
  // VmRSS and VmHWM (peak); RssAnon is the part no reclaim can take back, RssFile the mapped files (the Node
  // binary, shared with every Node container of the same image layer and charged to the cgroup that read it first).
  return { rss: mib('VmRSS'), peak: mib('VmHWM'), anon: mib('RssAnon'), file: mib('RssFile') };
}

/** CPU time (user + system) from /proc/<pid>/stat, in ms (clock ticks are 10 ms on Linux). */
function procCpuMs(stat: string): number {
  // After "pid (comm) ", utime and stime are the 12th and 13th fields.
  const fields = stat.split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * A container's memory as its cgroup counts it, in MiB: `usage` (what the limit is enforced against, page cache
 * included), `peak` (its high-water mark), `workingSet` (usage less inactive file cache: what the kubelet reports
 * and evicts on). Undefined where the cgroup files are not readable.
 */
export function cgroupMemoryMiB(
  files: Record<string, string>,
): { usage: number; peak: number | undefined; workingSet: number } | undefined {
  const usage = Number(files['memory.usage_in_bytes'] ?? files['memory.current']);
  if (!Number.isFinite(usage)) return undefined;
  const peakRaw = files['memory.max_usage_in_bytes'] ?? files['memory.peak'];
  const stat = files['memory.stat'] ?? '';
  // v1 has total_inactive_file (with the hierarchy) and inactive_file; v2 inactive_file.
  const inactive = Number(
    /^total_inactive_file (\d+)$/m.exec(stat)?.[1] ?? /^inactive_file (\d+)$/m.exec(stat)?.[1] ?? 0,
  );
  const mib = (b: number) => Math.round(b / 104857.6) / 10;
  return {
    usage: mib(usage),
    peak: peakRaw === undefined ? undefined : mib(Number(peakRaw)),
    workingSet: mib(Math.max(0, usage - inactive)),
  };
}

/**
 * `kubectl logs -f` of a container from now on: `started` once the stream is open (its last existing line came),
 * `ended` with the lines that followed, once the container is gone.
 */
function followLog(
  c: ClusterHandle,
  namespace: string,
  pod: string,
  container: string,
): { started: Promise<void>; ended: Promise<string[]> } {
  const child = spawn(
    c.kubectl,
    ['--kubeconfig', c.kubeconfig, '-n', namespace, 'logs', '-f', '--tail=1', pod, '-c', container],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let buf = '';
  let first = true;
  const lines: string[] = [];
  let opened: () => void = () => undefined;
  const started = new Promise<void>((resolve) => {
    opened = resolve;
  });
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    for (const l of parts) {
      if (first) first = false;
      else lines.push(l);
      opened();
    }
  });
  const ended = new Promise<string[]>((resolve) => {
    const done = () => {
      opened();
      resolve(lines);
    };
    child.on('close', done);
    child.on('error', done);
    // Never hang the suite on a stream the kubelet keeps open.
    setTimeout(() => child.kill(), 180_000).unref();
  });
  return { started, ended };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/**
 * The user journey against the cluster `cluster()` gives (called once the suite runs, so a skipped suite needs
 * nothing from it); `skip` says why it cannot run here, empty when it can.
 */
export function chartJourney(opts: { skip: string; cluster: () => ClusterHandle }): void {
  const figures: Record<string, unknown> = {};
  let c: ClusterHandle;
  let t: ClusterTools;
  let appNs = '';
  let appPod: V1Pod | undefined;
  let installStartedAt = 0;

  const appGet = async <T>(path: string): Promise<T> => {
    if (!appPod) throw new Error('no app pod yet');
    const res = await c.podGet(appPod, 8080, path, 120_000);
    let body: T & { error?: string };
    try {
      body = JSON.parse(res.body) as T & { error?: string };
    } catch {
      throw new Error(`app ${path}: ${res.status} ${res.body.slice(0, 300)}`);
    }
    if (res.status !== 200) throw new Error(`app ${path}: ${res.status} ${JSON.stringify(body)}`);
    return body;
  };

  /** Milliseconds from creating a pod (app image, a sleeping node) until it is Ready. */
  const podStartMs = async (ns: string, name: string): Promise<number> => {
    const core = t.coreApi();
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
              image: c.images.app,
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
        return p.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True');
      },
      120_000,
      50,
    );
    return Date.now() - t0;
  };

  const lease = async (): Promise<V1Lease | null> =>
    JSON.parse(
      (await t.kubectl(['-n', SYSTEM_NS, 'get', 'lease', LEASE, '-o', 'json', '--ignore-not-found'])) ||
        'null',
    ) as V1Lease | null;

  describe.skipIf(opts.skip)('the chart as a user runs it', () => {
    beforeAll(async () => {
      c = opts.cluster();
      t = clusterTools(c);
      await c.loadImages();
      const tm = c.images.tiermesh;
      const [repository, tag] = [tm.slice(0, tm.lastIndexOf(':')), tm.slice(tm.lastIndexOf(':') + 1)];
      installStartedAt = Date.now();
      await t.helm([
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
      console.log(
        `${c?.name ?? 'cluster'} e2e figures (measured, not asserted): ${JSON.stringify(figures, null, 2)}`,
      );
    });

    it('runs the operator as uid 65532 on a read-only root filesystem, Ready through its HTTPS probes', async () => {
      const pods = await t.readyPods(SYSTEM_NS, OPERATOR_PODS, 2);
      const probe = pods[0]?.spec?.containers[0]?.readinessProbe?.httpGet;
      expect(probe?.scheme).toBe('HTTPS');
      const out = await t.kubectl([
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
      const admission = t.kubeConfig().makeApiClient(AdmissionregistrationV1Api);
      const mwc = await waitFor(async () => {
        const list = await admission.listMutatingWebhookConfiguration();
        const w = list.items.find((i) => i.metadata?.name?.startsWith(RELEASE));
        return w?.webhooks?.every((x) => x.clientConfig.caBundle) && w;
      }, 60_000);
      for (const w of mwc.webhooks ?? []) {
        expect(w.clientConfig.url).toBeUndefined();
        expect(w.clientConfig.service).toMatchObject({ name: RELEASE, namespace: SYSTEM_NS });
      }
      // One of the pods holds the leader Lease, which belongs to the release's ServiceAccount (garbage collected with it).
      const held = await waitFor(async () => {
        const l = await lease();
        return l?.spec?.holderIdentity ? l : undefined;
      }, 60_000);
      expect(pods.map((p) => p.metadata?.name)).toContain(held.spec?.holderIdentity);
      const sa = await t.coreApi().readNamespacedServiceAccount({ name: RELEASE, namespace: SYSTEM_NS });
      expect(held.metadata?.ownerReferences).toEqual([
        { apiVersion: 'v1', kind: 'ServiceAccount', name: RELEASE, uid: sa.metadata?.uid },
      ]);
    });

    it('injects the sidecar into an app that then gets JSON and streamed answers with the x-tiermesh headers', async () => {
      appNs = await t.newNamespace('app', { 'tiermesh.dev/inject': 'enabled' });
      await t.kubectl(['apply', '--server-side', '-n', appNs, '-f', '-'], exampleManifests(appNs));
      await t.kubectl(['apply', '-n', appNs, '-f', '-'], JSON.stringify(appDeployment(c.images.app)));
      [appPod] = await t.readyPods(appNs, 'app=openai-app');
      const sidecar = appPod?.spec?.initContainers?.find((x) => x.name === 'tiermesh-sidecar');
      expect(sidecar?.restartPolicy).toBe('Always');
      expect(appPod?.spec?.containers[0]?.env?.find((e) => e.name === 'OPENAI_BASE_URL')?.value).toBe(
        'http://127.0.0.1:4000/v1',
      );
      expect(appPod?.spec?.containers[0]?.env?.find((e) => e.name === 'ANTHROPIC_BASE_URL')?.value).toBe(
        'http://127.0.0.1:4000',
      );
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
            await t.kubectl(['-n', appNs, 'get', 'modelbudget', 'demo-monthly', '-o', 'json']),
          ) as { status?: { spentUSD?: number } };
          return (b.status?.spentUSD ?? 0) > 0 && b.status?.spentUSD;
        },
        90_000,
        1000,
      );
      expect(spent).toBeGreaterThan(0);
      // -o wide: the route's Version column has priority 1, as in the CRD.
      const table = await t.kubectl(['-n', appNs, 'get', 'modelroutes,modelbudgets', '-o', 'wide']);
      console.log(`kubectl get modelroutes,modelbudgets -o wide:\n${table}`);
      const [routeHeader, routeRow] = table.split('\n');
      expect(routeHeader?.split(/\s+/)).toEqual(
        expect.arrayContaining(['NAME', 'READY', 'TIERS', 'VERSION']),
      );
      expect(routeRow).toMatch(/^modelroute\.tiermesh\.dev\/default\s+True\s/);
      expect(table).toMatch(/STATE\s+LIMIT\s+SPEND/);
      // Observed, not asserted: with two replicas the app's stream sits on either one.
      const route = JSON.parse(
        await t.kubectl(['-n', appNs, 'get', 'modelroute', 'default', '-o', 'json']),
      ) as {
        status?: { sidecars?: unknown };
      };
      figures['ModelRoute status.sidecars with 2 operator replicas, 1 app pod'] =
        route.status?.sidecars ?? null;
      expect(table).toMatch(/modelbudget\.tiermesh\.dev\/demo-monthly\s+True\s/);
    });

    it('keeps answering from last-known-good config with no operator, and takes a change made meanwhile', async () => {
      const before = await appGet<Stats>('/stats');
      expect((await appGet<Answer>('/once?task=chat')).headers['x-tiermesh-tier']).toBe('cheap');
      await t.kubectl(['-n', SYSTEM_NS, 'scale', 'deployment', RELEASE, '--replicas=0']);
      await waitFor(
        async () => (await t.coreApi().listNamespacedPod({ namespace: SYSTEM_NS })).items.length === 0,
        120_000,
        250,
      );
      // No operator at all: the sidecar still answers, and the route changes (chat -> premium).
      expect((await appGet<Answer>('/once')).content.length).toBeGreaterThan(0);
      await t.kubectl([
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
      await t.kubectl(['-n', SYSTEM_NS, 'scale', 'deployment', RELEASE, '--replicas=2']);
      await t.readyPods(SYSTEM_NS, OPERATOR_PODS, 2);
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
      const plainNs = await t.newNamespace('plain');
      const plain: number[] = [];
      const injected: number[] = [];
      for (let i = 0; i < 3; i++) {
        plain.push(await podStartMs(plainNs, `p${i}`));
        injected.push(await podStartMs(appNs, `i${i}`));
      }
      figures['pod start, no injection, ms (median of 3)'] = median(plain);
      figures['pod start, injected, ms (median of 3)'] = median(injected);
      const injectedPod = await t.coreApi().readNamespacedPod({ name: 'i0', namespace: appNs });
      const injectedSidecar = injectedPod.spec?.initContainers?.find((x) => x.name === 'tiermesh-sidecar');
      // Ready through the kubelet's own HTTP probes of the probe-only port on the pod IP (no Node process per probe).
      expect(injectedSidecar?.startupProbe?.httpGet).toMatchObject({ path: '/healthz', port: 'tm-health' });
      expect(injectedSidecar?.readinessProbe?.httpGet).toMatchObject({ path: '/readyz', port: 'tm-health' });
      const plainPod = await t.coreApi().readNamespacedPod({ name: 'p0', namespace: plainNs });
      expect(plainPod.spec?.initContainers ?? []).toEqual([]);

      const [app] = await t.readyPods(appNs, 'app=openai-app');
      if (!app) throw new Error('no app pod');
      const proc = () => c.procFiles(app, 'tiermesh-sidecar');
      const idle = await proc();
      figures['sidecar RSS before load, MiB'] = procRss(idle.status);
      figures['sidecar container cgroup before load, MiB'] = cgroupMemoryMiB(
        await c.memoryCgroup(app, 'tiermesh-sidecar'),
      );
      // Sampled one read at a time (on kind each read is a `kubectl exec`), besides the kernel's own peak.
      const samples: number[] = [];
      let loading = true;
      const sampler = (async () => {
        while (loading) {
          samples.push(procRss((await proc()).status).rss);
          await sleep(200);
        }
      })();
      const burst = await appGet<{ n: number; failed: number; ms: number }>('/load?n=1000&concurrency=32');
      loading = false;
      await sampler;
      expect(burst.failed).toBe(0);
      const loaded = await proc();
      figures['sidecar under load'] = {
        calls: burst.n,
        concurrency: 32,
        ms: burst.ms,
        sidecarCpuMs: procCpuMs(loaded.stat) - procCpuMs(idle.stat),
        rssMaxSampledMiB: Math.max(...samples),
        peakRssMiB: procRss(loaded.status).peak,
        afterLoadMiB: procRss(loaded.status),
        cgroupMiB: cgroupMemoryMiB(await c.memoryCgroup(app, 'tiermesh-sidecar')),
      };
      const operators = await t.readyPods(SYSTEM_NS, OPERATOR_PODS, 2);
      figures['operator RSS, MiB'] = await Promise.all(
        operators.map(async (p) => ({
          ...procRss((await c.procFiles(p, 'operator')).status),
          cgroup: cgroupMemoryMiB(await c.memoryCgroup(p, 'operator')),
        })),
      );
    });

    it('rolls the operator on helm upgrade without one failed app call, its Lease kept and held', async () => {
      const before = await appGet<Stats>('/stats');
      await t.helm([
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
      const pods = await t.readyPods(SYSTEM_NS, OPERATOR_PODS, 2);
      expect(pods.every((p) => p.spec?.containers[0]?.args?.includes('--log-level=debug'))).toBe(true);
      // A few more loop calls after the roll, then not one failure in the whole window.
      await waitFor(async () => (await appGet<Stats>('/stats')).ok > before.ok + 8, 30_000, 250);
      const after = await appGet<Stats>('/stats');
      expect(after.failed, after.errors.join('\n')).toBe(before.failed);
      // A new pod holds the Lease, both new replicas' records ride on it, and it still has its one owner.
      const names = pods.map((p) => p.metadata?.name);
      const held = await waitFor(async () => {
        const l = await lease();
        const records = Object.keys(l?.metadata?.annotations ?? {}).filter((k) =>
          k.startsWith('replicas.tiermesh.dev/'),
        );
        return names.includes(l?.spec?.holderIdentity ?? '') && records.length === 2 && l;
      }, 60_000);
      expect(held.metadata?.ownerReferences?.map((r) => r.kind)).toEqual(['ServiceAccount']);
    });

    it('helm uninstall leaves no webhook that would block or alter pod creation, and no Lease', async () => {
      // The leader's log through its shutdown: releasing the Lease races the RBAC's deletion, and a failed release
      // must be a warning with the apiserver's reason, not swallowed.
      const holder = (await lease())?.spec?.holderIdentity ?? '';
      const leaderLog = followLog(c, SYSTEM_NS, holder, 'operator');
      await leaderLog.started;
      await t.helm(['uninstall', RELEASE, '--namespace', SYSTEM_NS, '--wait', '--timeout', '2m']);
      const admission = t.kubeConfig().makeApiClient(AdmissionregistrationV1Api);
      const left = (await admission.listMutatingWebhookConfiguration()).items.filter((i) =>
        i.metadata?.name?.startsWith(RELEASE),
      );
      expect(left).toEqual([]);
      const ms = await podStartMs(appNs, 'after-uninstall');
      const pod = await t.coreApi().readNamespacedPod({ name: 'after-uninstall', namespace: appNs });
      expect(pod.spec?.initContainers ?? []).toEqual([]);
      figures['pod start after uninstall, ms'] = ms;
      // The operator pods go, and the garbage collector removes the Lease with its owner, the ServiceAccount.
      await waitFor(
        async () => (await t.coreApi().listNamespacedPod({ namespace: SYSTEM_NS })).items.length === 0,
        120_000,
        250,
      );
      await waitFor(async () => (await lease()) === null, 60_000, 250);
      const lines = (await leaderLog.ended).flatMap((l) => {
        try {
          return [JSON.parse(l) as { level?: number; msg?: string; err?: string }];
        } catch {
          return [];
        }
      });
      const release = lines.find((l) => l.msg?.startsWith('cannot release the lease'));
      if (release) {
        expect(release.level).toBe(40); // pino's warn
        expect(release.err).toMatch(/forbidden|not found|denied/i);
      }
      figures["the leader's Lease release at helm uninstall"] = release
        ? `failed, logged at warn: ${release.err}`
        : 'no failure logged';
    });
  });
}
