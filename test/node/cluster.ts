/**
 * A cluster the user-journey suites run against, and the tools they use on it (kubectl, helm, the API, pod waits).
 * Two kinds exist: the real test node (test/node/real-node.ts, started by this project's global setup) and a kind
 * cluster (test/kind/kind-cluster.ts, made by scripts/e2e-kind.sh). What differs between them is only here: where
 * the kubeconfig and binaries are, how images reach the node, how a test reaches a pod, how a process is measured.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type RequestOptions, request } from 'node:https';
import { promisify } from 'node:util';
import { CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { loadKubeConfig, waitFor } from '../cluster/kube.js';

const exec = promisify(execFile);

export interface ClusterHandle {
  /** For messages: "the real test node", "kind cluster tiermesh-e2e". */
  name: string;
  kubeconfig: string;
  kubectl: string;
  helm: string;
  /** Image refs as pods name them (always with `imagePullPolicy: Never`: no registry is involved). */
  images: { tiermesh: string; app: string };
  /** Makes `images` present on every node: `ctr images import` on the real node, `kind load docker-image` for kind. */
  loadImages(): Promise<void>;
  /** GET `path` on a pod's `port` from the test process, returning status and body text. */
  podGet(
    pod: V1Pod,
    port: number,
    path: string,
    timeoutMs: number,
  ): Promise<{ status: number; body: string }>;
  /** `/proc/<pid>/status` and `/proc/<pid>/stat` of a container's main process, as the node's kernel sees it. */
  procFiles(pod: V1Pod, container: string): Promise<{ status: string; stat: string }>;
  /**
   * The container's memory cgroup files, by name (v1: memory.usage_in_bytes, memory.max_usage_in_bytes,
   * memory.stat; v2: memory.current, memory.peak, memory.stat): what its memory limit is enforced against.
   */
  memoryCgroup(pod: V1Pod, container: string): Promise<Record<string, string>>;
}

/** The memory cgroup files memoryCgroup() reads, where present. */
export const MEMORY_CGROUP_FILES = [
  'memory.usage_in_bytes',
  'memory.max_usage_in_bytes',
  'memory.current',
  'memory.peak',
  'memory.stat',
] as const;

export interface ClusterTools {
  kubeConfig(): KubeConfig;
  coreApi(): CoreV1Api;
  /** `kubectl <args>`; `input` goes to stdin (for `-f -`). */
  kubectl(args: string[], input?: string): Promise<string>;
  helm(args: string[]): Promise<string>;
  /** A new namespace `<prefix>-<hex>`, once the controller-manager has made its `default` ServiceAccount. */
  newNamespace(prefix: string, labels?: Record<string, string>): Promise<string>;
  /** Waits until `selector` in `namespace` has `count` Ready pods (and no others still starting), returns them. */
  readyPods(namespace: string, selector: string, count?: number, timeoutMs?: number): Promise<V1Pod[]>;
  /** Waits until a container of a pod has terminated and returns its exit code and log. */
  finished(
    namespace: string,
    pod: string,
    container: string,
    timeoutMs?: number,
  ): Promise<{ exitCode: number; log: string }>;
}

const ready = (p: V1Pod) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

