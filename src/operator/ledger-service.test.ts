import { describe, expect, it } from 'vitest';
import { type ModelBudget, type ModelBudgetStatus, modelBudget } from '../api/modelbudget.js';
import { type BudgetStore, LedgerService } from './ledger-service.js';
import { applyMergePatch } from './merge-patch.js';
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
      // Merge-patch semantics, as the apiserver applies them (nulls remove keys).
      obj = { ...obj, status: applyMergePatch(obj.status, status) as ModelBudgetStatus };
      return obj;
    },
    isConflict: (e) => e instanceof Conflict,
  };
  return {
    store,
    current: () => obj,
    writes: () => writes,
    /** A spec edit: a new resourceVersion, as the apiserver gives it. */
    setSpec: (spec: ModelBudget['spec']) => {
      obj = { ...obj, spec };
      rv++;
    },
  };
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

/** As a runtime whose zone database lacks the zone would hold it: past the schema, unknown to Intl. */
const mars: ModelBudget = {
  ...budget,
  spec: { ...budget.spec, window: { period: 'daily', timezone: 'Mars/Olympus_Mons' } },
};

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

  it('keeps the top spenders of the window in status, exactly once through conflicts and resends', async () => {
    const m = memoryStore(budget, 3);
    let now = new Date('2026-01-01T10:00:00Z');
    const deps = {
      store: m.store,
      events: { threshold: () => undefined },
      isLeader: () => true,
      sidecars: () => 2,
      now: () => now,
    };
    const ledger = new LedgerService(deps);
    const by = (user: string | undefined, costUSD: number) => ({ ...rec(costUSD), user });
    const batches = Array.from({ length: 20 }, (_, i) => ({
      sidecarId: `s${i % 2}`,
      seq: Math.floor(i / 2) + 1,
      records: [by('power-user', 0.02), by(`u${i}`, 0.001), by(undefined, 0.005)],
    }));
    await Promise.all(batches.map((b) => ledger.report('ns', b)));
    await Promise.all(batches.map((b) => ledger.report('ns', b)));
    const top = m.current().status?.topSpenders ?? [];
    expect(top[0]).toEqual({ user: 'power-user', usd: 0.4, requests: 20, errorUSD: 0 });
    expect(top).toHaveLength(10);
    expect(top.slice(1).every((s) => s.usd === 0.001 && s.requests === 1)).toBe(true);
    // A new leader carries on from the status.
    const next = new LedgerService(deps);
    await next.report('ns', { sidecarId: 's0', seq: 11, records: [by('power-user', 0.1)] });
    expect(m.current().status?.topSpenders?.[0]).toMatchObject({
      user: 'power-user',
      usd: 0.5,
      requests: 21,
    });
    // A new window starts with nobody.
    now = new Date('2026-01-02T10:00:00Z');
    await next.refresh('ns', 'team');
    expect(m.current().status?.topSpenders).toEqual([]);
    await next.report('ns', { sidecarId: 's0', seq: 12, records: [by('early-bird', 0.01)] });
    expect(m.current().status?.topSpenders).toEqual([
      { user: 'early-bird', usd: 0.01, requests: 1, errorUSD: 0 },
    ]);
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

  it('a new leader knows the slices the old one handed out: together they never grant more than is left', async () => {
    const m = memoryStore(budget);
    let t = 1_000_000;
    const leader = (sidecars: number) =>
      new LedgerService({
        store: m.store,
        events: { threshold: () => undefined },
        isLeader: () => true,
        sidecars: () => sidecars,
        grants: { capUSD: 0.2, minUSD: 0.001 },
        now: () => new Date(t),
      });
    const a = leader(4);
    let total = 0;
    for (let i = 0; i < 4; i++)
      total += (await a.allowance('ns', { sidecarId: `s${i}`, budget: 'team' })).grantUSD;
    // 0.2 + 0.2 + 0.15 + 0.1125: each a quarter of what is unreserved, capped.
    expect(total).toBeCloseTo(0.6625);
    expect(Object.keys(m.current().status?.grants ?? {})).toHaveLength(4);
    // Leader a dies (its memory with it); b takes over with the same store and more sidecars asking.
    t += 100;
    const b = leader(8);
    for (let i = 0; i < 40; i++)
      total += (await b.allowance('ns', { sidecarId: `s${i % 8}`, budget: 'team' })).grantUSD;
    expect(total).toBeLessThanOrEqual(1 + 1e-9);
    // Spend reported to b moves money out of the old slices; once those expire, it is all b's to hand out again.
    const held = m.current().status?.grants?.['s0']?.usd ?? 0;
    expect(held).toBeGreaterThan(0.15);
    await b.report('ns', { sidecarId: 's0', seq: 1, records: [rec(0.15)] });
    expect(m.current().status?.grants?.['s0']?.usd).toBeCloseTo(held - 0.15);
    t += 40_000;
    const fresh = (await b.allowance('ns', { sidecarId: 's9', budget: 'team' })).grantUSD;
    // Every old slice expired: a share of all that is left (1 - 0.15 spent) among 8 sidecars.
    expect(fresh).toBeCloseTo(0.85 / 8);
  });

  it('a zero grant does not extend the slice a sidecar holds', async () => {
    const m = memoryStore(budget);
    let t = 1_000_000;
    const ledger = new LedgerService({
      store: m.store,
      events: { threshold: () => undefined },
      isLeader: () => true,
      sidecars: () => 1,
      grants: { capUSD: 5, ttlMs: 30_000, graceMs: 5_000 },
      now: () => new Date(t),
    });
    expect((await ledger.allowance('ns', { sidecarId: 's', budget: 'team' })).grantUSD).toBe(1);
    t += 10_000;
    const again = await ledger.allowance('ns', { sidecarId: 's', budget: 'team' });
    expect(again.grantUSD).toBe(0);
    expect(again.ttlMs).toBe(20_000);
  });

  it('spend a sidecar made on local knowledge shows in status when it asks again', async () => {
    const m = memoryStore(budget);
    const ledger = new LedgerService({
      store: m.store,
      events: { threshold: () => undefined },
      isLeader: () => true,
      sidecars: () => 1,
    });
    await ledger.allowance('ns', { sidecarId: 's', budget: 'team', local: { sinceMs: 1, spentUSD: 0.25 } });
    await ledger.allowance('ns', { sidecarId: 't', budget: 'team', local: { sinceMs: 1, spentUSD: 0.5 } });
    expect(m.current().status?.localSpentUSD).toBe(0.75);
  });

  it('local spend told again (the answer to the call that told it was lost) counts once, through conflicts', async () => {
    const m = memoryStore(budget, 2);
    const ledger = new LedgerService({
      store: m.store,
      events: { threshold: () => undefined },
      isLeader: () => true,
      sidecars: () => 1,
    });
    await ledger.allowance('ns', { sidecarId: 's', budget: 'team', local: { sinceMs: 1, spentUSD: 0.5 } });
    // The same outage, told again (cumulative), then with more spent on it.
    await ledger.allowance('ns', { sidecarId: 's', budget: 'team', local: { sinceMs: 1, spentUSD: 0.5 } });
    expect(m.current().status?.localSpentUSD).toBe(0.5);
    await ledger.allowance('ns', { sidecarId: 's', budget: 'team', local: { sinceMs: 1, spentUSD: 0.75 } });
    expect(m.current().status?.localSpentUSD).toBe(0.75);
    // A later outage is new spend.
    await ledger.allowance('ns', { sidecarId: 's', budget: 'team', local: { sinceMs: 9, spentUSD: 0.25 } });
    expect(m.current().status?.localSpentUSD).toBe(1);
  });

  it('a threshold a lowered limit crossed is announced by the allowance write that marks it fired', async () => {
    const m = memoryStore(modelBudget.parse({ ...budget, spec: { ...budget.spec, limit: { usd: 10 } } }));
    const fired: number[] = [];
    const ledger = new LedgerService({
      store: m.store,
      events: { threshold: (_b, t) => fired.push(t) },
      isLeader: () => true,
      sidecars: () => 1,
    });
    await ledger.report('ns', { sidecarId: 's', seq: 1, records: [rec(6)] });
    expect(fired).toEqual([50]);
    // kubectl edit: 10 -> 7 USD (6 of 7 is 86 %). A sidecar asks for a slice before the reconcile's refresh.
    const lowered = m.current();
    m.setSpec({ ...lowered.spec, limit: { usd: 7 } });
    const g = await ledger.allowance('ns', { sidecarId: 's', budget: 'team' });
    expect(g.grantUSD).toBeGreaterThan(0);
    expect(m.current().status?.alertsFired).toEqual([50, 80]);
    expect(fired).toEqual([50, 80]);
    await ledger.refresh('ns', 'team');
    expect(fired).toEqual([50, 80]);
  });

  it('slices live across a window boundary stay outstanding: the new window never grants past its limit', async () => {
    const m = memoryStore(modelBudget.parse({ ...budget, spec: { ...budget.spec, limit: { usd: 10 } } }));
    let t = Date.parse('2026-03-01T23:59:50Z');
    const ledger = new LedgerService({
      store: m.store,
      events: { threshold: () => undefined },
      isLeader: () => true,
      sidecars: () => 10,
      grants: { capUSD: 1, ttlMs: 30_000, graceMs: 5_000 },
      now: () => new Date(t),
    });
    const ask = () =>
      Promise.all(
        Array.from({ length: 10 }, (_, i) => ledger.allowance('ns', { sidecarId: `s${i}`, budget: 'team' })),
      );
    const before = (await ask()).reduce((n, g) => n + g.grantUSD, 0);
    expect(before).toBeGreaterThan(5);
    // 15 s later, in the next window: each sidecar still holds its slice for 13 s.
    t = Date.parse('2026-03-02T00:00:05Z');
    const after = (await ask()).reduce((n, g) => n + g.grantUSD, 0);
    expect(m.current().status?.windowStart).toBe('2026-03-02T00:00:00.000Z');
    // What is held (the old slices, spent in this window) plus what was granted now stays within the limit.
    expect(before + after).toBeLessThanOrEqual(10 + 1e-9);
    const outstanding = Object.values(m.current().status?.grants ?? {}).reduce((n, g) => n + g.usd, 0);
    expect(outstanding).toBeCloseTo(before + after, 6);
  });

  it('a retired reporter and a spent slice really leave status (merge patch nulls)', async () => {
    const m = memoryStore(budget);
    const ledger = new LedgerService({
      store: m.store,
      events: { threshold: () => undefined },
      isLeader: () => true,
      sidecars: () => 1,
      grants: { capUSD: 0.1 },
    });
    await ledger.allowance('ns', { sidecarId: 's', budget: 'team' });
    expect(m.current().status?.grants?.['s']?.usd).toBeCloseTo(0.1);
    await ledger.report('ns', { sidecarId: 's', seq: 1, records: [rec(0.1)] });
    expect(m.current().status?.grants).toEqual({});
    expect(m.current().status?.reporters).toEqual({ s: 1 });
    await ledger.report('ns', { sidecarId: 's', seq: 2, records: [], retire: true });
    expect(m.current().status?.reporters).toEqual({});
    expect(m.current().status?.spentUSD).toBe(0.1);
  });

  it('concurrent reports and allowance calls share writes (group commit) and stay exact through conflicts', async () => {
    const m = memoryStore(budget, 4);
    const ledger = new LedgerService({
      store: m.store,
      events: { threshold: () => undefined },
      isLeader: () => true,
      sidecars: () => 50,
      grants: { capUSD: 0.01 },
    });
    const calls: Array<Promise<unknown>> = [];
    for (let i = 0; i < 50; i++) {
      calls.push(ledger.report('ns', { sidecarId: `s${i}`, seq: 1, records: [rec(0.001)] }));
      calls.push(ledger.allowance('ns', { sidecarId: `s${i}`, budget: 'team' }));
    }
    const replies = await Promise.all(calls);
    expect(m.current().status?.spentUSD).toBeCloseTo(0.05, 9);
    expect(Object.keys(m.current().status?.reporters ?? {})).toHaveLength(50);
    // Every slice granted is in the durable copy, and they never exceed what is left.
    const granted = replies
      .filter((_, i) => i % 2 === 1)
      .reduce((a: number, r) => a + (r as { grantUSD: number }).grantUSD, 0);
    const held = Object.values(m.current().status?.grants ?? {}).reduce((a, g) => a + g.usd, 0);
    expect(held).toBeCloseTo(granted, 6);
    expect(granted).toBeLessThanOrEqual(1 + 1e-9);
    expect(m.writes()).toBeLessThan(100);
  });

  it('a budget in a time zone the runtime does not know does not hold up the batch for the others', async () => {
    const team = memoryStore(budget);
    const bad = memoryStore({ ...mars, metadata: { ...mars.metadata, name: 'typo' } });
    const store: BudgetStore = {
      cached: () => [bad.current(), team.current()],
      get: (ns, name) => (name === 'typo' ? bad.store.get(ns, name) : team.store.get(ns, name)),
      writeStatus: (b, status) =>
        b.metadata.name === 'typo' ? bad.store.writeStatus(b, status) : team.store.writeStatus(b, status),
      isConflict: team.store.isConflict,
    };
    const ledger = new LedgerService({
      store,
      events: { threshold: () => undefined },
      isLeader: () => true,
      sidecars: () => 1,
    });
    expect(await ledger.report('ns', { sidecarId: 's0', seq: 1, records: [rec(0.25)] })).toEqual({
      applied: true,
    });
    expect(team.current().status?.spentUSD).toBe(0.25);
    expect(bad.writes()).toBe(0);
  });

  it('a budget in a time zone the runtime does not know is a TerminalError naming the field', async () => {
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
