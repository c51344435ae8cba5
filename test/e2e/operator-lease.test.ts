/**
 * Two operator replicas on one Lease: exactly one leads (writes status, owns the ledger), the other serves config
 * streams but answers usage and allowance calls 503; when the leader stops, the other takes over.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { CoordinationV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { applyYaml, kubeConfig, kubeconfigPath, waitFor } from '../cluster/fixtures.js';
import { routeConfig } from '../helpers/config.js';
import {
  freePort,
  killAll,
  logLines,
  operatorTestBed,
  type Proc,
  startOperatorProc,
  startSidecarProc,
} from './operator-procs.js';

let ns: string;
let leaseNs: string;
let dir: string;
let token: string;
const ops: Array<Proc & { metricsUrl: string; url: string }> = [];
let sidecar: Proc & { url: string };

async function isLeader(op: { metricsUrl: string }): Promise<boolean> {
  const text = await (await fetch(`${op.metricsUrl}/metrics`)).text();
  return /^tiermesh_operator_leader 1$/m.test(text);
}

async function usage(op: { url: string }, seq: number): Promise<number> {
  const res = await fetch(`${op.url}/v1/usage`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ sidecarId: 'probe', seq, records: [] }),
  });
  await res.arrayBuffer();
  return res.status;
}

beforeAll(async () => {
  ({ ns, leaseNs, dir, token } = await operatorTestBed('op-ha'));
  await applyYaml(
    routeConfig({
      namespace: ns,
      upstreams: [{ name: 'up', baseURL: 'http://127.0.0.1:9/v1' }],
      cheap: [{ name: 'small', upstreams: ['up'] }],
      premium: [{ name: 'big', upstreams: ['up'] }],
    }),
    ns,
  );
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    const op = await startOperatorProc({ kubeconfig: kubeconfigPath(), port, leaseNamespace: leaseNs });
    ops.push({ ...op, url: `http://127.0.0.1:${port}` });
  }
});

afterAll(async () => {
  await killAll();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.sequential('leader election', () => {
  test('exactly one replica leads; the other serves config but refuses ledger calls with 503', async () => {
    const leader = await waitFor(async () => {
      const flags = await Promise.all(ops.map(isLeader));
      return flags.filter(Boolean).length === 1 && ops[flags.indexOf(true)];
    }, 30_000);
    const follower = ops.find((o) => o !== leader)!;
    expect(await usage(leader, 1)).toBe(200);
    expect(await usage(follower, 2)).toBe(503);
    // The follower still streams config from its own informers.
    sidecar = await startSidecarProc({
      operator: follower.url,
      tokenFile: join(dir, 'token'),
      stateDir: join(dir, 's'),
    });
    await waitFor(async () => (await fetch(`${sidecar.url}/readyz`)).status === 200, 30_000);
    const lease = await kubeConfig()
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ namespace: leaseNs, name: 'tiermesh-operator' });
    expect(lease.spec?.holderIdentity).toBeTruthy();
    // The new leader writes status on a reconcile it queues when it wins: eventually, not at once.
    await vi.waitFor(
      async () => {
        const route = (await kubeConfig().makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
          group: 'tiermesh.dev',
          version: 'v1alpha1',
          namespace: ns,
          plural: 'modelroutes',
          name: 'default',
        })) as { status?: { configVersion?: string } };
        expect(route.status?.configVersion).toBeTruthy();
      },
      { timeout: 30_000, interval: 100 },
    );
  });

  test('the leader stops (releasing the lease): the other replica takes over and accepts usage', async () => {
    const flags = await Promise.all(ops.map(isLeader));
    const leader = ops[flags.indexOf(true)]!;
    const follower = ops.find((o) => o !== leader)!;
    await leader.stop();
    await waitFor(() => isLeader(follower), 30_000);
    expect(await usage(follower, 3)).toBe(200);
    // A clean shutdown logs JSON lines only, and nothing at warn or above from the signal on.
    const lines = logLines(leader);
    const from = lines.findIndex((l) => l.msg === 'shutting down: releasing the lease');
    expect(from).toBeGreaterThanOrEqual(0);
    expect(lines.slice(from).filter((l) => l.level >= 40)).toEqual([]);

    // So does the sidecar's (it keeps its stream to the replica that stayed; a leader change is no news to it).
    await sidecar.stop();
    const sidecarLines = logLines(sidecar);
    const stop = sidecarLines.findIndex((l) => l.msg.startsWith('shutting down'));
    expect(stop).toBeGreaterThanOrEqual(0);
    expect(sidecarLines.slice(stop).filter((l) => l.level >= 40)).toEqual([]);
    expect(await sidecar.exited).toBe(0);
  });
});
