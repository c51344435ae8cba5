import { describe, expect, it } from 'vitest';
import { applyMergePatch, mergePatch } from './merge-patch.js';

describe('mergePatch', () => {
  it('nulls removed map keys, recursively, and round-trips through the apiserver merge', () => {
    const old = {
      spentUSD: 1,
      reporters: { a: 1, b: 2 },
      grants: { a: { usd: 1, expiresAt: 5 } },
      alerts: [50],
    };
    const next = { spentUSD: 2, reporters: { b: 3 }, grants: {}, alerts: [50, 80] };
    const patch = mergePatch(old, next);
    expect(patch).toEqual({
      spentUSD: 2,
      reporters: { a: null, b: 3 },
      grants: { a: null },
      alerts: [50, 80],
    });
    expect(applyMergePatch(old, patch)).toEqual(next);
  });

  it('a key dropped entirely is removed; new keys are added', () => {
    const patch = mergePatch({ x: 1, y: { z: 1 } }, { w: 2 });
    expect(applyMergePatch({ x: 1, y: { z: 1 } }, patch)).toEqual({ w: 2 });
  });
});
