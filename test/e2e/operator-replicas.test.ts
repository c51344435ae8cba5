/**
 * Three operator replicas (the chart's HA shape), each holding the stream of one real sidecar process: the route
 * status (written by the leader only) counts the sidecars of all of them, ACKs and NACKs included; a replica that
 * dies stops being counted once its record on the Lease goes stale, and when the leader itself dies the replica that
 * takes over keeps counting the survivors.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { CoordinationV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { applyYaml, kubeConfig, kubeconfigPath, waitFor } from '../cluster/fixtures.js';
import { routeConfig } from '../helpers/config.js';
import {
  freePort,
  killAll,
  operatorTestBed,
  type Proc,
  startOperatorProc,
  startSidecarProc,
} from './operator-procs.js';

let ns: string;
let leaseNs: string;
let dir: string;
let tokenFile: string;
const ops: Array<Proc & { metricsUrl: string; url: string }> = [];
const sidecars: Array<Proc & { url: string }> = [];
const REPLICAS = 3;

interface RouteObj {
  status?: {
    configVersion?: string;
    sidecars?: { connected: number; acked: number; nacked: number };
    conditions?: Array<{ type: string; status: string; reason: string }>;
  };
}
async function route(): Promise<RouteObj> {
  return (await kubeConfig().makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
    group: 'tiermesh.dev',
    version: 'v1alpha1',
    namespace: ns,
    plural: 'modelroutes',
    name: 'default',
  })) as RouteObj;
}
async function isLeader(op: { metricsUrl: string }): Promise<boolean> {
  const text = await (await fetch(`${op.metricsUrl}/metrics`)).text();
  return /^tiermesh_operator_leader 1$/m.test(text);
}
async function runningVersion(url: string): Promise<string | undefined> {
  const res = await fetch(`${url}/readyz`).catch(() => undefined);
  if (res?.status !== 200) return undefined;
  return ((await res.json()) as { configVersion: string }).configVersion;
}
const manifests = (cheap: string) =>
  routeConfig({
    namespace: ns,
    upstreams: [{ name: 'up', baseURL: 'http://127.0.0.1:9/v1' }],
    cheap: [{ name: cheap, upstreams: ['up'] }],
    premium: [{ name: 'big', upstreams: ['up'] }],
  });
const sidecarCounts = async () => (await route()).status?.sidecars;

beforeAll(async () => {
  ({ ns, leaseNs, dir, tokenFile } = await operatorTestBed('op-replicas'));
  await applyYaml(manifests('small-v1'), ns);
  for (let i = 0; i < REPLICAS; i++) {
    const port = await freePort();
    const op = await startOperatorProc({ kubeconfig: kubeconfigPath(), port, leaseNamespace: leaseNs });
    ops.push({ ...op, url: `http://127.0.0.1:${port}` });
  }
  for (let i = 0; i < REPLICAS; i++)
    sidecars.push(await startSidecarProc({ operator: ops[i]!.url, tokenFile, stateDir: join(dir, `s${i}`) }));
});

afterAll(async () => {
  await killAll();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.sequential('route status across operator replicas', () => {
  test('one sidecar per replica: the leader reports all three connected and acked', async () => {
    await waitFor(async () => (await Promise.all(ops.map(isLeader))).filter(Boolean).length === 1, 30_000);
    const counts = await waitFor(async () => {
      const s = await sidecarCounts();
      return s?.connected === 3 && s.acked === 3 && s;
    }, 30_000);
    expect(counts).toEqual({ connected: 3, acked: 3, nacked: 0 });
    // Each replica's record is an annotation on the one Lease (nothing else is created).
    expect(await replicaRecords()).toHaveLength(3);
  });

  test('a config change: acked counts the sidecars of every replica on the new version only', async () => {
    const before = (await route()).status?.configVersion;
    await applyYaml(manifests('small-v2'), ns);
    const r = await waitFor(async () => {
      const o = await route();
      return o.status?.configVersion !== before && o.status?.sidecars?.acked === 3 && o;
    }, 30_000);
    for (const s of sidecars) expect(await runningVersion(s.url)).toBe(r.status?.configVersion);
    expect(r.status?.sidecars).toEqual({ connected: 3, acked: 3, nacked: 0 });
  });

  test('NACKs on every replica show as SidecarRejected with nacked 3', async () => {
    await applyYaml(
      // Valid to the operator (a modelRef is only a name), refused by every sidecar: none can load that model.
      `apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: bad-model }
spec:
  providers: [{ name: up, type: openai-compatible, baseURL: 'http://127.0.0.1:9/v1' }]
  models:
    - { name: m, targets: [{ provider: up }], pricing: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 1000 }
  tiers: [{ name: small, models: [m] }]
  classifier: { mode: learned, modelRef: /nonexistent/tiermesh-e2e/model.json }
`,
      ns,
    );
    const r = await waitFor(async () => {
      const o = await route();
      return o.status?.sidecars?.nacked === 3 && o;
    }, 30_000);
    expect(r.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'SidecarRejected',
    });
    await kubeConfig().makeApiClient(CustomObjectsApi).deleteNamespacedCustomObject({
      group: 'tiermesh.dev',
      version: 'v1alpha1',
      namespace: ns,
      plural: 'modelroutes',
      name: 'bad-model',
    });
    await waitFor(async () => (await sidecarCounts())?.acked === 3, 30_000);
  });

  test('a follower is SIGKILLed: its sidecar drops out of the counts once its record is stale', async () => {
    const flags = await Promise.all(ops.map(isLeader));
    const follower = ops[flags.indexOf(false)]!;
    await follower.kill();
    ops.splice(ops.indexOf(follower), 1);
    const counts = await waitFor(async () => {
      const s = await sidecarCounts();
      return s?.connected === 2 && s;
    }, 30_000);
    expect(counts).toEqual({ connected: 2, acked: 2, nacked: 0 });
    // The leader dropped the dead replica's record from the Lease when it renewed.
    await waitFor(async () => (await replicaRecords()).length === 2, 30_000);
  });

  test('the leader is SIGKILLed: the last replica takes over and its status counts its own sidecar only', async () => {
    const flags = await Promise.all(ops.map(isLeader));
    const leader = ops[flags.indexOf(true)]!;
    const survivor = ops[flags.indexOf(false)]!;
    await leader.kill();
    await waitFor(() => isLeader(survivor), 30_000);
    const before = (await route()).status?.configVersion;
    // A change after the takeover proves the new leader writes the status, not a stale record of the old one.
    await applyYaml(manifests('small-v3'), ns);
    const r = await waitFor(async () => {
      const o = await route();
      return (
        o.status?.configVersion !== before &&
        o.status?.sidecars?.connected === 1 &&
        o.status.sidecars.acked === 1 &&
        o
      );
    }, 30_000);
    expect(r.status?.sidecars).toEqual({ connected: 1, acked: 1, nacked: 0 });
    await waitFor(async () => (await replicaRecords()).length === 1, 30_000);
  });
});

async function replicaRecords(): Promise<string[]> {
  const lease = await kubeConfig()
    .makeApiClient(CoordinationV1Api)
    .readNamespacedLease({ namespace: leaseNs, name: 'tiermesh-operator' });
  return Object.keys(lease.metadata?.annotations ?? {}).filter((k) => k.startsWith('replicas.tiermesh.dev/'));
}