/** Runs `bin args` (stdin from `input`); a failure carries the tool's own stderr. */
export async function run(bin: string, args: string[], input?: string, timeout = 300_000): Promise<string> {
  const child = exec(bin, args, { maxBuffer: 16 * 1024 * 1024, timeout });
  if (input !== undefined) child.child.stdin?.end(input);
  try {
    return (await child).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${bin.split('/').at(-1)} ${args.join(' ')}: ${e.stderr?.trim() || e.message}`);
  }
}

export function clusterTools(c: ClusterHandle): ClusterTools {
  const kubeConfig = () => loadKubeConfig(c.kubeconfig);
  const coreApi = () => kubeConfig().makeApiClient(CoreV1Api);
  const kubectl = (args: string[], input?: string) =>
    run(c.kubectl, ['--kubeconfig', c.kubeconfig, ...args], input);
  const helm = (args: string[]) => run(c.helm, ['--kubeconfig', c.kubeconfig, ...args]);
  const describe = (namespace: string, what: string[]) =>
    kubectl(['-n', namespace, 'describe', ...what]).catch((e) => String(e));

  return {
    kubeConfig,
    coreApi,
    kubectl,
    helm,
    async newNamespace(prefix, labels = {}) {
      const name = `${prefix}-${randomBytes(3).toString('hex')}`;
      const core = coreApi();
      await core.createNamespace({ body: { metadata: { name, labels } } });
      await waitFor(
        () => core.readNamespacedServiceAccount({ name: 'default', namespace: name }),
        30_000,
        200,
      );
      return name;
    },
    async readyPods(namespace, selector, count = 1, timeoutMs = 180_000) {
      const core = coreApi();
      return waitFor(
        async () => {
          const pods = (await core.listNamespacedPod({ namespace, labelSelector: selector })).items.filter(
            (p) => !p.metadata?.deletionTimestamp,
          );
          return pods.length === count && pods.every(ready) && pods;
        },
        timeoutMs,
        250,
      ).catch(async (err: Error) => {
        throw new Error(`${err.message}\n${await describe(namespace, ['pods', '-l', selector])}`);
      });
    },
    async finished(namespace, pod, container, timeoutMs = 180_000) {
      const core = coreApi();
      const exitCode = await waitFor(
        async () => {
          const p = await core.readNamespacedPod({ name: pod, namespace });
          const s = [...(p.status?.containerStatuses ?? []), ...(p.status?.initContainerStatuses ?? [])].find(
            (x) => x.name === container,
          );
          return s?.state?.terminated ? { code: s.state.terminated.exitCode } : undefined;
        },
        timeoutMs,
        250,
      ).catch(async (err: Error) => {
        throw new Error(`${err.message}\n${await describe(namespace, ['pod', pod])}`);
      });
      const log = await core.readNamespacedPodLog({ name: pod, namespace, container });
      return { exitCode: exitCode.code, log };
    },
  };
}

/** The id containerd knows a pod's container by (`containerd://<id>` in its status). */
export function containerId(pod: V1Pod, container: string): string {
  const statuses = [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])];
  const id = statuses.find((s) => s.name === container)?.containerID?.replace(/^containerd:\/\//, '');
  if (!id) throw new Error(`no container ${container} in ${pod.metadata?.name}`);
  return id;
}

/**
 * Pod access for a cluster whose pod IPs the test process cannot reach (kind): GET through the apiserver's pod proxy,
 * `/proc/1/*` (the image's `node` entrypoint) and the memory cgroup read in the container with `kubectl exec` and
 * its `cat`. Works on any cluster; the real node uses it with TIERMESH_NODE_POD_ACCESS=apiserver.
 */
export function throughApiserver(
  kubeconfig: string,
  kubectl: string,
): Pick<ClusterHandle, 'podGet' | 'procFiles' | 'memoryCgroup'> {
  const kubectlIn = (args: string[]) => run(kubectl, ['--kubeconfig', kubeconfig, ...args]);
  return {
    // The apiserver's pod proxy.
    async podGet(pod, port, path, timeoutMs) {
      const kc = loadKubeConfig(kubeconfig);
      const server = new URL(kc.getCurrentCluster()?.server ?? '');
      const { name, namespace } = pod.metadata ?? {};
      const opts: RequestOptions = {
        hostname: server.hostname,
        port: server.port,
        path: `/api/v1/namespaces/${namespace}/pods/${name}:${port}/proxy${path}`,
        method: 'GET',
        timeout: timeoutMs,
      };
      await kc.applyToHTTPSOptions(opts);
      return new Promise((resolve, reject) => {
        const req = request(opts, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            body += d;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          res.on('error', reject);
        });
        req.on('timeout', () =>
          req.destroy(new Error(`pod proxy ${path}: no answer within ${timeoutMs} ms`)),
        );
        req.on('error', reject);
        req.end();
      });
    },
    // The container's own view of its pid 1 (the image's `node` entrypoint), read with the image's `cat`.
    async procFiles(pod, container) {
      const read = (file: string) =>
        kubectlIn([
          '-n',
          pod.metadata?.namespace ?? '',
          'exec',
          pod.metadata?.name ?? '',
          '-c',
          container,
          '--',
          'cat',
          file,
        ]);
      return { status: await read('/proc/1/status'), stat: await read('/proc/1/stat') };
    },
    // The container's own cgroup, as its namespace shows it (v2: /sys/fs/cgroup, v1: /sys/fs/cgroup/memory).
    async memoryCgroup(pod, container) {
      const script = `for d in /sys/fs/cgroup /sys/fs/cgroup/memory; do for f in ${MEMORY_CGROUP_FILES.join(' ')}; do
        [ -r "$d/$f" ] && { echo "== $f"; cat "$d/$f"; }; done; done; true`;
      const out = await kubectlIn([
        '-n',
        pod.metadata?.namespace ?? '',
        'exec',
        pod.metadata?.name ?? '',
        '-c',
        container,
        '--',
        'sh',
        '-c',
        script,
      ]);
      const files: Record<string, string> = {};
      for (const part of out.split(/^== /m).slice(1)) {
        const nl = part.indexOf('\n');
        files[part.slice(0, nl)] ??= part.slice(nl + 1);
      }
      return files;
    },
  };
}
