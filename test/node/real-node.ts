/** The real test node (test/node/global-setup.ts) as a ClusterHandle: what the node suites run against here. */
import { readFileSync } from 'node:fs';
import type { V1Pod } from '@kubernetes/client-node';
import { inject } from 'vitest';
import { type ClusterHandle, containerId, run } from './cluster.js';

/** Why the node suites skip on this machine (empty: they run). */
export const nodeSkip = (): string => inject('nodeSkip');

/** Only call once the suite runs (the global setup provides nothing on a machine that skips). */
export function realNode(): ClusterHandle {
  const bins = inject('nodeBinaries');
  const images = inject('nodeImages');
  const ctr = (args: string[]) =>
    run('ctr', ['--address', inject('nodeContainerdSocket'), '-n', 'k8s.io', ...args]);
  /** The container's task pid on the host (the node shares the host's pid namespace). */
  const hostPid = async (pod: V1Pod, container: string) => {
    const id = containerId(pod, container);
    const line = (await ctr(['tasks', 'ls'])).split('\n').find((l) => l.startsWith(id));
    const pid = Number(line?.split(/\s+/)[1]);
    if (!pid) throw new Error(`no task for container ${id}`);
    return pid;
  };
  return {
    name: 'the real test node',
    kubeconfig: inject('nodeKubeconfig'),
    kubectl: bins.kubectl,
    helm: bins.helm,
    images: { tiermesh: images.tiermesh.ref, app: images.app.ref },
    async loadImages() {
      for (const image of [images.tiermesh, images.app]) await ctr(['images', 'import', image.archive]);
    },
    // The host routes the pod network through the node's veth, so the test reaches a pod IP directly.
    async podGet(pod, port, path, timeoutMs) {
      const res = await fetch(`http://${pod.status?.podIP}:${port}${path}`, {
        signal: AbortSignal.timeout(timeoutMs),
      });
      return { status: res.status, body: await res.text() };
    },
    async procFiles(pod, container) {
      const pid = await hostPid(pod, container);
      return {
        status: readFileSync(`/proc/${pid}/status`, 'utf8'),
        stat: readFileSync(`/proc/${pid}/stat`, 'utf8'),
      };
    },
  };
}
