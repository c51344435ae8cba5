import { describe, expect, it } from 'vitest';
import { type ModelBudgetSpec, modelBudgetSpec } from '../api/modelbudget.js';
import { BudgetLedger, budgetState, newlyCrossed, usedPercent } from './ledger.js';

const spec = (over: Record<string, unknown> = {}): ModelBudgetSpec =>
  modelBudgetSpec.parse({ window: { period: 'monthly' }, limit: { usd: 100 }, ...over });
const at = (s: string) => Date.parse(s);
const JAN = at('2026-01-10T00:00:00Z');

describe('pure budget arithmetic', () => {
  it('state is Ok, Warning past the lowest threshold, Exceeded at the limit', () => {
    const s = spec();
    expect(budgetState(s, 49.99, 0)).toBe('Ok');
    expect(budgetState(s, 50, 0)).toBe('Warning');
    expect(budgetState(s, 99.99, 0)).toBe('Warning');
    expect(budgetState(s, 100, 0)).toBe('Exceeded');
    expect(budgetState(spec({ alertThresholds: [] }), 99, 0)).toBe('Ok');
  });

  it('token limits count as much as USD limits', () => {
    const s = spec({ limit: { usd: 100, tokens: 1000 } });
    expect(usedPercent(s, 10, 900)).toBe(90);
    expect(budgetState(s, 1, 1000)).toBe('Exceeded');
  });

  it('a zero limit is used up from the start', () => {
    expect(budgetState(spec({ limit: { usd: 0 } }), 0, 0)).toBe('Exceeded');
  });

  it('newlyCrossed returns each threshold once, ascending', () => {
    expect(newlyCrossed([100, 50, 80], [], 85)).toEqual([50, 80]);
    expect(newlyCrossed([50, 80, 100], [50, 80], 85)).toEqual([]);
    expect(newlyCrossed([50, 80, 100], [50], 120)).toEqual([80, 100]);
  });
});

