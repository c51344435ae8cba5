import { describe, expect, it } from 'vitest';
import type { AllowanceReply } from '../operator/protocol.js';
import { AllowanceClient } from './allowance.js';

function client(grants: number[], now: { t: number }) {
  const asked: string[] = [];
  const c = new AllowanceClient({
    request: async (budget): Promise<AllowanceReply> => {
      asked.push(budget);
      return { grantUSD: grants.shift() ?? 0, ttlMs: 10_000, remainingUSD: 5 };
    },
    now: () => now.t,
    expiryMarginMs: 1_000,
    retryMs: 100,
  });
  return { c, asked };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('AllowanceClient', () => {
  it('a cost that is no number stands at its estimate: the balance stays a number', async () => {
    const now = { t: 0 };
    const { c } = client([1, 1], now);
    c.tryReserve('b', 0.1);
    await tick();
    expect(c.tryReserve('b', 0.1)).toBe(true);
    c.record('b', { usd: Number.NaN, reservedUSD: 0.1 });
    expect(c.balance('b')).toBeCloseTo(0.9);
    expect(c.tryReserve('b', Number.NaN)).toBe(true);
    expect(c.tryReserve('b', 0.1)).toBe(true);
    expect(c.balance('b')).toBeCloseTo(0.8);
  });

  it('refuses before any slice, spends within the slice, and asks for more when low', async () => {
    const now = { t: 0 };
    const { c, asked } = client([1, 1], now);
    expect(c.tryReserve('b', 0.1)).toBe(false);
    await tick();
    expect(asked).toEqual(['b']);
    expect(c.tryReserve('b', 0.4)).toBe(true);
    expect(c.balance('b')).toBeCloseTo(0.6);
    expect(asked.length).toBe(1);
    expect(c.tryReserve('b', 0.2)).toBe(true); // balance 0.4 <= half the slice: refill
    await tick();
    expect(asked.length).toBe(2);
    expect(c.balance('b')).toBeCloseTo(1.4);
  });

  it('settles the actual cost against the reservation, overdrawing when the estimate was low', async () => {
    const now = { t: 0 };
    const { c } = client([1], now);
    await c.prefetch(['b']);
    expect(c.tryReserve('b', 0.1)).toBe(true);
    c.record('b', { usd: 0.3, reservedUSD: 0.1 });
    expect(c.balance('b')).toBeCloseTo(0.7);
    c.record('b', { usd: 0, reservedUSD: 0 });
    expect(c.balance('b')).toBeCloseTo(0.7);
  });

  it('stops spending an expired slice: its money leaves the balance, and beyond one request on credit none is spent', async () => {
    const now = { t: 0 };
    // The refill after the lapse answers "nothing left".
    const { c } = client([1], now);
    await c.prefetch(['b']);
    now.t = 9_001;
    expect(c.balance('b')).toBe(0);
    expect(c.tryReserve('b', 0.1)).toBe(true);
    expect(c.tryReserve('b', 0.1)).toBe(false);
    await tick();
    // The credit stays owed; nothing more is spent.
    expect(c.balance('b')).toBeCloseTo(-0.1);
    expect(c.tryReserve('b', 0.1)).toBe(false);
  });

  it('a slice that ran out of time, not money, does not refuse the next request while the budget has money', async () => {
    // Sparse traffic: nothing came in the slice's last seconds to renew it, so it lapsed with most of it unspent.
    const now = { t: 0 };
    const { c, asked } = client([1, 1], now);
    await c.prefetch(['b']);
    expect(c.tryReserve('b', 0.1)).toBe(true);
    c.record('b', { usd: 0.1, reservedUSD: 0.1 });
    now.t = 30_000;
    expect(c.balance('b')).toBe(0);
    // The operator last said 5 USD were left: one request goes on credit while the next slice is asked for.
    expect(c.tryReserve('b', 0.1)).toBe(true);
    expect(asked.length).toBe(2);
    // Only one: until the operator answers, the next is refused as before.
    expect(c.tryReserve('b', 0.1)).toBe(false);
    await tick();
    // The credit is paid back from the new slice.
    expect(c.balance('b')).toBeCloseTo(0.9);
    expect(c.tryReserve('b', 0.1)).toBe(true);
  });

  it('no credit after a lapse when the budget was used up, or the slice lapsed empty', async () => {
    const now = { t: 0 };
    const spent = new AllowanceClient({
      request: async () => ({ grantUSD: 1, ttlMs: 10_000, remainingUSD: 0.05 }),
      now: () => now.t,
      expiryMarginMs: 1_000,
    });
    await spent.prefetch(['b']);
    now.t = 30_000;
    // Less left than the request costs, as far as the operator said.
    expect(spent.tryReserve('b', 0.1)).toBe(false);
    const drained = client([0.1, 0], now);
    now.t = 0;
    await drained.c.prefetch(['b']);
    expect(drained.c.tryReserve('b', 0.1)).toBe(true);
    await tick();
    now.t = 30_000;
    // Nothing of the slice was left when it lapsed: there is no lapsed money to spend.
    expect(drained.c.tryReserve('b', 0.1)).toBe(false);
  });

  it('an empty grant (budget used up) refuses and does not hammer the operator', async () => {
    const now = { t: 0 };
    const { c, asked } = client([0], now);
    await c.prefetch(['b']);
    for (let i = 0; i < 10; i++) expect(c.tryReserve('b', 0.01)).toBe(false);
    await tick();
    expect(asked.length).toBe(1);
    now.t = 200;
    c.tryReserve('b', 0.01);
    await tick();
    expect(asked.length).toBe(2);
  });
});

describe('AllowanceClient asks for what a request needs', () => {
  it('tells the operator how much one request costs beyond what it holds', async () => {
    const wants: Array<number | undefined> = [];
    const c = new AllowanceClient({
      request: async (_b, _local, want) => {
        wants.push(want);
        return { grantUSD: 0.001, ttlMs: 10_000, remainingUSD: 5 };
      },
      now: () => 0,
      expiryMarginMs: 1_000,
      retryMs: 100,
    });
    await c.prefetch(['b']);
    expect(c.tryReserve('b', 0.003)).toBe(false);
    await tick();
    expect(wants).toEqual([undefined, 0.002]);
  });
});

describe('AllowanceClient without the operator', () => {
  function flaky(now: { t: number }, opts: { localOverspendUSD?: number } = {}) {
    const state = { down: false, grants: [] as number[], remaining: 5, locals: [] as unknown[] };
    const events: string[] = [];
    const c = new AllowanceClient({
      request: async (_b, local) => {
        if (local) state.locals.push(local);
        if (state.down) throw new Error('connect ECONNREFUSED');
        return { grantUSD: state.grants.shift() ?? 0, ttlMs: 10_000, remainingUSD: state.remaining };
      },
      now: () => now.t,
      expiryMarginMs: 1_000,
      retryMs: 100,
      ...opts,
      listener: {
        local: (b, on) => events.push(`${b}:${on ? 'local' : 'operator'}`),
        localSpent: (b, usd) => events.push(`${b}:spent ${usd.toFixed(2)}`),
      },
    });
    return { c, state, events };
  }

  it('keeps serving on a bounded local allowance while the operator is unreachable, then refuses', async () => {
    const now = { t: 0 };
    const { c, state, events } = flaky(now, { localOverspendUSD: 0.5 });
    state.grants = [1];
    await c.prefetch(['b']);
    state.down = true;
    // Spend the slice; the low-water refills fail and mark the budget as served locally.
    let served = 0;
    for (let i = 0; i < 100; i++) {
      now.t += 200;
      if (!c.tryReserve('b', 0.1)) break;
      c.record('b', { usd: 0.1, reservedUSD: 0.1 });
      served++;
      await tick();
    }
    await tick();
    // 1.0 from the slice + 0.5 of local allowance; nothing beyond.
    expect(served).toBe(15);
    expect(c.local('b')).toBe(true);
    expect(events).toEqual(['b:local']);
    // Back: the next answer ends local mode and tells the operator what was spent on local knowledge.
    state.down = false;
    state.grants = [1];
    now.t += 200;
    c.tryReserve('b', 0.1);
    await tick();
    expect(c.local('b')).toBe(false);
    expect(state.locals.at(-1)).toMatchObject({ spentUSD: expect.closeTo(0.5, 6) });
    expect(events).toEqual(['b:local', 'b:operator', 'b:spent 0.50']);
    expect(c.tryReserve('b', 0.1)).toBe(true);
  });

  it('never spends locally beyond what the budget had left as last known, minus own spend since', async () => {
    const now = { t: 0 };
    const { c, state } = flaky(now, { localOverspendUSD: 10 });
    state.grants = [0.2];
    state.remaining = 0.5;
    await c.prefetch(['b']);
    state.down = true;
    let spent = 0;
    for (let i = 0; i < 100; i++) {
      now.t += 200;
      if (!c.tryReserve('b', 0.05)) break;
      c.record('b', { usd: 0.05, reservedUSD: 0.05 });
      spent += 0.05;
      await tick();
    }
    expect(spent).toBeCloseTo(0.5);
  });

  it('an answer of "nothing left" is not an outage: no local allowance', async () => {
    const now = { t: 0 };
    const { c, state } = flaky(now, { localOverspendUSD: 10 });
    state.grants = [0];
    await c.prefetch(['b']);
    expect(c.tryReserve('b', 0.01)).toBe(false);
    expect(c.local('b')).toBe(false);
  });

  it('localOverspendUSD 0 refuses as soon as the slice is gone', async () => {
    const now = { t: 0 };
    const { c, state } = flaky(now, { localOverspendUSD: 0 });
    state.grants = [0.1];
    await c.prefetch(['b']);
    state.down = true;
    expect(c.tryReserve('b', 0.1)).toBe(true);
    await tick();
    now.t += 200;
    expect(c.tryReserve('b', 0.05)).toBe(false);
  });

  it('an outage that ends before the slice is spent keeps the rest of the slice (the leader still counts it)', async () => {
    const now = { t: 0 };
    const { c, state } = flaky(now, { localOverspendUSD: 0.5 });
    state.grants = [1];
    await c.prefetch(['b']);
    state.down = true;
    // Low water reached: the refill fails, local mode starts while 0.4 of the slice is still held.
    expect(c.tryReserve('b', 0.6)).toBe(true);
    await tick();
    expect(c.local('b')).toBe(true);
    state.down = false;
    state.grants = [0];
    now.t += 200;
    c.tryReserve('b', 0.1);
    await tick();
    expect(c.local('b')).toBe(false);
    expect(c.balance('b')).toBeCloseTo(0.3);
  });
});
