/**
 * One ModelBudget shared by four real sidecar processes, each spending against an OpenAI-wire fixture: the
 * operator's allowances bound the overspend (measured and printed), and its ledger in ModelBudget.status matches
 * exactly what the sidecars spent, including across an operator SIGKILL + restart mid-load.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { applyYaml, kubeConfig, kubeconfigPath, waitFor } from '../cluster/fixtures.js';
import { behave, type Fixture, startOpenAIFixture } from '../fixtures/providers/index.js';
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

const SIDECARS = 4;
const WORKERS_PER_SIDECAR = 3;
/** 1000 prompt tokens at $1/MTok + 1000 completion tokens at $2/MTok. */
const COST = 0.003;
const LIMIT = 0.1;

let ns: string;
let up: Fixture;
let dir: string;
let port: number;
let leaseNs: string;
let operator: Proc & { metricsUrl: string };
const sidecars: Array<Proc & { url: string }> = [];

interface BudgetObj {
  status?: { spentUSD?: number; state?: string; alertsFired?: number[]; reporters?: Record<string, number> };
}
async function budget(): Promise<BudgetObj> {
  return (await kubeConfig().makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
    group: 'tiermesh.dev',
    version: 'v1alpha1',
    namespace: ns,
    plural: 'modelbudgets',
    name: 'team',
  })) as BudgetObj;
}

const manifests = (limitUSD: number) =>
  routeConfig({
    namespace: ns,
    upstreams: [{ name: 'up', baseURL: up.baseURL }],
    cheap: [{ name: 'small', upstreams: ['up'], inputPerMTok: 1, outputPerMTok: 2 }],
    premium: [{ name: 'big', upstreams: ['up'], inputPerMTok: 1, outputPerMTok: 2 }],
    budgets: [{ name: 'team', window: { period: 'daily' }, limit: { usd: limitUSD }, action: 'reject' }],
  });

