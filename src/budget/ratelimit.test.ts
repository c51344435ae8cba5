import { describe, expect, it } from 'vitest';
import { RateLimiter } from './ratelimit.js';

describe('RateLimiter', () => {
  it('allows a burst of rpm requests, then refuses with a retry-after', () => {
    const rl = new RateLimiter({ rpm: 3 });
    const t = 1_000_000;
    expect([rl.take('u', t), rl.take('u', t), rl.take('u', t)]).toEqual([
      { ok: true },
      { ok: true },
      { ok: true },
    ]);
    // One token refills every 20 s at 3 rpm.
    expect(rl.take('u', t)).toEqual({ ok: false, retryAfterSeconds: 20 });
    expect(rl.take('u', t + 15_000)).toEqual({ ok: false, retryAfterSeconds: 5 });
    expect(rl.take('u', t + 20_000)).toEqual({ ok: true });
    expect(rl.take('u', t + 20_000).ok).toBe(false);
  });

  it('keeps users apart', () => {
    const rl = new RateLimiter({ rpm: 1 });
    expect(rl.take('a', 0).ok).toBe(true);
    expect(rl.take('a', 0).ok).toBe(false);
    expect(rl.take('b', 0).ok).toBe(true);
  });

  it('retry-after is at least one second and refilling never exceeds the burst', () => {
    const rl = new RateLimiter({ rpm: 600 });
    for (let i = 0; i < 600; i++) rl.take('u', 0);
    expect(rl.take('u', 0)).toEqual({ ok: false, retryAfterSeconds: 1 });
    // After an hour idle the bucket holds 600, not 36,000.
    let ok = 0;
    for (let i = 0; i < 700; i++) if (rl.take('u', 3_600_000).ok) ok++;
    expect(ok).toBe(600);
  });

  it('drops idle users and stays under maxUsers', () => {
    const rl = new RateLimiter({ rpm: 60, maxUsers: 100 });
    for (let i = 0; i < 1000; i++) rl.take(`user-${i}`, 0);
    expect(rl.size).toBe(100);
    // A minute later every bucket has refilled: each call sweeps some idle ones.
    for (let i = 0; i < 30; i++) rl.take('late', 60_000 + i);
    expect(rl.size).toBeLessThan(100);
  });

  it('evicts the least recently admitted user, so an active one stays limited', () => {
    const rl = new RateLimiter({ rpm: 2, maxUsers: 2 });
    rl.take('x', 0);
    rl.take('hot', 0);
    rl.take('hot', 0);
    rl.take('y', 0); // over maxUsers: "x" is the least recently admitted
    expect(rl.size).toBe(2);
    expect(rl.take('hot', 0).ok).toBe(false);
    expect(rl.take('x', 0).ok).toBe(true);
  });

  it('rejects a non-positive rpm', () => {
    expect(() => new RateLimiter({ rpm: 0 })).toThrow(RangeError);
  });
});
