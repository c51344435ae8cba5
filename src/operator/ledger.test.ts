import { describe, expect, it } from 'vitest';
import { type ModelBudget, modelBudget } from '../api/modelbudget.js';
import type { UsageRecord } from '../budget/types.js';
import { applyBatch, budgetState, compactReporters, newlyCrossed, refreshBudget } from './ledger.js';

function budget(over: Partial<ModelBudget['spec']> = {}, status?: ModelBudget['status']): ModelBudget {
  return modelBudget.parse({
    apiVersion: 'tiermesh.dev/v1alpha1',
    kind: 'ModelBudget',
    metadata: { name: 'b', namespace: 'ns', generation: 3 },
    spec: { window: { period: 'daily' }, limit: { usd: 10 }, ...over },
    ...(status ? { status } : {}),
  });
}

const rec = (costUSD: number, route = 'default'): UsageRecord => ({
  route,
  model: 'm',
  inputTokens: 10,
  outputTokens: 5,
  costUSD,
  baselineCostUSD: costUSD * 2,
  at: 0,
});

const now = new Date('2026-03-10T12:00:00Z');

describe('applyBatch', () => {
  it('adds a batch once and ignores its resend', () => {
    const b = budget();
    const first = applyBatch(b, { sidecarId: 's1', seq: 1, records: [rec(1.5), rec(0.5)] }, now);
    expect(first.applied).toBe(true);
    expect(first.status.spentUSD).toBe(2);
    expect(first.status.spentTokens).toBe(30);
    expect(first.status.remainingUSD).toBe(8);
    expect(first.status.reporters).toEqual({ s1: 1 });
    const again = applyBatch(
      { ...b, status: first.status },
      { sidecarId: 's1', seq: 1, records: [rec(1.5)] },
      now,
    );
    expect(again.applied).toBe(false);
    expect(again.status.spentUSD).toBe(2);
    const other = applyBatch(
      { ...b, status: first.status },
      { sidecarId: 's2', seq: 1, records: [rec(1)] },
      now,
    );
    expect(other.applied).toBe(true);
    expect(other.status.spentUSD).toBe(3);
  });

  it('counts only its route when it has a routeRef', () => {
    const r = applyBatch(
      budget({ routeRef: 'chat' }),
      { sidecarId: 's', seq: 1, records: [rec(1, 'chat'), rec(4, 'other')] },
      now,
    );
    expect(r.status.spentUSD).toBe(1);
  });

  it('fires each threshold once per window, and a new window starts at zero but keeps the dedup marks', () => {
    let b = budget();
    const r1 = applyBatch(b, { sidecarId: 's', seq: 1, records: [rec(5.5)] }, now);
    expect(r1.crossed).toEqual([50]);
    b = { ...b, status: r1.status };
    const r2 = applyBatch(b, { sidecarId: 's', seq: 2, records: [rec(5)] }, now);
    expect(r2.crossed).toEqual([80, 100]);
    expect(r2.status.state).toBe('Exceeded');
    expect(r2.status.remainingUSD).toBeCloseTo(-0.5);
    b = { ...b, status: r2.status };
    const r3 = applyBatch(b, { sidecarId: 's', seq: 3, records: [rec(1)] }, now);
    expect(r3.crossed).toEqual([]);
    const tomorrow = new Date('2026-03-11T00:00:01Z');
    const r4 = applyBatch(
      { ...b, status: r3.status },
      { sidecarId: 's', seq: 3, records: [rec(1)] },
      tomorrow,
    );
    expect(r4.applied).toBe(false);
    expect(r4.status.spentUSD).toBe(0);
    expect(r4.status.windowStart).toBe('2026-03-11T00:00:00.000Z');
    expect(r4.status.alertsFired).toEqual([]);
  });

  it('windows only move forward: a writer whose clock is behind keeps the newer stored window and its spend', () => {
    const b0 = budget();
    const stored = applyBatch(
      b0,
      { sidecarId: 's', seq: 1, records: [rec(6)] },
      new Date('2026-12-01T00:00:30Z'),
    );
    const b = { ...b0, status: stored.status };
    // A new leader 40 s behind, just after the boundary.
    const behind = applyBatch(
      b,
      { sidecarId: 's', seq: 2, records: [rec(1)] },
      new Date('2026-11-30T23:59:55Z'),
    );
    expect(behind.status).toMatchObject({ windowStart: '2026-12-01T00:00:00.000Z', spentUSD: 7 });
    const later = applyBatch(
      { ...b, status: behind.status },
      { sidecarId: 's', seq: 3, records: [rec(1)] },
      new Date('2026-12-01T00:00:01Z'),
    );
    expect(later.status).toMatchObject({ windowStart: '2026-12-01T00:00:00.000Z', spentUSD: 8 });
    expect(refreshBudget(b, new Date('2026-11-30T23:59:59Z')).status).toMatchObject({
      windowStart: '2026-12-01T00:00:00.000Z',
      spentUSD: 6,
    });
    // Further apart than one window: the stored one is not the next window, the clock's own window wins.
    expect(refreshBudget(b, new Date('2026-11-28T12:00:00Z')).status).toMatchObject({
      windowStart: '2026-11-28T00:00:00.000Z',
      spentUSD: 0,
    });
  });

  it('a new window keeps the slices still live at the boundary and drops the expired ones', () => {
    const t = Date.parse('2026-03-11T00:00:05Z');
    const b = budget(
      {},
      {
        windowStart: '2026-03-10T00:00:00.000Z',
        spentUSD: 3,
        grants: { live: { usd: 0.5, expiresAt: t + 20_000 }, gone: { usd: 0.5, expiresAt: t - 1 } },
      },
    );
    const r = refreshBudget(b, new Date(t));
    expect(r.status).toMatchObject({ windowStart: '2026-03-11T00:00:00.000Z', spentUSD: 0 });
    expect(r.status.grants).toEqual({ live: { usd: 0.5, expiresAt: t + 20_000 } });
  });

  it('keeps many small costs exact enough to compare', () => {
    let b = budget({ limit: { usd: 1 } });
    for (let i = 1; i <= 100; i++)
      b = { ...b, status: applyBatch(b, { sidecarId: 's', seq: i, records: [rec(0.001)] }, now).status };
    expect(b.status?.spentUSD).toBe(0.1);
  });
});

