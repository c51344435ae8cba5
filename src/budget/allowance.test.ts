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

  it('stops spending an expired slice', async () => {
    const now = { t: 0 };
    const { c } = client([1], now);
    await c.prefetch(['b']);
    now.t = 9_001;
    expect(c.tryReserve('b', 0.1)).toBe(false);
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
