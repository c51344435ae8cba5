import { describe, expect, it } from 'vitest';
import { modelBudgetSpec } from '../api/modelbudget.js';
import type { CompiledBudget } from '../api/snapshot.js';
import { type Allowance, BudgetGate } from './gate.js';
import type { UsageRecord } from './types.js';

const budget = (name: string, over: Record<string, unknown>): CompiledBudget => ({
  name,
  spec: modelBudgetSpec.parse({ window: { period: 'daily' }, limit: { usd: 10 }, ...over }),
});
const NOW = Date.parse('2026-05-05T12:00:00Z');
const END_OF_DAY_S = 12 * 3600;
const usage = (over: Partial<UsageRecord>): UsageRecord => ({
  route: 'default',
  model: 'm',
  inputTokens: 100,
  outputTokens: 50,
  costUSD: 1,
  baselineCostUSD: 2,
  at: NOW,
  ...over,
});

describe('BudgetGate', () => {
  it('allows under the limit and rejects past it until the window ends', () => {
    const g = new BudgetGate([budget('ns', {})], { now: NOW });
    expect(g.check({ route: 'default', now: NOW })).toEqual({ kind: 'allow', reservations: [] });
    g.record(usage({ costUSD: 10 }));
    expect(g.check({ route: 'default', now: NOW })).toEqual({
      kind: 'reject',
      code: 'TM_BUDGET_EXCEEDED',
      message: 'budget ns: spending limit for this window reached',
      retryAfterSeconds: END_OF_DAY_S,
    });
    expect(g.check({ route: 'default', now: Date.parse('2026-05-06T00:00:00Z') }).kind).toBe('allow');
  });

  it('downgrades instead when the action is downgrade', () => {
    const g = new BudgetGate([budget('ns', { action: 'downgrade' })], { now: NOW });
    g.record(usage({ costUSD: 11 }));
    expect(g.check({ route: 'default', now: NOW })).toEqual({
      kind: 'downgrade',
      budget: 'ns',
      reservations: [],
    });
  });

  it('a reject budget wins over a downgrade budget', () => {
    const g = new BudgetGate([budget('a', { action: 'downgrade' }), budget('b', { limit: { usd: 5 } })], {
      now: NOW,
    });
    g.record(usage({ costUSD: 20 }));
    expect(g.check({ route: 'default', now: NOW })).toMatchObject({
      kind: 'reject',
      message: expect.stringContaining('budget b'),
    });
  });

  it('routeRef budgets apply to their route only', () => {
    const g = new BudgetGate([budget('only-chat', { routeRef: 'chat' })], { now: NOW });
    g.record(usage({ route: 'chat', costUSD: 10 }));
    g.record(usage({ route: 'batch', costUSD: 100 }));
    expect(g.check({ route: 'chat', now: NOW }).kind).toBe('reject');
    expect(g.check({ route: 'batch', now: NOW }).kind).toBe('allow');
    expect(g.status(NOW)[0]).toMatchObject({ name: 'only-chat', routeRef: 'chat', spentUSD: 10 });
  });

  it('token limits reject too', () => {
    const g = new BudgetGate([budget('t', { limit: { usd: 10, tokens: 100 } })], { now: NOW });
    g.record(usage({ costUSD: 0, inputTokens: 60, outputTokens: 40 }));
    expect(g.check({ route: 'default', now: NOW }).kind).toBe('reject');
  });

  it('per-user spend applies the budget action to that user only', () => {
    const g = new BudgetGate([budget('ns', { perUser: { usd: 2 } })], { now: NOW });
    g.record(usage({ user: 'ann', costUSD: 2 }));
    expect(g.check({ route: 'default', user: 'ann', now: NOW })).toMatchObject({
      kind: 'reject',
      code: 'TM_BUDGET_EXCEEDED',
      message: 'budget ns: per-user spending limit for this window reached',
    });
    expect(g.check({ route: 'default', user: 'bob', now: NOW }).kind).toBe('allow');
    expect(g.check({ route: 'default', now: NOW }).kind).toBe('allow');
  });

  it('per-user rpm rejects with TM_RATE_LIMITED and a retry-after, whatever the action', () => {
    const g = new BudgetGate([budget('ns', { perUser: { rpm: 2 }, action: 'downgrade' })], { now: NOW });
    expect(g.check({ route: 'default', user: 'ann', now: NOW }).kind).toBe('allow');
    expect(g.check({ route: 'default', user: 'ann', now: NOW }).kind).toBe('allow');
    expect(g.check({ route: 'default', user: 'ann', now: NOW })).toEqual({
      kind: 'reject',
      code: 'TM_RATE_LIMITED',
      message: 'user is over 2 requests per minute (budget ns)',
      retryAfterSeconds: 30,
    });
    expect(g.check({ route: 'default', user: 'bob', now: NOW }).kind).toBe('allow');
    expect(g.check({ route: 'default', user: 'ann', now: NOW + 30_000 }).kind).toBe('allow');
  });

  it('record returns the alert thresholds newly crossed', () => {
    const g = new BudgetGate([budget('ns', {})], { now: NOW });
    expect(g.record(usage({ costUSD: 4 }))).toEqual([]);
    expect(g.record(usage({ costUSD: 4.5 }))).toEqual([
      { budget: 'ns', threshold: 50, spentUSD: 8.5, limitUSD: 10 },
      { budget: 'ns', threshold: 80, spentUSD: 8.5, limitUSD: 10 },
    ]);
    expect(g.record(usage({ costUSD: 0.1 }))).toEqual([]);
  });

  it('update keeps totals and rate-limit state of budgets that stay, and drops removed ones', () => {
    const g = new BudgetGate([budget('ns', { perUser: { rpm: 1 } }), budget('gone', {})], { now: NOW });
    g.record(usage({ costUSD: 6 }));
    g.check({ route: 'default', user: 'ann', now: NOW });
    const next = g.update([budget('ns', { perUser: { rpm: 1 }, limit: { usd: 6 } }), budget('new', {})], NOW);
    expect(next.status(NOW).map((s) => [s.name, s.spentUSD])).toEqual([
      ['ns', 6],
      ['new', 0],
    ]);
    expect(next.check({ route: 'default', user: 'ann', now: NOW })).toMatchObject({
      code: 'TM_RATE_LIMITED',
    });
    expect(next.check({ route: 'default', now: NOW })).toMatchObject({ code: 'TM_BUDGET_EXCEEDED' });
  });

  it('update shares the ledger: what a request in flight on the old gate books counts on the new one', () => {
    const g = new BudgetGate([budget('ns', { limit: { usd: 1 } })], { now: NOW });
    const next = g.update([budget('ns', { limit: { usd: 2 } })], NOW);
    // A stream that started on the old config ends after the push.
    g.record(usage({ costUSD: 5 }));
    expect(next.status(NOW)[0]).toMatchObject({ spentUSD: 5, state: 'Exceeded', remainingUSD: -3 });
    expect(next.check({ route: 'default', now: NOW })).toMatchObject({ code: 'TM_BUDGET_EXCEEDED' });
  });

  it('an invalid time zone fails at construction, not per request', () => {
    // Past the schema (which refuses it), as a runtime whose zone database lacks the zone would hold it.
    const b = budget('tz', {});
    const tz = { ...b, spec: { ...b.spec, window: { period: 'daily' as const, timezone: 'Nowhere/Land' } } };
    expect(() => new BudgetGate([tz], { now: NOW })).toThrow(/unknown time zone/);
  });
});

