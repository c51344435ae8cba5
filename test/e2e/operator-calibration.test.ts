/**
 * Online calibration (spec.classifier.adapt) and drift, from real sidecar processes to the real apiserver: two
 * sidecars route on the learned classifier while the cheap model answers empty (the cascade escalates every cheap
 * answer); the leader raises the route's premium share a step at a time, stops at maxShift, stores each step in
 * status.calibration and pushes it to the sidecars in the compiled config. An operator restarted from scratch
 * resumes from status (the way back down continues the count). A tier distribution that moves away from the window
 * before gives a RoutingDrift Event.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { CalibrationStatus, ModelRouteStatus } from '../../src/api/modelroute.js';
import type { Snapshot } from '../../src/api/snapshot.js';
import { applyYaml, kubeConfig, kubeconfigPath, waitFor } from '../cluster/fixtures.js';
import { behave, type Fixture, startOpenAIFixture } from '../fixtures/providers/index.js';
import { COMPLEX_PROMPT, routeConfig, SIMPLE_PROMPT } from '../helpers/config.js';
import {
  freePort,
  killAll,
  operatorTestBed,
  type Proc,
  startOperatorProc,
  startSidecarProc,
  waitForOutput,
} from './operator-procs.js';

let ns: string;
let leaseNs: string;
let up: Fixture;
let dir: string;
let port: number;
let operator: Proc;
const sidecars: Array<Proc & { url: string }> = [];
/** When set, the cheap model answers with empty content: the cascade's `empty` check escalates each request. */
let cheapAnswersEmpty = true;

const ADAPT = { enabled: true, minSamples: 20, intervalSeconds: 5, step: 0.05, maxShift: 0.1 };

async function routeStatus(): Promise<ModelRouteStatus | undefined> {
  const o = (await kubeConfig().makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
    group: 'tiermesh.dev',
    version: 'v1alpha1',
    namespace: ns,
    plural: 'modelroutes',
    name: 'default',
  })) as { status?: ModelRouteStatus };
  return o.status;
}
const calibration = async () => (await routeStatus())?.calibration;

async function routeEvents(reason: string) {
  const events = await kubeConfig().makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: ns });
  return events.items.filter((e) => e.involvedObject.kind === 'ModelRoute' && e.reason === reason);
}

/** The offset the sidecar runs on: its last applied snapshot, as it saved it in its state dir. */
function sidecarOffset(i: number): number | undefined {
  try {
    const s = JSON.parse(readFileSync(join(dir, `state-${i}`, 'snapshot.json'), 'utf8')) as Snapshot;
    return s.routes.find((r) => r.name === 'default')?.calibration?.offset ?? 0;
  } catch {
    return undefined;
  }
}

async function chat(url: string, content: string): Promise<void> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content }] }),
  });
  const body = (await res.json()) as { choices?: Array<{ message?: { content?: string } }> };
  expect(res.status, JSON.stringify(body)).toBe(200);
  expect(body.choices?.[0]?.message?.content).toBe('fine');
}

/** `n` requests per sidecar, one after another on each. */
const traffic = (n: number, content = SIMPLE_PROMPT) =>
  Promise.all(
    sidecars.map(async (s) => {
      for (let k = 0; k < n; k++) await chat(s.url, content);
    }),
  );

/**
 * Sends a few requests a second until status.calibration satisfies `ok`: each step of the leader needs minSamples
 * fresh requests, and a bounded rate keeps the drift test's window countable.
 */
async function trafficUntil(ok: (c: CalibrationStatus) => boolean): Promise<CalibrationStatus> {
  return waitFor(
    async () => {
      const c = await calibration();
      if (c && ok(c)) return c;
      await traffic(3);
      return false;
    },
    90_000,
    1_000,
  );
}

const movedEvents = async () => (await routeEvents('CalibrationMoved')).map((e) => e.message ?? '');

async function startOperator(): Promise<void> {
  operator = await startOperatorProc({ kubeconfig: kubeconfigPath(), port, leaseNamespace: leaseNs });
}

