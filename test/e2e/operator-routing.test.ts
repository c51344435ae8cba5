/**
 * Routing quality and cost allocation from real sidecar processes to the real apiserver: two sidecars report
 * their routing counts on their usage batches, the leader writes ModelRoute.status.routing, warns once when the
 * escalation rate crosses spec.monitoring.maxEscalationRate (the cheap model answering empty, so the cascade
 * escalates), says when it is back, and the ledger names the heavy user in ModelBudget.status.topSpenders.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { ModelBudgetStatus } from '../../src/api/modelbudget.js';
import type { ModelRouteStatus } from '../../src/api/modelroute.js';
import { applyYaml, kubeConfig, kubeconfigPath, waitFor } from '../cluster/fixtures.js';
import { behave, type Fixture, startOpenAIFixture } from '../fixtures/providers/index.js';
import { routeConfig, SIMPLE_PROMPT } from '../helpers/config.js';
import {
  freePort,
  killAll,
  operatorTestBed,
  type Proc,
  startOperatorProc,
  startSidecarProc,
} from './operator-procs.js';

let ns: string;
let up: Fixture;
let dir: string;
const sidecars: Array<Proc & { url: string }> = [];
/** When set, the cheap model answers with empty content: the cascade's `empty` check escalates each request. */
let cheapAnswersEmpty = false;

async function get(plural: 'modelroutes' | 'modelbudgets', name: string): Promise<{ status?: unknown }> {
  return (await kubeConfig().makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
    group: 'tiermesh.dev',
    version: 'v1alpha1',
    namespace: ns,
    plural,
    name,
  })) as { status?: unknown };
}
const routing = async () =>
  ((await get('modelroutes', 'default')).status as ModelRouteStatus | undefined)?.routing;
const budgetStatus = async () => (await get('modelbudgets', 'team')).status as ModelBudgetStatus | undefined;

async function routeEvents(reason: string) {
  const events = await kubeConfig().makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: ns });
  return events.items.filter((e) => e.involvedObject.kind === 'ModelRoute' && e.reason === reason);
}

/** Every request the sidecars routed, refused ones included: each is one request in status.routing. */
let routed = 0;
/** Requests the cheap model answered empty and the premium one then served: one escalation each. */
let escalated = 0;

/**
 * One answered request. A slice of the budget's allowance that lapsed between two requests is refused once (429)
 * while the sidecar fetches the next one; such a request was routed all the same, so it is counted, and sent again.
 */
async function chat(url: string, user: string): Promise<void> {
  for (;;) {
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-tiermesh-user': user },
      body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: SIMPLE_PROMPT }] }),
    });
    const body = (await res.json()) as {
      choices?: Array<{ message?: { content?: string } }>;
      error?: { code?: string };
    };
    routed++;
    if (res.status === 429 && body.error?.code === 'TM_BUDGET_EXCEEDED') {
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    expect(res.status, JSON.stringify(body)).toBe(200);
    // Escalated or not, the client gets the non-empty answer.
    expect(body.choices?.[0]?.message?.content).toBe('fine');
    if (cheapAnswersEmpty) escalated++;
    return;
  }
}

/** `n` requests per sidecar, one after another on each; the first `heavy` of each go as the power user. */
async function traffic(n: number, heavy = 0): Promise<void> {
  await Promise.all(
    sidecars.map(async (s, i) => {
      for (let k = 0; k < n; k++) await chat(s.url, k < heavy ? 'power-user' : `user-${i}-${k % 2}`);
    }),
  );
}

/** status.routing once it counts every request routed so far. */
const routingCaughtUp = () =>
  waitFor(async () => {
    const s = await routing();
    return s?.requests === routed && s;
  }, 60_000);