describe('BudgetGate with an external allowance', () => {
  class FakeAllowance implements Allowance {
    left: Record<string, number>;
    log: string[] = [];
    constructor(left: Record<string, number>) {
      this.left = left;
    }
    tryReserve(budget: string, usd: number): boolean {
      this.log.push(`reserve ${budget} ${usd}`);
      if ((this.left[budget] ?? 0) < usd) return false;
      this.left[budget]! -= usd;
      return true;
    }
    record(budget: string, s: { usd: number; reservedUSD: number }): void {
      this.log.push(`record ${budget} ${s.usd} ${s.reservedUSD}`);
      this.left[budget]! += s.reservedUSD - s.usd;
    }
  }

  it('reserves the estimate per applicable budget and settles it on record', () => {
    const a = new FakeAllowance({ ns: 5, chat: 5 });
    const g = new BudgetGate([budget('ns', {}), budget('chat', { routeRef: 'chat' })], {
      now: NOW,
      allowance: a,
    });
    const v = g.check({ route: 'default', now: NOW, estimatedUSD: 2 });
    expect(v).toEqual({ kind: 'allow', reservations: [{ budget: 'ns', usd: 2, allowance: true }] });
    expect(a.left.ns).toBe(3);
    g.record(usage({ costUSD: 0.5, reservations: v.kind === 'allow' ? v.reservations : [] }));
    expect(a.left.ns).toBe(4.5);
    expect(a.log).toEqual(['reserve ns 2', 'record ns 0.5 2']);
  });

  it('an exhausted allowance applies the budget action', () => {
    const reject = new BudgetGate([budget('ns', {})], { now: NOW, allowance: new FakeAllowance({ ns: 1 }) });
    expect(reject.check({ route: 'default', now: NOW, estimatedUSD: 2 })).toMatchObject({
      kind: 'reject',
      message: 'budget ns: cluster-wide allowance for this window used up',
    });
    const down = new BudgetGate([budget('ns', { action: 'downgrade' })], {
      now: NOW,
      allowance: new FakeAllowance({ ns: 1 }),
    });
    expect(down.check({ route: 'default', now: NOW, estimatedUSD: 2 })).toEqual({
      kind: 'downgrade',
      budget: 'ns',
      reservations: [],
    });
  });

  it('a later rejection releases reservations already made', () => {
    const a = new FakeAllowance({ a: 10, b: 0 });
    const g = new BudgetGate([budget('a', {}), budget('b', {})], { now: NOW, allowance: a });
    expect(g.check({ route: 'default', now: NOW, estimatedUSD: 3 }).kind).toBe('reject');
    expect(a.left.a).toBe(10);
    expect(a.log).toEqual(['reserve a 3', 'reserve b 3', 'record a 0 3']);
  });

  it('release returns a reservation when the call produced no usage', () => {
    const a = new FakeAllowance({ ns: 5 });
    const g = new BudgetGate([budget('ns', {})], { now: NOW, allowance: a });
    const v = g.check({ route: 'default', now: NOW, estimatedUSD: 4 });
    g.release(v.kind === 'allow' ? v.reservations : [], NOW);
    expect(a.left.ns).toBe(5);
  });

  it('is not asked when a local limit already decided', () => {
    const a = new FakeAllowance({ ns: 100 });
    const g = new BudgetGate([budget('ns', {})], { now: NOW, allowance: a });
    g.record(usage({ costUSD: 10 }));
    a.log = [];
    expect(g.check({ route: 'default', now: NOW, estimatedUSD: 1 }).kind).toBe('reject');
    expect(a.log).toEqual([]);
  });
});