beforeAll(async () => {
  let tokenFile: string;
  ({ ns, leaseNs, dir, tokenFile } = await operatorTestBed('op-calib'));
  up = await startOpenAIFixture();
  up.script((req) =>
    cheapAnswersEmpty && (req.body as { model?: string }).model === 'small'
      ? behave.ok('', { prompt: 100, completion: 1 })
      : behave.ok('fine', { prompt: 100, completion: 100 }),
  );
  const docs = parseAllDocuments(
    routeConfig({
      namespace: ns,
      upstreams: [{ name: 'up', baseURL: up.baseURL }],
      cheap: [{ name: 'small', upstreams: ['up'] }],
      premium: [{ name: 'big', upstreams: ['up'] }],
    }),
  ).map((d) => d.toJS());
  const route = docs[0] as { spec: Record<string, { rules?: unknown } & Record<string, unknown>> };
  // Learned mode (the shipped model) with the config's rule, which sends "prove ... step by step" premium.
  route.spec['classifier'] = {
    mode: 'learned',
    confidenceBand: 0.05,
    premiumShare: 0.2,
    rules: route.spec['classifier']!.rules,
    adapt: ADAPT,
  };
  route.spec['monitoring'] = { windowSeconds: 60 };
  await applyYaml(JSON.stringify(route), ns);
  port = await freePort();
  await startOperator();
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

describe.sequential('online calibration and drift from two sidecars', () => {
  /** When the first requests were routed: the baseline window of the drift test. */
  let firstTrafficAt = 0;

  test('escalations past maxEscalationRate raise the premium share a step at a time, up to maxShift, in every sidecar', async () => {
    firstTrafficAt = Date.now();
    const first = await trafficUntil((c) => c.moves >= 1);
    expect(first).toMatchObject({ offset: 0.05, moves: 1 });
    expect(first.lastMove).toBeDefined();
    // One Normal Event per move, saying why; the operator log says it too.
    const moved = await waitFor(async () => {
      const e = await routeEvents('CalibrationMoved');
      return e.length > 0 && e;
    }, 30_000);
    expect(moved[0]!.type).toBe('Normal');
    expect(moved[0]!.message).toMatch(
      /^escalation rate \d+\.\d% over \d+ requests is above 10\.0%: premium share raised to \+5\.0%$/,
    );
    await waitForOutput(operator, /online calibration moved/);
    // Both sidecars run on the new offset: it is in the compiled config they applied.
    await waitFor(() => sidecarOffset(0) === 0.05 && sidecarOffset(1) === 0.05, 30_000);

    const second = await trafficUntil((c) => c.moves >= 2);
    expect(second.offset).toBe(0.1);
    // Still escalating: held at maxShift, however much more traffic says so.
    const held = await trafficUntil((c) => c.reason.includes('at maxShift') && c.samples >= ADAPT.minSamples);
    expect(held).toMatchObject({ offset: 0.1, moves: 2 });
    expect(held.escalationRate).toBeGreaterThan(0.1);
    await waitFor(() => sidecarOffset(0) === 0.1 && sidecarOffset(1) === 0.1, 30_000);
    expect(await movedEvents()).toHaveLength(2);
  }, 180_000);

  test('a tier distribution that moves from the window before gives one RoutingDrift Event', async () => {
    // The window before (60 s) must hold the first requests, all sent to the cheap tier.
    const wait = firstTrafficAt + 61_000 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    expect(await routeEvents('RoutingDrift')).toEqual([]);
    // Requests the rule sends premium, until they are more than a fifth of the window's traffic.
    const drifted = await waitFor(
      async () => {
        const e = await routeEvents('RoutingDrift');
        if (e.length > 0) return e;
        await traffic(10, COMPLEX_PROMPT);
        return false;
      },
      60_000,
      1_000,
    );
    expect(drifted[0]!.type).toBe('Warning');
    expect(drifted[0]!.message).toContain('more than spec.monitoring.maxTierShareDrift 20.0%');
    const r = (await routeStatus())?.routing;
    expect(r?.drift).toBeGreaterThan(0.2);
    expect(r?.shareByTier['premium']).toBeGreaterThan(0.2);
    expect(await routeEvents('RoutingDrift')).toHaveLength(1);
  }, 120_000);

  test('a restarted operator resumes from status.calibration: the offset and move count carry on', async () => {
    const before = (await calibration())!;
    expect(before.offset).toBe(0.1);
    await operator.kill();
    cheapAnswersEmpty = false;
    await startOperator();
    await waitForOutput(operator, /became leader/);
    // No more escalations: the new leader gives back one step from where the old one stopped, not from 0.
    const back = await trafficUntil((c) => c.moves > before.moves);
    expect(back).toMatchObject({ offset: 0.05, moves: before.moves + 1 });
    expect((await movedEvents()).filter((m) => m.includes('premium share lowered to +5.0%'))).toHaveLength(1);
    await waitFor(() => sidecarOffset(0) === 0.05 && sidecarOffset(1) === 0.05, 30_000);
  }, 180_000);
});