async function chat(url: string): Promise<number> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: 'hi' }] }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** Workers on every sidecar send requests until `stop()` says so; returns how many were answered 200. */
async function load(
  stop: (served: number, refusedInARow: number) => boolean,
): Promise<{ served: number; refused: number }> {
  let served = 0;
  let refused = 0;
  const worker = async (url: string) => {
    let inARow = 0;
    while (!stop(served, inARow)) {
      const status = await chat(url);
      if (status === 200) {
        served++;
        inARow = 0;
      } else {
        expect(status).toBe(429);
        refused++;
        inARow++;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  await Promise.all(
    sidecars.flatMap((s) => Array.from({ length: WORKERS_PER_SIDECAR }, () => worker(s.url))),
  );
  return { served, refused };
}

beforeAll(async () => {
  let tokenFile: string;
  ({ ns, leaseNs, dir, tokenFile } = await operatorTestBed('op-budget'));
  up = await startOpenAIFixture();
  up.fallback(behave.ok('fine', { prompt: 1000, completion: 1000 }));
  await applyYaml(manifests(LIMIT), ns);
  port = await freePort();
  operator = await startOperatorProc({ kubeconfig: kubeconfigPath(), port, leaseNamespace: leaseNs });
  for (let i = 0; i < SIDECARS; i++)
    sidecars.push(
      await startSidecarProc({
        operator: `http://127.0.0.1:${port}`,
        tokenFile,
        stateDir: join(dir, `state-${i}`),
      }),
    );
  for (const s of sidecars)
    await waitFor(async () => (await fetch(`${s.url}/readyz`)).status === 200, 30_000);
});

afterAll(async () => {
  await killAll();
  await up?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.sequential('budget across sidecars', () => {
  test(`${SIDECARS} sidecars x ${WORKERS_PER_SIDECAR} workers against one $${LIMIT} budget: bounded overspend, exact ledger`, async () => {
    // Refused for 3 s straight on every worker = the allowance is gone cluster-wide (refills retry each second).
    const r = await load((_served, inARow) => inARow >= 60);
    const spent = up.calls.length * COST;
    const b = await waitFor(async () => {
      const o = await budget();
      return Math.abs((o.status?.spentUSD ?? -1) - spent) < 1e-9 && o;
    }, 30_000);
    const overspend = spent - LIMIT;
    console.log(
      `budget $${LIMIT} shared by ${SIDECARS} sidecars (${WORKERS_PER_SIDECAR} concurrent clients each, $${COST}/request): ` +
        `served ${r.served} (${up.calls.length} upstream calls), refused ${r.refused}; spent $${spent.toFixed(4)}, ` +
        `overspend $${overspend.toFixed(4)} (${((overspend / LIMIT) * 100).toFixed(1)}% of the limit, ` +
        `${(overspend / COST).toFixed(1)} requests)`,
    );
    expect(r.served).toBe(up.calls.length);
    // Every in-flight request may overdraw its estimate once; nothing beyond that.
    expect(overspend).toBeLessThanOrEqual(SIDECARS * WORKERS_PER_SIDECAR * COST + 1e-9);
    // And the budget is used up: what is left cannot pay for one more request.
    expect(LIMIT - spent).toBeLessThan(COST);
    expect(['Warning', 'Exceeded']).toContain(b.status?.state);
    expect(b.status?.alertsFired?.slice(0, 2)).toEqual([50, 80]);
  });

  test('operator SIGKILLed and restarted mid-load: no usage lost, none counted twice', async () => {
    await applyYaml(manifests(100), ns);
    await waitFor(async () => (await budget()).status?.state === 'Ok', 30_000);
    const calls0 = up.calls.length;
    const spent0 = (await budget()).status?.spentUSD ?? 0;
    let killed = false;
    let restarted: Promise<void> | undefined;
    const r = await load((served) => {
      if (!killed && served >= 40) {
        killed = true;
        restarted = (async () => {
          await operator.kill();
          await new Promise((res) => setTimeout(res, 1000));
          operator = await startOperatorProc({ kubeconfig: kubeconfigPath(), port, leaseNamespace: leaseNs });
        })();
      }
      return served >= 200;
    });
    await restarted;
    const spent = (up.calls.length - calls0) * COST;
    const b = await waitFor(async () => {
      const o = await budget();
      return Math.abs((o.status?.spentUSD ?? 0) - spent0 - spent) < 1e-9 && o;
    }, 60_000);
    // Resends after the restart are deduplicated, so the ledger does not creep past the truth later either.
    await new Promise((res) => setTimeout(res, 3000));
    expect(Math.abs(((await budget()).status?.spentUSD ?? 0) - spent0 - spent)).toBeLessThan(1e-9);
    console.log(
      `operator restart mid-load: ${r.served} requests served, ledger ${((b.status?.spentUSD ?? 0) - spent0).toFixed(4)} ` +
        `vs sidecar-reported ${spent.toFixed(4)} USD; reporters ${JSON.stringify(b.status?.reporters)}`,
    );
    const events = await kubeConfig().makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: ns });
    // Each threshold announced once in the window, although a new leader took over in between.
    const thresholds = events.items.filter((e) => e.reason === 'BudgetThreshold');
    expect(thresholds.length).toBe(b.status?.alertsFired?.length);
    for (const e of events.items) expect(e.message ?? '').not.toMatch(/Bearer|eyJ/);
    // The sidecars rode out the leader change: "not the leader" answers are never a warning, and each retried
    // call warns at most once per outage (the refused connections while no operator ran), not once per retry.
    for (const s of sidecars) {
      const loud = logLines(s).filter((l) => l.level >= 40);
      expect(loud.filter((l) => /not the leader|TM_NOT_READY/.test(String(l['err'])))).toEqual([]);
      for (const what of ['usage report', 'allowance request'])
        expect(loud.filter((l) => l.msg.startsWith(what)).length).toBeLessThanOrEqual(1);
      // The restarted operator re-sends the running version on reconnect: still one "config applied" each.
      const applied = logLines(s)
        .filter((l) => l.msg === 'config applied')
        .map((l) => l.version);
      expect(applied.length).toBeGreaterThan(0);
      expect(new Set(applied).size).toBe(applied.length);
    }
  });
});