beforeAll(async () => {
  let tokenFile: string;
  let leaseNs: string;
  ({ ns, leaseNs, dir, tokenFile } = await operatorTestBed('op-routing'));
  up = await startOpenAIFixture();
  up.script((req) =>
    cheapAnswersEmpty && (req.body as { model?: string }).model === 'small'
      ? behave.ok('', { prompt: 100, completion: 1 })
      : behave.ok('fine', { prompt: 100, completion: 100 }),
  );
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
  const port = await freePort();
  await startOperatorProc({
    kubeconfig: kubeconfigPath(),
    port,
    leaseNamespace: leaseNs,
  });
  for (let i = 0; i < 2; i++)
    sidecars.push(
      await startSidecarProc({
        operator: `http://127.0.0.1:${port}`,
        tokenFile,
        stateDir: join(dir, `state-${i}`),
      }),
    );
  for (const s of sidecars)
    await waitFor(async () => (await fetch(`${s.url}/readyz`)).status === 200, 30_000);
}, 120_000);

afterAll(async () => {
  await killAll();
  await up?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.sequential('routing status and top spenders from two sidecars', () => {
  test('status.routing sums both sidecars; topSpenders shows the heavy user', async () => {
    await traffic(15, 10);
    const r = await routingCaughtUp();
    expect(r).toMatchObject({
      windowSeconds: 3600,
      sidecars: 2,
      shareByTier: { cheap: 1 },
      escalationRate: 0,
    });
    expect(r.feedback).toEqual({ count: 0 });
    expect(await routeEvents('EscalationRateHigh')).toEqual([]);

    const top = await waitFor(async () => {
      const t = (await budgetStatus())?.topSpenders;
      return t && t.reduce((n, s) => n + s.requests, 0) === 30 && t;
    }, 30_000);
    // 20 requests of 100 + 100 tokens on the cheap model ($1 + $2 per MTok): $0.0003 each.
    expect(top[0]).toEqual({ user: 'power-user', usd: 0.006, requests: 20, errorUSD: 0 });
    // The others, 3 and 2 requests each on each sidecar.
    expect(top.slice(1).map((s) => [s.user, s.requests])).toEqual([
      ['user-0-0', 3],
      ['user-1-0', 3],
      ['user-0-1', 2],
      ['user-1-1', 2],
    ]);
  });

  test('escalations past maxEscalationRate: one Warning Event while it stays high, a Normal one once it is back', async () => {
    cheapAnswersEmpty = true;
    await traffic(5); // 10 escalations in about 40 requests
    const high = await routingCaughtUp();
    expect(high.escalationRate).toBeCloseTo(escalated / routed, 4);
    expect(high.escalationRate).toBeGreaterThan(0.2);
    const warned = await waitFor(async () => {
      const e = await routeEvents('EscalationRateHigh');
      return e.length > 0 && e;
    }, 30_000);
    expect(warned[0]!.type).toBe('Warning');
    expect(warned[0]!.message).toContain(`${((escalated / routed) * 100).toFixed(1)}%`);
    expect(warned[0]!.message).toContain('maxEscalationRate 10.0%');

    // Still high on the next status write: no second Warning.
    await traffic(5); // 20 in about 50
    await routingCaughtUp();
    expect(await routeEvents('EscalationRateHigh')).toHaveLength(1);

    // Good answers again dilute it to 20 in 200 or more: at most 10%, within the bound.
    cheapAnswersEmpty = false;
    await traffic(75);
    const back = await routingCaughtUp();
    expect(back.escalationRate).toBeCloseTo(escalated / routed, 4);
    expect(back.escalationRate).toBeLessThanOrEqual(0.1);
    const normal = await waitFor(async () => {
      const e = await routeEvents('EscalationRateNormal');
      return e.length > 0 && e;
    }, 30_000);
    expect(normal[0]!.type).toBe('Normal');
    expect(await routeEvents('EscalationRateHigh')).toHaveLength(1);
    // Counts only: no user id reaches route status or its Events.
    expect(JSON.stringify(back)).not.toContain('user');
    for (const e of [...warned, ...normal]) expect(e.message).not.toMatch(/power-user|user-\d/);
  });
});
