import { describe, expect, it } from 'vitest';
import { dnsSubdomain, keyRef, labelSelector, secretKey } from './common.js';

describe('secretKey', () => {
  it('accepts what Kubernetes accepts as a Secret data key', () => {
    for (const k of ['api-key', 'OPENAI_API_KEY', 'key.txt', '.hidden', '.a..b', 'a'.repeat(253)])
      expect(secretKey.safeParse(k).success, k).toBe(true);
  });

  it('refuses keys that are not one file name under the mount', () => {
    for (const k of ['../token/token', '..', '.', '..x', 'a/b', '', 'a b', 'a'.repeat(254)])
      expect(secretKey.safeParse(k).success, k).toBe(false);
  });
});

describe('dnsSubdomain', () => {
  it('accepts dotted and long Secret names', () => {
    for (const n of [
      'openai',
      'llm.openai',
      'a.b-c.d',
      'a'.repeat(70),
      `${'a'.repeat(63)}.${'b'.repeat(63)}`,
    ])
      expect(dnsSubdomain.safeParse(n).success, n).toBe(true);
  });

  it('refuses what is not a subdomain', () => {
    for (const n of ['Upper', '-a', 'a-', 'a..b', '.a', 'a.', 'a_b', 'a'.repeat(254), ''])
      expect(dnsSubdomain.safeParse(n).success, n).toBe(false);
  });
});

describe('keyRef.secretKeyRef', () => {
  it('refuses a key that climbs out of the Secret mount, naming the field', () => {
    const r = keyRef.safeParse({ secretKeyRef: { name: 'openai', key: '../token/token' } });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['secretKeyRef', 'key']);
  });

  it('accepts a dotted Secret name', () => {
    expect(keyRef.safeParse({ secretKeyRef: { name: 'llm.openai', key: 'api-key' } }).success).toBe(true);
  });
});

describe('labelSelector', () => {
  it('accepts what Kubernetes accepts', () => {
    for (const s of [
      {},
      { matchLabels: { app: 'web', 'example.com/tier': 'front_end.v1', empty: '' } },
      { matchExpressions: [{ key: 'app', operator: 'In', values: ['a', 'b'] }] },
      { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['a'] }] },
      { matchExpressions: [{ key: 'app', operator: 'Exists' }] },
      { matchExpressions: [{ key: 'app', operator: 'DoesNotExist', values: [] }] },
    ])
      expect(labelSelector.safeParse(s).success, JSON.stringify(s)).toBe(true);
  });

  it('refuses what Kubernetes refuses, naming the field', () => {
    const problem = (s: unknown) => {
      const r = labelSelector.safeParse(s);
      return r.success ? undefined : `${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message}`;
    };
    expect(problem({ matchExpressions: [{ key: 'app', operator: 'In' }] })).toBe(
      'matchExpressions.0.values: values must be non-empty for In and NotIn, and empty for Exists and DoesNotExist',
    );
    expect(problem({ matchExpressions: [{ key: 'app', operator: 'NotIn', values: [] }] })).toMatch(
      /^matchExpressions\.0\.values: /,
    );
    expect(problem({ matchExpressions: [{ key: 'app', operator: 'Exists', values: ['x'] }] })).toMatch(
      /^matchExpressions\.0\.values: /,
    );
    expect(problem({ matchLabels: { 'bad key!': 'x' } })).toMatch(/^matchLabels\.bad key!: /);
    expect(problem({ matchLabels: { app: 'x y' } })).toMatch(/^matchLabels\.app: must be a label value/);
    expect(problem({ matchExpressions: [{ key: '-app', operator: 'Exists' }] })).toMatch(
      /^matchExpressions\.0\.key: must be a label key/,
    );
  });
});
