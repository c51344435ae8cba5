import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.js';

describe('backoffDelay', () => {
  const b = { baseMs: 100, maxMs: 1000 };
  it('doubles from baseMs per retry, capped at maxMs, without jitter', () => {
    expect([0, 1, 2, 3, 4, 5, 60].map((n) => backoffDelay(n, b))).toEqual([
      0, 100, 200, 400, 800, 1000, 1000,
    ]);
  });

  it('equal jitter: between half and all of the exponential delay, never zero', () => {
    expect(backoffDelay(1, b, 0)).toBe(50);
    expect(backoffDelay(1, b, 1)).toBe(100);
    expect(backoffDelay(3, b, 0.5)).toBe(300);
    expect(backoffDelay(10, b, 0)).toBe(500);
    expect(backoffDelay(10, b, 1)).toBe(1000);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(4, b, i / 100);
      expect(d).toBeGreaterThanOrEqual(400);
      expect(d).toBeLessThanOrEqual(800);
    }
  });

  it('clamps a random number outside [0, 1]', () => {
    expect(backoffDelay(2, b, -1)).toBe(100);
    expect(backoffDelay(2, b, 7)).toBe(200);
  });
});
