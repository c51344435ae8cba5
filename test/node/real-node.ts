/** The real test node (test/node/global-setup.ts) as a ClusterHandle: what the node suites run against here. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { inject } from 'vitest';
import { type ClusterHandle, containerId, MEMORY_CGROUP_FILES, run, throughApiserver } from './cluster.js';

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
  const handle: ClusterHandle = {
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
    // The kubelet (cgroupfs driver) puts each container in its own cgroup under kubepods; on this cgroup v1 host the
    // memory controller has its own hierarchy, on a v2 host it is the unified one.
    async memoryCgroup(pod, container) {
      const lines = readFileSync(`/proc/${await hostPid(pod, container)}/cgroup`, 'utf8').split('\n');
      const v1 = lines.find((l) => l.split(':')[1]?.split(',').includes('memory'));
      const v2 = lines.find((l) => l.startsWith('0::'));
      const dir = v1
        ? join('/sys/fs/cgroup/memory', v1.split(':')[2] ?? '')
        : join('/sys/fs/cgroup', v2?.slice(3) ?? '');
      const files: Record<string, string> = {};
      for (const f of MEMORY_CGROUP_FILES)
        if (existsSync(join(dir, f))) files[f] = readFileSync(join(dir, f), 'utf8');
      return files;
    },
  };
  // The path kind takes (apiserver pod proxy, kubectl exec), checked here on a real node.
  return process.env.TIERMESH_NODE_POD_ACCESS === 'apiserver'
    ? { ...handle, ...throughApiserver(handle.kubeconfig, handle.kubectl) }
    : handle;
}
