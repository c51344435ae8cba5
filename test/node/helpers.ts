/** Helpers for the suites that run on the real test node (global-setup.ts): kubeconfig, kubectl, helm, pod waits. */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { inject } from 'vitest';
import { loadKubeConfig, waitFor } from '../cluster/kube.js';

const exec = promisify(execFile);

/** Why the node suites skip on this machine (empty: they run). */
export const nodeSkip = (): string => inject('nodeSkip');

export function nodeKubeConfig(): KubeConfig {
  return loadKubeConfig(inject('nodeKubeconfig'));
}

export function coreApi(): CoreV1Api {
  return nodeKubeConfig().makeApiClient(CoreV1Api);
}

async function tool(bin: string, args: string[], input?: string): Promise<string> {
  const child = exec(bin, ['--kubeconfig', inject('nodeKubeconfig'), ...args], {
    maxBuffer: 16 * 1024 * 1024,
    timeout: 300_000,
  });
  if (input !== undefined) child.child.stdin?.end(input);
  try {
    return (await child).stdout;
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${bin.split('/').at(-1)} ${args.join(' ')}: ${e.stderr?.trim() || e.message}`);
  }
}

/** `kubectl <args>` against the node's cluster; `input` goes to stdin (for `-f -`). */
export const kubectl = (args: string[], input?: string): Promise<string> =>
  tool(inject('nodeBinaries').kubectl, args, input);

/** `helm <args>` against the node's cluster. */
export const helm = (args: string[]): Promise<string> => tool(inject('nodeBinaries').helm, args);

/** A new namespace `<prefix>-<hex>`, its `default` ServiceAccount made by the real controller-manager. */
export async function newNamespace(prefix: string, labels: Record<string, string> = {}): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  const core = coreApi();
  await core.createNamespace({ body: { metadata: { name, labels } } });
  await waitFor(() => core.readNamespacedServiceAccount({ name: 'default', namespace: name }), 30_000, 200);
  return name;
}

const ready = (p: V1Pod) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

/** Waits until `selector` in `namespace` has `count` Ready pods (and no others still starting), returns them. */
export async function readyPods(
  namespace: string,
  selector: string,
  count = 1,
  timeoutMs = 180_000,
): Promise<V1Pod[]> {
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
    throw new Error(
      `${err.message}\n${await kubectl(['-n', namespace, 'describe', 'pods', '-l', selector]).catch((e) => String(e))}`,
    );
  });
}

/** Waits until a container of a pod has terminated and returns its exit code and log. */
export async function finished(
  namespace: string,
  pod: string,
  container: string,
  timeoutMs = 180_000,
): Promise<{ exitCode: number; log: string }> {
  const core = coreApi();
  const exitCode = await waitFor(
    async () => {
      const p = await core.readNamespacedPod({ name: pod, namespace });
      const s = [...(p.status?.containerStatuses ?? []), ...(p.status?.initContainerStatuses ?? [])].find(
        (c) => c.name === container,
      );
      return s?.state?.terminated ? { code: s.state.terminated.exitCode } : undefined;
    },
    timeoutMs,
    250,
  ).catch(async (err: Error) => {
    throw new Error(
      `${err.message}\n${await kubectl(['-n', namespace, 'describe', 'pod', pod]).catch((e) => String(e))}`,
    );
  });
  const log = await core.readNamespacedPodLog({ name: pod, namespace, container });
  return { exitCode: exitCode.code, log };
}
