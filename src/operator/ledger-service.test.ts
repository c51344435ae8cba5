import { describe, expect, it } from 'vitest';
import { type ModelBudget, type ModelBudgetStatus, modelBudget } from '../api/modelbudget.js';
import { type BudgetStore, LedgerService } from './ledger-service.js';
import { TerminalError } from './reconcile-result.js';

class Conflict extends Error {}

/** An apiserver-like store: resourceVersion bumps on every write, stale writes conflict, and a second writer races. */
function memoryStore(initial: ModelBudget, raceEvery = 0) {
  let obj = structuredClone(initial);
  let rv = 1;
  let writes = 0;
  const store: BudgetStore = {
    cached: () => [obj],
    get: async () => structuredClone({ ...obj, metadata: { ...obj.metadata, resourceVersion: String(rv) } }),
    writeStatus: async (b: ModelBudget, status: ModelBudgetStatus) => {
      await new Promise((r) => setTimeout(r, 0));
      writes++;
      // Someone else (a label edit) moved the object: this write must fail and be redone from a fresh read.
      if (raceEvery && writes % raceEvery === 0) rv++;
      if (b.metadata.resourceVersion !== String(rv)) throw new Conflict('409');
      rv++;
      obj = { ...obj, status };
      return obj;
    },
    isConflict: (e) => e instanceof Conflict,
  };
  return { store, current: () => obj, writes: () => writes };
}

const budget = modelBudget.parse({
  apiVersion: 'tiermesh.dev/v1alpha1',
  kind: 'ModelBudget',
  metadata: { name: 'team', namespace: 'ns' },
  spec: { window: { period: 'daily' }, limit: { usd: 1 } },
});
const rec = (costUSD: number) => ({
  route: 'default',
  model: 'm',
  inputTokens: 1,
  outputTokens: 1,
  costUSD,
  baselineCostUSD: 0,
  at: 0,
});

describe('LedgerService', () => {
  it('applies concurrent batches exactly once each, through conflicts, and dedups resends', async () => {
    const m = memoryStore(budget, 3);
    const fired: number[] = [];
    const ledger = new LedgerService({
      store: m.store,
      events: { threshold: (_b, t) => fired.push(t) },
      isLeader: () => true,
      sidecars: () => 4,
    });
    const batches = Array.from({ length: 40 }, (_, i) => ({
      sidecarId: `s${i % 4}`,
      seq: Math.floor(i / 4) + 1,
      records: [rec(0.01)],
    }));
    await Promise.all(batches.map((b) => ledger.report('ns', b)));
    // Every batch again, as after an operator restart that lost the answers.
    const again = await Promise.all(batches.map((b) => ledger.report('ns', b)));
    expect(again.every((r) => !r.applied)).toBe(true);
    expect(m.current().status?.spentUSD).toBe(0.4);
    expect(m.current().status?.reporters).toEqual({ s0: 10, s1: 10, s2: 10, s3: 10 });
    expect(fired).toEqual([]);
    await ledger.report('ns', { sidecarId: 's0', seq: 11, records: [rec(0.2)] });
    expect(fired).toEqual([50]);
  });

  it('hands out slices that never add up to more than what is left', async () => {
    const m = memoryStore(budget);
    const ledger = new LedgerService({
      store: m.store,
      events: { threshold: () => undefined },
      isLeader: () => true,
      sidecars: () => 4,
      grants: { capUSD: 0.1, minUSD: 0.001 },
    });
    await ledger.report('ns', { sidecarId: 's0', seq: 1, records: [rec(0.5)] });
    let total = 0;
    for (let i = 0; i < 100; i++)
      total += (await ledger.allowance('ns', { sidecarId: `s${i % 4}`, budget: 'team' })).grantUSD;
    expect(total).toBeLessThanOrEqual(0.5 + 1e-9);
    expect(total).toBeGreaterThan(0.49);
  });

  it('refuses to write when not the leader', async () => {
    const m = memoryStore(budget);
    const ledger = new LedgerService({
      store: m.store,
      events: { threshold: () => undefined },
      isLeader: () => false,
      sidecars: () => 1,
    });
    await expect(ledger.report('ns', { sidecarId: 's', seq: 1, records: [rec(1)] })).rejects.toMatchObject({
      code: 'TM_NOT_READY',
    });
    expect(m.writes()).toBe(0);
  });

  it('a budget in a time zone the runtime does not know is a TerminalError naming the field', async () => {
    const mars = modelBudget.parse({
      ...budget,
      spec: { window: { period: 'daily', timezone: 'Mars/Olympus_Mons' }, limit: { usd: 1 } },
    });
    const m = memoryStore(mars);
    const ledger = new LedgerService({
      store: m.store,
      events: { threshold: () => undefined },
      isLeader: () => true,
      sidecars: () => 1,
    });
    const e = await ledger.refresh('ns', 'team').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TerminalError);
    expect((e as Error).message).toBe('spec.window.timezone: unknown time zone "Mars/Olympus_Mons"');
    expect(m.writes()).toBe(0);
  });
});
