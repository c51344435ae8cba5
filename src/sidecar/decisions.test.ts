import { describe, expect, it } from 'vitest';
import type { Features } from '../routing/features.js';
import { type DecisionRecord, DecisionRing, featuresFingerprint } from './decisions.js';

function rec(id: string, at: number, extra: Partial<DecisionRecord> = {}): DecisionRecord {
  return {
    requestId: id,
    at,
    route: 'default',
    initialTier: 'small',
    tier: 'small',
    model: 'mini',
    provider: 'sim',
    source: 'rules',
    score: 0.2,
    confidence: 0.9,
    signals: [],
    fingerprint: '',
    costUSD: 0.001,
    cascade: [],
    status: 200,
    stream: false,
    ...extra,
  };
}

const features: Features = {
  chars: 12,
  promptTokens: 9,
  messages: 1,
  codeFences: 0,
  codeTokens: 0,
  codeRequest: false,
  mathMarkers: 0,
  reasoningWords: 0,
  greeting: true,
  shortQuestion: false,
  extraction: false,
  listItems: 0,
  hasTools: false,
  jsonFormat: false,
};

describe('DecisionRing', () => {
  it('evicts the oldest entry once past its size', () => {
    const ring = new DecisionRing({ size: 3, ttlMs: 60_000 });
    for (const [i, id] of ['a', 'b', 'c', 'd'].entries()) ring.add(rec(id, 1000 + i), 1000 + i);
    expect(ring.size).toBe(3);
    expect(ring.get('a', 1010)).toBeUndefined();
    expect(ring.get('b', 1010)?.requestId).toBe('b');
    expect(ring.get('d', 1010)?.requestId).toBe('d');
  });

  it('answers nothing for an entry older than the TTL, and drops it', () => {
    const ring = new DecisionRing({ size: 10, ttlMs: 1000 });
    ring.add(rec('a', 0), 0);
    expect(ring.get('a', 1000)?.requestId).toBe('a');
    expect(ring.get('a', 1001)).toBeUndefined();
    expect(ring.size).toBe(0);
  });

  it('sweeps expired entries on add, so an idle ring does not keep stale records', () => {
    const ring = new DecisionRing({ size: 100, ttlMs: 1000 });
    ring.add(rec('a', 0), 0);
    ring.add(rec('b', 10), 10);
    ring.add(rec('c', 5000), 5000);
    expect(ring.size).toBe(1);
    expect(ring.get('c', 5000)?.requestId).toBe('c');
  });

  it('a repeated request id replaces the old record and becomes the newest', () => {
    const ring = new DecisionRing({ size: 2, ttlMs: 60_000 });
    ring.add(rec('a', 1, { tier: 'small' }), 1);
    ring.add(rec('b', 2), 2);
    ring.add(rec('a', 3, { tier: 'large' }), 3);
    ring.add(rec('c', 4), 4);
    expect(ring.get('b', 5)).toBeUndefined();
    expect(ring.get('a', 5)?.tier).toBe('large');
  });

  it('keeps its order when entries leave from the middle (expired on get, or replaced)', () => {
    const ring = new DecisionRing({ size: 3, ttlMs: 100 });
    ring.add(rec('a', 50), 50);
    ring.add(rec('b', 0), 50); // older than its neighbours: expires first
    ring.add(rec('c', 50), 50);
    expect(ring.get('b', 120)).toBeUndefined();
    expect(ring.size).toBe(2);
    ring.add(rec('a', 60), 60); // a moves to the newest end: c is now the oldest
    ring.add(rec('d', 60), 60);
    ring.add(rec('e', 60), 60);
    expect(ring.size).toBe(3);
    expect(ring.get('c', 120)).toBeUndefined();
    expect(['a', 'd', 'e'].map((id) => ring.get(id, 120)?.requestId)).toEqual(['a', 'd', 'e']);
  });

  it('stays bounded under many more records than its size', () => {
    const ring = new DecisionRing({ size: 50, ttlMs: 60_000 });
    for (let i = 0; i < 5000; i++) ring.add(rec(`r${i}`, i), i);
    expect(ring.size).toBe(50);
    expect(ring.get('r4949', 5000)).toBeUndefined();
    expect(ring.get('r4950', 5000)).toBeDefined();
  });

  it('refuses a size or TTL that cannot bound anything', () => {
    expect(() => new DecisionRing({ size: 0 })).toThrow(RangeError);
    expect(() => new DecisionRing({ size: 1.5 })).toThrow(RangeError);
    expect(() => new DecisionRing({ ttlMs: 0 })).toThrow(RangeError);
  });
});

describe('featuresFingerprint', () => {
  it('is stable for equal features and differs when one changes', () => {
    const a = featuresFingerprint(features);
    expect(a).toMatch(/^[0-9a-f]{12}$/);
    expect(featuresFingerprint({ ...features })).toBe(a);
    // Key order does not matter: the hash is over sorted keys.
    const reversed = Object.fromEntries(Object.entries(features).reverse()) as unknown as Features;
    expect(featuresFingerprint(reversed)).toBe(a);
    expect(featuresFingerprint({ ...features, codeFences: 1 })).not.toBe(a);
  });

  it('is empty when the classifier did not run', () => {
    expect(featuresFingerprint(undefined)).toBe('');
  });
});
