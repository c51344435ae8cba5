/**
 * A kind cluster (Docker) as a ClusterHandle, from what scripts/e2e-kind.sh exports: the user journey of
 * test/node/chart-journey.ts then runs against it unchanged.
 */
import { type ClusterHandle, run, throughApiserver } from '../node/cluster.js';

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
    // Pod IPs live inside the kind node containers: the test reaches pods through the apiserver.
    ...throughApiserver(kubeconfig, kubectl),
  };
}
