/**
 * The operator against a real apiserver, with real `tiermesh operator` and `tiermesh sidecar` processes on loopback:
 * CRD changes reach a sidecar within seconds, bad config shows on the route status (or a budget's Event) by field, a
 * sidecar's NACK keeps its old config and shows as SidecarRejected, and sidecars keep serving through an operator
 * outage.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  applyYaml,
  freshNamespace,
  kubeConfig,
  kubeconfigPath,
  serviceAccountToken,
  waitFor,
} from '../cluster/fixtures.js';
import { behave, type Fixture, startOpenAIFixture } from '../fixtures/providers/index.js';
import { routeConfig } from '../helpers/config.js';
import { promlint } from '../helpers/promlint-bin.js';
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
let up: Fixture;
let dir: string;
let tokenFile: string;
let operatorURL: string;
let port: number;
let operator: Proc & { metricsUrl: string };
let sidecar: Proc & { url: string };

const custom = () => kubeConfig().makeApiClient(CustomObjectsApi);
const GROUP = { group: 'tiermesh.dev', version: 'v1alpha1' };

type Cond = { type: string; status: string; reason: string; message: string };
interface RouteObj {
  metadata: { generation: number };
  status?: {
    conditions?: Cond[];
    configVersion?: string;
    observedGeneration?: number;
    tiers?: number;
    sidecars?: { connected: number; acked: number; nacked: number };
    lastNack?: string;
  };
}

async function route(name: string): Promise<RouteObj> {
  return (await custom().getNamespacedCustomObject({
    ...GROUP,
    namespace: ns,
    plural: 'modelroutes',
    name,
  })) as RouteObj;
}
const ready = (r: RouteObj) => r.status?.conditions?.find((c) => c.type === 'Ready');

async function models(url: string): Promise<string[]> {
  const res = await fetch(`${url}/v1/models`);
  if (res.status !== 200) return [];
  return ((await res.json()) as { data: Array<{ id: string }> }).data.map((m) => m.id);
}
async function runningVersion(url: string): Promise<string | undefined> {
  const res = await fetch(`${url}/readyz`).catch(() => undefined);
  if (res?.status !== 200) return undefined;
  return ((await res.json()) as { configVersion: string }).configVersion;
}

const manifests = (cheap: string, extra = '') =>
  routeConfig({
    namespace: ns,
    upstreams: [{ name: 'up', baseURL: up.baseURL }],
    cheap: [{ name: cheap, upstreams: ['up'] }],
    premium: [{ name: 'big-model', upstreams: ['up'] }],
  }) + extra;

beforeAll(async () => {
  ({ ns, leaseNs, dir, tokenFile } = await operatorTestBed('op'));
  up = await startOpenAIFixture();
  up.fallback(behave.ok('hello', { prompt: 10, completion: 5 }));
  port = await freePort();
  operatorURL = `http://127.0.0.1:${port}`;
  await applyYaml(manifests('small-v0'), ns);
  operator = await startOperatorProc({ kubeconfig: kubeconfigPath(), port, leaseNamespace: leaseNs });
  sidecar = await startSidecarProc({ operator: operatorURL, tokenFile, stateDir: join(dir, 'state') });
});

afterAll(async () => {
  await killAll();
  await up?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.sequential('operator config push', () => {
  test('the sidecar gets its namespace config; the route status reports it Ready, acked', async () => {
    await waitFor(async () => (await models(sidecar.url)).includes('small-v0'), 30_000);
    const version = await runningVersion(sidecar.url);
    const r = await waitFor(async () => {
      const o = await route('default');
      return o.status?.sidecars?.acked === 1 && o.status.configVersion === version && o;
    }, 30_000);
    expect(ready(r)).toMatchObject({ status: 'True', reason: 'Compiled' });
    expect(r.status?.observedGeneration).toBe(r.metadata.generation);
    expect(r.status?.tiers).toBe(2);
    expect(r.status?.sidecars).toEqual({ connected: 1, acked: 1, nacked: 0 });
  });

  test('a token for another namespace gets nothing: 403 for a foreign namespace, 401 without audience', async () => {
    const other = await freshNamespace('op-other');
    const foreign = await serviceAccountToken(other, 'app', 'tiermesh');
    const res = await fetch(`${operatorURL}/v1/config/stream?sidecar=x&namespace=${ns}`, {
      headers: { authorization: `Bearer ${foreign}` },
    });
    expect(res.status).toBe(403);
    await res.body?.cancel();
    const usage = await fetch(`${operatorURL}/v1/usage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${foreign}`, 'content-type': 'application/json' },
      body: JSON.stringify({ sidecarId: 'x', seq: 1, records: [], namespace: ns }),
    });
    expect(usage.status).toBe(403);
    const wrongAudience = await serviceAccountToken(ns, 'app', 'not-tiermesh');
    const res2 = await fetch(`${operatorURL}/v1/config/stream?sidecar=x`, {
      headers: { authorization: `Bearer ${wrongAudience}` },
    });
    expect(res2.status).toBe(401);
    await res2.body?.cancel();
  });

  test('create, update and delete of ModelRoutes reach the sidecar within seconds (push latency measured)', async () => {
    const latencies: number[] = [];
    for (let i = 1; i <= 5; i++) {
      const name = `small-v${i}`;
      const t0 = performance.now();
      await applyYaml(manifests(name), ns);
      await waitFor(async () => (await models(sidecar.url)).includes(name), 20_000, 10);
      latencies.push(performance.now() - t0);
    }
    const extra = `---
${routeConfig({
  namespace: ns,
  route: 'extra',
  upstreams: [{ name: 'up', baseURL: up.baseURL }],
  cheap: [{ name: 'extra-small', upstreams: ['up'] }],
  premium: [{ name: 'extra-big', upstreams: ['up'] }],
})}`;
    await applyYaml(extra, ns);
    await waitFor(async () => (await models(sidecar.url)).includes('extra-big'), 20_000, 10);
    const t0 = performance.now();
    await custom().deleteNamespacedCustomObject({
      ...GROUP,
      namespace: ns,
      plural: 'modelroutes',
      name: 'extra',
    });
    await waitFor(async () => !(await models(sidecar.url)).includes('extra-big'), 20_000, 10);
    latencies.push(performance.now() - t0);
    const sorted = [...latencies].sort((a, b) => a - b);
    console.log(
      `config push latency (CRD write -> sidecar serving it), n=${sorted.length}: ` +
        `median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms`,
    );
    // A chat request is answered by the new config's cheap model.
    const res = await fetch(`${sidecar.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-tiermesh-model')).toBe('small-v5');
  });

  test('an invalid route is left out and marked Ready=False/Invalid naming the field; the others keep serving', async () => {
    // A rule the apiserver cannot check (CEL has no regex parser), so only the compiler refuses it.
    const broken = routeConfig({
      namespace: ns,
      route: 'broken',
      upstreams: [{ name: 'up', baseURL: up.baseURL }],
      cheap: [{ name: 'broken-small', upstreams: ['up'] }],
      premium: [{ name: 'broken-big', upstreams: ['up'] }],
    }).replace('pattern: \\b(prove|step by step|derive)\\b', 'pattern: "(unclosed"');
    expect(broken).toContain('(unclosed');
    await applyYaml(broken, ns);
    const r = await waitFor(async () => {
      const o = await route('broken');
      return ready(o)?.reason === 'Invalid' && o;
    }, 30_000);
    expect(ready(r)?.status).toBe('False');
    expect(ready(r)?.message).toContain('spec.classifier.rules[0].pattern');
    expect(await models(sidecar.url)).not.toContain('broken-small');
    expect(await models(sidecar.url)).toContain('small-v5');
    expect(ready(await route('default'))?.status).toBe('True');
    const events = await waitFor(async () => {
      const list = await kubeConfig().makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: ns });
      const mine = list.items.filter(
        (e) => e.involvedObject.name === 'broken' && e.reason === 'InvalidConfig',
      );
      return mine.length > 0 && mine;
    }, 10_000);
    expect(events[0]?.message).toContain('spec.classifier.rules[0].pattern');
    // Settled: status writes do not re-trigger reconciles that write again (no hot loop).
    const reconciles = async () =>
      Number(
        /^tiermesh_operator_reconciles_total\{result="ok"\} (\d+)/m.exec(
          await (await fetch(`${operator.metricsUrl}/metrics`)).text(),
        )?.[1],
      );
    // The last status write echoes back as one more (writeless) reconcile; after that the count must stand still.
    let last = await reconciles();
    const settled = await waitFor(
      async () => {
        await new Promise((r) => setTimeout(r, 1000));
        const now = await reconciles();
        const still = now === last;
        last = now;
        return still && now;
      },
      15_000,
      0,
    );
    await new Promise((r) => setTimeout(r, 2000));
    expect(await reconciles()).toBe(settled);
    await custom().deleteNamespacedCustomObject({
      ...GROUP,
      namespace: ns,
      plural: 'modelroutes',
      name: 'broken',
    });
  });

  test('a snapshot the sidecar refuses keeps its old config and shows as SidecarRejected, then recovers', async () => {
    const before = await runningVersion(sidecar.url);
    // Valid to the operator (a modelRef is only a name), refused by the sidecar: it cannot load that model.
    await applyYaml(
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
      const o = await route('default');
      return ready(o)?.reason === 'SidecarRejected' && o;
    }, 30_000);
    expect(r.status?.sidecars?.nacked).toBe(1);
    expect(r.status?.lastNack).toMatch(/modelRef/);
    expect(await runningVersion(sidecar.url)).toBe(before);
    expect(await models(sidecar.url)).toContain('small-v5');
    await custom().deleteNamespacedCustomObject({
      ...GROUP,
      namespace: ns,
      plural: 'modelroutes',
      name: 'bad-model',
    });
    await waitFor(async () => ready(await route('default'))?.status === 'True', 30_000);
  });

  test('a budget in a time zone the runtime does not know is refused up front: one InvalidConfig Event by field', async () => {
    const before = await runningVersion(sidecar.url);
    const failedReconciles = async () =>
      Number(
        /^tiermesh_operator_reconciles_total\{result="error"\} (\d+)/m.exec(
          await (await fetch(`${operator.metricsUrl}/metrics`)).text(),
        )?.[1] ?? 0,
      );
    const failedBefore = await failedReconciles();
    await applyYaml(
      `apiVersion: tiermesh.dev/v1alpha1
kind: ModelBudget
metadata: { name: bad-zone }
spec:
  window: { period: daily, timezone: Mars/Olympus_Mons }
  limit: { usd: 10 }
`,
      ns,
    );
    // The schema refuses it (the CRD's pattern let it through): left out of the snapshot and the ledger, said once
    // as an Event on the budget, and not a reconcile failure retried with backoff.
    const zoneEvent = await waitFor(async () => {
      const list = await kubeConfig().makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: ns });
      return list.items.find((e) => e.involvedObject.name === 'bad-zone' && e.reason === 'InvalidConfig');
    }, 30_000);
    expect(zoneEvent.message).toContain('spec.window.timezone');
    expect(await failedReconciles()).toBe(failedBefore);
    const r = await route('default');
    expect(ready(r)?.status).toBe('True');
    expect(r.status?.sidecars?.nacked).toBe(0);
    // The snapshot is the same content, so the same version: nothing for the sidecar to refuse.
    expect(await runningVersion(sidecar.url)).toBe(before);
    expect(await models(sidecar.url)).toContain('small-v5');
    await custom().deleteNamespacedCustomObject({
      ...GROUP,
      namespace: ns,
      plural: 'modelbudgets',
      name: 'bad-zone',
    });
  });

  test('operator killed: sidecars keep serving (a restarted one from its state dir); operator back: resync', async () => {
    await operator.kill();
    const res = await fetch(`${sidecar.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: 'still there?' }] }),
    });
    expect(res.status).toBe(200);
    const version = await runningVersion(sidecar.url);
    // A sidecar restarting while the operator is down serves its last known good config.
    await sidecar.kill();
    sidecar = await startSidecarProc({ operator: operatorURL, tokenFile, stateDir: join(dir, 'state') });
    expect(await waitFor(() => runningVersion(sidecar.url), 30_000)).toBe(version);
    expect(await models(sidecar.url)).toContain('small-v5');
    // Config changed during the outage arrives once the operator is back.
    await applyYaml(manifests('small-after-outage'), ns);
    operator = await startOperatorProc({ kubeconfig: kubeconfigPath(), port, leaseNamespace: leaseNs });
    const t0 = performance.now();
    await waitFor(async () => (await models(sidecar.url)).includes('small-after-outage'), 90_000, 50);
    console.log(
      `resync after operator restart: ${(performance.now() - t0).toFixed(0)} ms (includes sidecar reconnect backoff)`,
    );
    // The killed replica's Lease must expire before the restarted one leads, so leadership is awaited, not
    // assumed; status acked === 1 alone proves nothing (it survives from before the kill).
    const metrics = await waitFor(async () => {
      const text = await (await fetch(`${operator.metricsUrl}/metrics`)).text();
      return (
        /^tiermesh_operator_leader 1$/m.test(text) &&
        /^tiermesh_operator_connected_sidecars 1$/m.test(text) &&
        text
      );
    }, 60_000);
    await waitFor(async () => (await route('default')).status?.sidecars?.acked === 1, 30_000);
    const lint = spawnSync(promlint(), [], { input: metrics, encoding: 'utf8' });
    expect(lint.stderr).toBe('');
    expect(lint.status).toBe(0);
  });
});
