/**
 * The operator off the routing path: with the operator SIGKILLed, real sidecar processes keep answering on what
 * they know (the slice they hold, then a bounded local allowance), say so in their metrics, refuse only once that
 * runs out, and once the operator is back it shows the local spend in status with the ledger still exact.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { applyYaml, kubeConfig, kubeconfigPath, waitFor } from '../cluster/fixtures.js';
import { behave, type Fixture, startOpenAIFixture } from '../fixtures/providers/index.js';
import { routeConfig } from '../helpers/config.js';
import {
  freePort,
  killAll,
  operatorTestBed,
  type Proc,
  startOperatorProc,
  startSidecarProc,
} from './operator-procs.js';

/** 1000 prompt tokens at $1/MTok + 1000 completion tokens at $2/MTok. */
const COST = 0.003;
/** Slices of at most 10 requests, and 10 requests of local allowance per outage. */
const CAP = 0.03;
const LOCAL = 0.03;

let ns: string;
let leaseNs: string;
let dir: string;
let tokenFile: string;
let port: number;
let up: Fixture;
let operator: Proc & { metricsUrl: string };
const sidecars: Array<Proc & { url: string }> = [];

interface BudgetObj {
  status?: { spentUSD?: number; localSpentUSD?: number };
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
async function chat(url: string): Promise<number> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: 'hi' }] }),
  });
  await res.arrayBuffer();
  return res.status;
}
async function metric(url: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^${name}\\{budget="team"\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}
const startOperator = () =>
  startOperatorProc({
    kubeconfig: kubeconfigPath(),
    port,
    leaseNamespace: leaseNs,
    extraArgs: ['--allowance-cap-usd', String(CAP)],
  });

beforeAll(async () => {
  ({ ns, leaseNs, dir, tokenFile } = await operatorTestBed('op-local'));
  up = await startOpenAIFixture();
  up.fallback(behave.ok('fine', { prompt: 1000, completion: 1000 }));
  await applyYaml(
    routeConfig({
      namespace: ns,
      upstreams: [{ name: 'up', baseURL: up.baseURL }],
      cheap: [{ name: 'small', upstreams: ['up'], inputPerMTok: 1, outputPerMTok: 2 }],
      premium: [{ name: 'big', upstreams: ['up'], inputPerMTok: 1, outputPerMTok: 2 }],
      budgets: [{ name: 'team', window: { period: 'daily' }, limit: { usd: 100 }, action: 'reject' }],
    }),
    ns,
  );
  port = await freePort();
  operator = await startOperator();
  for (let i = 0; i < 2; i++)
    sidecars.push(
      await startSidecarProc({
        operator: `http://127.0.0.1:${port}`,
        tokenFile,
        stateDir: join(dir, `s${i}`),
        extraArgs: ['--local-overspend-usd', String(LOCAL)],
      }),
    );
  for (const s of sidecars) await waitFor(async () => (await chat(s.url)) === 200, 30_000);
});

afterAll(async () => {
  await killAll();
  await up?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.sequential('operator unreachable', () => {
  test('sidecars keep answering on their slice plus a bounded local allowance, then refuse', async () => {
    await operator.kill();
    for (const s of sidecars) {
      let served = 0;
      let status = 200;
      for (let i = 0; i < 100 && status === 200; i++) {
        status = await chat(s.url);
        if (status === 200) served++;
        // Spaced out so the failing allowance refills are noticed between requests.
        await new Promise((r) => setTimeout(r, 30));
      }
      // Bounded: what the slice held (<= CAP) plus the local allowance, plus one request overdrawing it.
      expect(served * COST).toBeLessThanOrEqual(CAP + LOCAL + COST + 1e-9);
      expect(status).toBe(429);
      expect(await metric(s.url, 'tiermesh_budget_local_mode')).toBe(1);
      console.log(
        `operator down: sidecar answered ${served} requests ($${(served * COST).toFixed(3)}), then 429`,
      );
    }
  });

  test('operator back: sidecars leave local mode, status shows the local spend, the ledger is exact', async () => {
    operator = await startOperator();
    for (const s of sidecars) await waitFor(async () => (await chat(s.url)) === 200, 30_000);
    for (const s of sidecars) {
      await waitFor(async () => (await metric(s.url, 'tiermesh_budget_local_mode')) === 0, 30_000);
      expect(await metric(s.url, 'tiermesh_budget_local_spend_usd_total')).toBeGreaterThan(0);
    }
    const spent = up.calls.length * COST;
    const b = await waitFor(async () => {
      const o = await budget();
      return Math.abs((o.status?.spentUSD ?? -1) - spent) < 1e-9 && (o.status?.localSpentUSD ?? 0) > 0 && o;
    }, 30_000);
    expect(b.status?.localSpentUSD).toBeLessThanOrEqual(2 * (LOCAL + COST) + 1e-9);
    console.log(
      `operator back: ledger $${b.status?.spentUSD} = reported; spent on local knowledge $${b.status?.localSpentUSD}`,
    );
  });
});
