/**
 * Usage from a real sidecar link to the real operator server and ledger over loopback: a leader whose caches are
 * not synced yet answers 503 (the sidecar keeps the batch and resends it), and a routing report the operator cannot
 * take (a wall clock stepped back) never holds up the usage it rides with.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type ModelBudget, type ModelBudgetStatus, modelBudget } from '../../src/api/modelbudget.js';
import { ConfigHub } from '../../src/operator/hub.js';
import { LedgerService } from '../../src/operator/ledger-service.js';
import { applyMergePatch } from '../../src/operator/merge-patch.js';
import { ALLOWANCE_PATH, USAGE_PATH } from '../../src/operator/protocol.js';
import { createOperatorServer } from '../../src/operator/server.js';
import { linkToOperator } from '../../src/sidecar/config-stream-operator.js';
import { until } from '../helpers/until.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An operator server with a real LedgerService over one in-memory ModelBudget, its cache filled on `sync()`. */
async function operator(opts: { probeReady?: () => boolean } = {}) {
  let obj = modelBudget.parse({
    apiVersion: 'tiermesh.dev/v1alpha1',
    kind: 'ModelBudget',
    metadata: { name: 'team', namespace: 'ns' },
    spec: { window: { period: 'daily' }, limit: { usd: 10 } },
  });
  let synced = false;
  let failWrites = false;
  const ledger = new LedgerService({
    store: {
      cached: () => (synced ? [obj] : []),
      get: async () => structuredClone(obj),
      writeStatus: async (_b: ModelBudget, s: ModelBudgetStatus) => {
        if (failWrites) throw new Error('etcdserver: request timed out');
        obj = { ...obj, status: applyMergePatch(obj.status, s) as ModelBudgetStatus };
        return obj;
      },
      isConflict: () => false,
    },
    events: { threshold: () => undefined },
    isLeader: () => true,
    sidecars: () => 1,
  });
  const answers: Array<{ path: string; status: number }> = [];
  const batches: string[] = [];
  const server = createOperatorServer({
    hub: new ConfigHub(),
    authenticate: async () => ({ namespace: 'ns', serviceAccount: 'app' }),
    ledger,
    ready: () => synced,
    ...(opts.probeReady ? { probeReady: opts.probeReady } : {}),
    onUsageBatch: (result) => batches.push(result),
  });
  server.on('request', (req, res) =>
    res.on('finish', () => answers.push({ path: req.url ?? '', status: res.statusCode })),
  );
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  const dir = mkdtempSync(join(tmpdir(), 'tm-usage-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'token'), 'tok');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    dir,
    answers,
    batches,
    budget: () => obj,
    failWrites: (on: boolean) => {
      failWrites = on;
    },
    sync: () => {
      synced = true;
    },
  };
}

const rec = (costUSD: number) => ({
  route: 'default',
  model: 'm',
  inputTokens: 10,
  outputTokens: 10,
  costUSD,
  baselineCostUSD: 0,
  at: Date.now(),
});

describe('usage to the operator', () => {
  it('a leader draining before its shutdown is unready to the kubelet but still grants allowances until it hands over', async () => {
    const op = await operator({ probeReady: () => false });
    op.sync();
    expect((await fetch(`${op.url}/readyz`)).status).toBe(503);
    const res = await fetch(`${op.url}${ALLOWANCE_PATH}`, {
      method: 'POST',
      headers: { authorization: 'Bearer tok', 'content-type': 'application/json' },
      body: JSON.stringify({ sidecarId: 'sc1', budget: 'team' }),
    });
    expect(res.status).toBe(200);
  });

  it('before its caches are synced the leader answers 503 to usage and allowances; the batch is kept, then applied', async () => {
    const op = await operator();
    const link = linkToOperator({
      operator: op.url,
      tokenFile: join(op.dir, 'token'),
      stateDir: join(op.dir, 'state'),
      flushMs: 50,
      sidecarId: 'sc1',
    });
    cleanups.push(() => link.stop());
    link.report(rec(2.5));
    const res = await fetch(`${op.url}${ALLOWANCE_PATH}`, {
      method: 'POST',
      headers: { authorization: 'Bearer tok', 'content-type': 'application/json' },
      body: JSON.stringify({ sidecarId: 'sc1', budget: 'team' }),
    });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('TM_NOT_READY');
    await until(() => op.answers.some((a) => a.path === USAGE_PATH), 'a usage batch sent');
    expect(op.answers.filter((a) => a.path === USAGE_PATH).every((a) => a.status === 503)).toBe(true);
    expect(link.reporter.pending()).toBe(1);
    op.sync();
    await until(() => link.reporter.pending() === 0, 'the batch delivered');
    expect(op.budget().status?.spentUSD).toBe(2.5);
  });

  it('counts each usage batch it answered by result: rejected before the caches sync, error on a failed write, ok', async () => {
    const op = await operator();
    const send = (seq: number) =>
      fetch(`${op.url}${USAGE_PATH}`, {
        method: 'POST',
        headers: { authorization: 'Bearer tok', 'content-type': 'application/json' },
        body: JSON.stringify({ sidecarId: 'sc1', seq, records: [rec(1)] }),
      }).then(async (r) => {
        await r.arrayBuffer();
        return r.status;
      });
    expect(await send(1)).toBe(503);
    op.sync();
    op.failWrites(true);
    expect(await send(1)).toBe(500);
    op.failWrites(false);
    expect(await send(1)).toBe(200);
    // A resend of an applied batch is answered as applied before.
    expect(await send(1)).toBe(200);
    expect(op.batches).toEqual(['rejected', 'error', 'ok', 'ok']);
    expect(op.budget().status?.spentUSD).toBe(1);
  });

  it('a routing report that ends before it starts is dropped; the usage it rides with is applied', async () => {
    const op = await operator();
    op.sync();
    const routing = {
      route: 'default',
      requests: { cheap: 1 },
      escalations: 0,
      feedbackCount: 0,
      feedbackSum: 0,
    };
    const res = await fetch(`${op.url}${USAGE_PATH}`, {
      method: 'POST',
      headers: { authorization: 'Bearer tok', 'content-type': 'application/json' },
      body: JSON.stringify({
        sidecarId: 'sc1',
        seq: 1,
        records: [rec(1.5)],
        // The wall clock stepped back 300 ms between two drains.
        routing: [{ ...routing, from: 10_300, to: 10_000 }],
      }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ applied: true });
    expect(op.budget().status?.spentUSD).toBe(1.5);
  });
});