describe('budget state and thresholds', () => {
  const spec = budget().spec;
  it('is Warning from the lowest threshold below 100 and Exceeded at the limit', () => {
    expect(budgetState(4.99, spec)).toBe('Ok');
    expect(budgetState(5, spec)).toBe('Warning');
    expect(budgetState(10, spec)).toBe('Exceeded');
  });
  it('lists only thresholds not fired yet', () => {
    expect(newlyCrossed(8.5, spec, [50])).toEqual([80]);
  });
  it('a lowered limit crosses thresholds without any usage', () => {
    const b = budget(
      { limit: { usd: 4 } },
      { spentUSD: 3.5, windowStart: '2026-03-10T00:00:00.000Z', alertsFired: [50] },
    );
    const r = refreshBudget(b, now);
    expect(r.crossed).toEqual([80]);
    expect(r.status.state).toBe('Warning');
    expect(r.status.conditions?.[0]).toMatchObject({ type: 'Ready', status: 'True', observedGeneration: 3 });
  });
});

describe('reporter compaction', () => {
  it('a retiring reporter drops its entry; its resent retire and any replay below it count nothing', () => {
    let b = budget();
    const r1 = applyBatch(b, { sidecarId: 's1', seq: 1, records: [rec(1)] }, now);
    b = { ...b, status: r1.status };
    const retire = applyBatch(b, { sidecarId: 's1', seq: 2, records: [], retire: true }, now);
    expect(retire.status.reporters).toEqual({});
    expect(retire.status.reportersSeen).toEqual({});
    expect(retire.status.spentUSD).toBe(1);
    b = { ...b, status: retire.status };
    const resent = applyBatch(b, { sidecarId: 's1', seq: 2, records: [], retire: true }, now);
    expect(resent.applied).toBe(false);
    expect(resent.status.spentUSD).toBe(1);
    // The same state dir later (a restarted container) numbers on from there: counted, as it is new usage.
    const next = applyBatch(b, { sidecarId: 's1', seq: 3, records: [rec(2)] }, now);
    expect(next.status.spentUSD).toBe(3);
  });

  it('entries idle past the retention are compacted, live ones kept, old entries start their clock now', () => {
    const sec = Math.floor(now.getTime() / 1000);
    const status = {
      reporters: { live: 5, idle: 9, legacy: 2 },
      reportersSeen: { live: sec - 10, idle: sec - 3600 },
    };
    const c = compactReporters(status, now, 600_000);
    expect(c.reporters).toEqual({ live: 5, legacy: 2 });
    expect(c.reportersSeen).toEqual({ live: sec - 10, legacy: sec });
  });
});

describe('the Ready condition of a budget whose routeRef names no route', () => {
  const notFound = {
    type: 'Ready',
    status: 'False' as const,
    reason: 'RouteNotFound',
    message: 'spec.routeRef: "chatt" is not a route',
    observedGeneration: 3,
    lastTransitionTime: '2026-03-10T11:00:00.000Z',
  };
  const ready = (s: ModelBudget['status']) => s?.conditions?.find((c) => c.type === 'Ready');

  it("stays the reconciler's through usage batches and allowance refreshes of that generation", () => {
    const b = budget({ routeRef: 'chatt' }, { conditions: [notFound] });
    const r = applyBatch(b, { sidecarId: 's', seq: 1, records: [rec(1)] }, now);
    expect(ready(r.status)).toMatchObject({ status: 'False', reason: 'RouteNotFound' });
    expect(ready(refreshBudget(b, now, undefined, 'usage').status)).toMatchObject({
      reason: 'RouteNotFound',
    });
  });

  it("is the ledger's again when the reconciler refreshes it (the route exists now), or for a new generation", () => {
    const b = budget({ routeRef: 'chatt' }, { conditions: [notFound] });
    expect(ready(refreshBudget(b, now).status)).toMatchObject({ status: 'True', reason: 'Compiled' });
    const edited = budget({ routeRef: 'chat' }, { conditions: [{ ...notFound, observedGeneration: 2 }] });
    const r = applyBatch(edited, { sidecarId: 's', seq: 1, records: [rec(1)] }, now);
    expect(ready(r.status)).toMatchObject({ status: 'True', reason: 'Compiled' });
  });
});
