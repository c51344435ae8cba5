/**
 * A kind cluster (Docker) as a ClusterHandle, from what scripts/e2e-kind.sh exports: the user journey of
 * test/node/chart-journey.ts then runs against it unchanged.
 */
import { type RequestOptions, request } from 'node:https';
import type { V1Pod } from '@kubernetes/client-node';
import { loadKubeConfig } from '../cluster/kube.js';
import { type ClusterHandle, MEMORY_CGROUP_FILES, run } from '../node/cluster.js';

const ENV = {
  cluster: 'TIERMESH_KIND_CLUSTER',
  kubeconfig: 'TIERMESH_KIND_KUBECONFIG',
  image: 'TIERMESH_KIND_IMAGE',
  appImage: 'TIERMESH_KIND_APP_IMAGE',
  helm: 'TIERMESH_KIND_HELM',
} as const;

/** Why the kind suite cannot run (empty: it can). */
export function kindSkip(): string {
  const missing = Object.values(ENV).filter((k) => !process.env[k]);
  return missing.length > 0 ? `${missing.join(', ')} not set: run it through scripts/e2e-kind.sh` : '';
}

function env(key: keyof typeof ENV): string {
  const v = process.env[ENV[key]];
  if (!v) throw new Error(`${ENV[key]} is not set (scripts/e2e-kind.sh sets it)`);
  return v;
}

export function kindCluster(): ClusterHandle {
  const cluster = env('cluster');
  const kubeconfig = env('kubeconfig');
  const kubectl = process.env.TIERMESH_KIND_KUBECTL ?? 'kubectl';
  const images = { tiermesh: env('image'), app: env('appImage') };
  const kubectlIn = (args: string[]) => run(kubectl, ['--kubeconfig', kubeconfig, ...args]);
  return {
    name: `kind cluster ${cluster}`,
    kubeconfig,
    kubectl,
    helm: env('helm'),
    images,
    async loadImages() {
      await run(
        'kind',
        ['load', 'docker-image', images.tiermesh, images.app, '--name', cluster],
        undefined,
        600_000,
      );
    },
    // Pod IPs live inside the kind node containers, so the test goes through the apiserver's pod proxy.
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
    async procFiles(pod: V1Pod, container: string) {
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