describe('BudgetGate reservations for requests in flight', () => {
  const check = (g: BudgetGate, estimatedUSD: number, user?: string) =>
    g.check({ route: 'default', now: NOW, estimatedUSD, ...(user ? { user } : {}) });
  const held = (v: ReturnType<BudgetGate['check']>) => (v.kind === 'reject' ? [] : v.reservations);

  it('admits concurrent requests only while booked + reserved + the estimate fits the limit', () => {
    const g = new BudgetGate([budget('ns', { limit: { usd: 1 } })], { now: NOW });
    const verdicts = Array.from({ length: 20 }, () => check(g, 0.2));
    expect(verdicts.filter((v) => v.kind === 'allow')).toHaveLength(5);
    expect(verdicts.filter((v) => v.kind === 'reject')).toHaveLength(15);
    expect(verdicts[5]).toMatchObject({ message: 'budget ns: spending limit for this window reached' });
    expect(g.reserved.usd('ns')).toBeCloseTo(1, 9);
  });

  it('settles a reservation exactly once when its usage is recorded, counting the booked spend instead', () => {
    const g = new BudgetGate([budget('ns', { limit: { usd: 1 } })], { now: NOW });
    const a = check(g, 0.5);
    check(g, 0.4);
    g.record(usage({ costUSD: 0.1, reservations: held(a) }));
    expect(g.reserved.usd('ns')).toBeCloseTo(0.4, 12);
    // booked 0.1 + reserved 0.4 + 0.5 fits; another 0.1 does not.
    expect(check(g, 0.5).kind).toBe('allow');
    expect(check(g, 0.01).kind).toBe('reject');
  });

  it('release gives the reserved amount back, so the budget admits again', () => {
    const g = new BudgetGate([budget('ns', { limit: { usd: 1 } })], { now: NOW });
    const vs = Array.from({ length: 5 }, () => check(g, 0.2));
    expect(check(g, 0.2).kind).toBe('reject');
    for (const v of vs) g.release(held(v), NOW);
    expect(g.reserved.usd('ns')).toBe(0);
    expect(g.reserved.count('ns')).toBe(0);
    expect(check(g, 1).kind).toBe('allow');
  });

  it('a downgrade verdict holds nothing; checkDowngraded reserves the cheapest tier estimate', () => {
    const g = new BudgetGate([budget('ns', { limit: { usd: 1 }, action: 'downgrade' })], { now: NOW });
    for (let i = 0; i < 4; i++) expect(check(g, 0.2).kind).toBe('allow');
    const v = check(g, 0.3);
    expect(v).toEqual({ kind: 'downgrade', budget: 'ns', reservations: [] });
    expect(g.reserved.usd('ns')).toBeCloseTo(0.8, 12);
    const cheap = g.checkDowngraded({ route: 'default', now: NOW, estimatedUSD: 0.01 }, 'ns');
    expect(cheap).toEqual({
      kind: 'downgrade',
      budget: 'ns',
      reservations: [{ budget: 'ns', usd: 0.01, allowance: false }],
    });
    // Over the limit, a downgrade budget still lets cheapest-tier requests through, and counts them.
    g.record(usage({ costUSD: 2 }));
    const over = g.checkDowngraded({ route: 'default', now: NOW, estimatedUSD: 0.01 }, 'ns');
    expect(over.kind).toBe('downgrade');
    expect(g.reserved.usd('ns')).toBeCloseTo(0.82, 12);
  });

  it('checkDowngraded rejects when a reject budget cannot take the cheapest estimate', () => {
    const g = new BudgetGate(
      [budget('soft', { action: 'downgrade', limit: { usd: 0.1 } }), budget('hard', { limit: { usd: 1 } })],
      { now: NOW },
    );
    g.record(usage({ costUSD: 0.9 }));
    expect(check(g, 0.05)).toEqual({ kind: 'downgrade', budget: 'soft', reservations: [] });
    const c = (estimatedUSD: number) =>
      g.checkDowngraded({ route: 'default', now: NOW, estimatedUSD }, 'soft');
    expect(c(0.2)).toMatchObject({ kind: 'reject', message: expect.stringContaining('budget hard') });
    expect(g.reserved.usd('soft')).toBe(0);
    expect(c(0.05)).toEqual({
      kind: 'downgrade',
      budget: 'soft',
      reservations: [
        { budget: 'soft', usd: 0.05, allowance: false },
        { budget: 'hard', usd: 0.05, allowance: false },
      ],
    });
    expect(c(0.06).kind).toBe('reject');
  });

  it('reserves per user under perUser.usd: one user in flight does not use up the others', () => {
    const g = new BudgetGate([budget('ns', { limit: { usd: 10 }, perUser: { usd: 1 } })], { now: NOW });
    const alice = Array.from({ length: 4 }, () => check(g, 0.3, 'alice'));
    expect(alice.map((v) => v.kind)).toEqual(['allow', 'allow', 'allow', 'reject']);
    expect(alice[3]).toMatchObject({ message: 'budget ns: per-user spending limit for this window reached' });
    expect(check(g, 0.3, 'bob').kind).toBe('allow');
    expect(held(alice[0]!)).toEqual([{ budget: 'ns', usd: 0.3, user: 'alice', allowance: false }]);
    for (const v of alice) g.release(held(v), NOW);
    expect(g.reserved.usd('ns', 'alice')).toBe(0);
    expect(check(g, 0.9, 'alice').kind).toBe('allow');
  });

  it('keeps counting reservations across a window roll and a config update', () => {
    const g = new BudgetGate([budget('ns', { limit: { usd: 1 } })], { now: NOW });
    const v = check(g, 0.8);
    const next = g.update([budget('ns', { limit: { usd: 1 } })], NOW);
    const tomorrow = Date.parse('2026-05-06T00:00:01Z');
    expect(next.check({ route: 'default', now: tomorrow, estimatedUSD: 0.3 }).kind).toBe('reject');
    // The request that started on the old gate settles there; the new gate sees it gone.
    g.record(usage({ costUSD: 0.1, at: tomorrow, reservations: held(v) }));
    expect(next.check({ route: 'default', now: tomorrow, estimatedUSD: 0.3 }).kind).toBe('allow');
  });

  it('with an allowance, settles the allowance only for what it reserved there', () => {
    class Spy implements Allowance {
      log: string[] = [];
      constructor(private ok: boolean) {}
      tryReserve(b: string, usd: number): boolean {
        this.log.push(`reserve ${b} ${usd}`);
        return this.ok;
      }
      record(b: string, s: { usd: number; reservedUSD: number }): void {
        this.log.push(`record ${b} ${s.usd} ${s.reservedUSD}`);
      }
    }
    const spy = new Spy(false);
    const g = new BudgetGate([budget('ns', { limit: { usd: 1 }, action: 'downgrade' })], {
      now: NOW,
      allowance: spy,
    });
    expect(check(g, 0.2).kind).toBe('downgrade');
    const cheap = g.checkDowngraded({ route: 'default', now: NOW, estimatedUSD: 0.01 }, 'ns');
    expect(held(cheap)).toEqual([{ budget: 'ns', usd: 0.01, allowance: false }]);
    g.record(usage({ costUSD: 0.02, reservations: held(cheap) }));
    expect(spy.log).toEqual(['reserve ns 0.2', 'reserve ns 0.01', 'record ns 0.02 0']);
    expect(g.reserved.usd('ns')).toBe(0);
  });
});