describe('BudgetLedger', () => {
  it('keeps per-user totals only for a budget with perUser.usd', () => {
    const plain = new BudgetLedger('b', spec(), JAN);
    plain.record({ usd: 1, tokens: 1, user: 'u', at: JAN });
    expect(plain.status(JAN).users).toBe(0);
    expect(plain.status(JAN).spentUSD).toBe(1);
    const perUser = new BudgetLedger('b', spec({ perUser: { usd: 5 } }), JAN);
    perUser.record({ usd: 1, tokens: 1, user: 'u', at: JAN });
    expect(perUser.status(JAN).users).toBe(1);
    expect(perUser.userSpentUSD('u', JAN)).toBe(1);
  });

  it('a non-finite amount adds nothing: the budget can still be exceeded', () => {
    const l = new BudgetLedger('b', spec(), JAN);
    l.record({ usd: Number.NaN, tokens: Number.NaN, at: JAN });
    l.record({ usd: Number.POSITIVE_INFINITY, tokens: 1, user: 'u', at: JAN });
    expect(l.status(JAN)).toMatchObject({ spentUSD: 0, spentTokens: 1 });
    expect(l.userSpentUSD('u', JAN)).toBe(0);
    l.record({ usd: 150, tokens: 1, at: JAN });
    expect(l.status(JAN)).toMatchObject({ spentUSD: 150, state: 'Exceeded' });
    expect(l.exceeded(JAN)).toBe(true);
  });

  it('accumulates spend and reports crossed thresholds once per window', () => {
    const l = new BudgetLedger('b', spec(), JAN);
    expect(l.record({ usd: 40, tokens: 10, at: JAN }).crossed).toEqual([]);
    expect(l.record({ usd: 45, tokens: 10, at: JAN + 1 }).crossed).toEqual([50, 80]);
    expect(l.record({ usd: 1, tokens: 10, at: JAN + 2 }).crossed).toEqual([]);
    expect(l.record({ usd: 20, tokens: 10, at: JAN + 3 }).crossed).toEqual([100]);
    const s = l.status(JAN + 4);
    expect(s).toMatchObject({
      spentUSD: 106,
      spentTokens: 40,
      remainingUSD: -6,
      state: 'Exceeded',
      alertsFired: [50, 80, 100],
    });
    expect(s.windowStart).toBe(at('2026-01-01T00:00:00Z'));
    expect(s.windowEnd).toBe(at('2026-02-01T00:00:00Z'));
    expect(l.exceeded(JAN + 5)).toBe(true);
  });

  it('rolls over at the window end: totals, users and alerts reset', () => {
    const l = new BudgetLedger('b', spec({ perUser: { usd: 5 } }), JAN);
    l.record({ usd: 100, tokens: 1, user: 'ann', at: JAN });
    expect(l.userExceeded('ann', JAN)).toBe(true);
    const feb = at('2026-02-01T00:00:00Z');
    expect(l.exceeded(feb - 1)).toBe(true);
    expect(l.exceeded(feb)).toBe(false);
    expect(l.userExceeded('ann', feb)).toBe(false);
    expect(l.status(feb)).toMatchObject({
      spentUSD: 0,
      alertsFired: [],
      state: 'Ok',
      users: 0,
      windowStart: feb,
    });
    expect(l.record({ usd: 60, tokens: 1, at: feb + 1 }).crossed).toEqual([50]);
  });

  it('counts spend booked after a clock step back across the roll against the current window', () => {
    const d = spec({ window: { period: 'daily' }, limit: { usd: 1 } });
    const midnight = at('2026-05-06T00:00:00Z');
    const l = new BudgetLedger('b', d, midnight - 60_000);
    l.record({ usd: 0.1, tokens: 1, at: midnight + 500 });
    expect(l.record({ usd: 5, tokens: 1, at: midnight - 1_500 }).crossed).toEqual([50, 80, 100]);
    expect(l.status(midnight + 1_000)).toMatchObject({ spentUSD: 5.1, windowStart: midnight });
    expect(l.exceeded(midnight + 1_000)).toBe(true);
  });

  it('tracks per-user spend against perUser.usd', () => {
    const l = new BudgetLedger('b', spec({ perUser: { usd: 5 } }), JAN);
    l.record({ usd: 4, tokens: 1, user: 'ann', at: JAN });
    l.record({ usd: 4, tokens: 1, user: 'bob', at: JAN });
    expect(l.userExceeded('ann', JAN)).toBe(false);
    l.record({ usd: 1, tokens: 1, user: 'ann', at: JAN });
    expect(l.userExceeded('ann', JAN)).toBe(true);
    expect(l.userExceeded('bob', JAN)).toBe(false);
    expect(l.userSpentUSD('nobody', JAN)).toBe(0);
    expect(new BudgetLedger('x', spec(), JAN).userExceeded('ann', JAN)).toBe(false);
  });

  it('token limits report remaining tokens', () => {
    const l = new BudgetLedger('b', spec({ limit: { usd: 100, tokens: 500 } }), JAN);
    l.record({ usd: 0, tokens: 600, at: JAN });
    expect(l.status(JAN)).toMatchObject({ remainingTokens: -100, state: 'Exceeded' });
    expect(new BudgetLedger('c', spec(), JAN).status(JAN).remainingTokens).toBeUndefined();
  });

  it('restores totals only for the same window', () => {
    const l = new BudgetLedger('b', spec(), JAN);
    expect(l.restore({ windowStart: at('2025-12-01T00:00:00Z'), spentUSD: 99 }, JAN)).toBe(false);
    expect(l.restore({ windowStart: at('2026-01-01T00:00:00Z'), spentUSD: 60, alertsFired: [50] }, JAN)).toBe(
      true,
    );
    expect(l.record({ usd: 25, tokens: 0, at: JAN }).crossed).toEqual([80]);
  });

  it('takes a new spec that keeps the window, not one of a different period', () => {
    const l = new BudgetLedger('b', spec({ perUser: { usd: 5 } }), JAN);
    l.record({ usd: 6, tokens: 3, user: 'ann', at: JAN });
    expect(l.respec(spec({ perUser: { usd: 5 }, limit: { usd: 10 } }), JAN)).toBe(true);
    expect(l.status(JAN)).toMatchObject({ spentUSD: 6, spentTokens: 3, state: 'Warning' });
    expect(l.userExceeded('ann', JAN)).toBe(true);
    expect(l.respec(spec({ window: { period: 'daily' } }), JAN)).toBe(false);
    expect(l.spec.window.period).toBe('monthly');
    expect(l.status(JAN).spentUSD).toBe(6);
  });
});
