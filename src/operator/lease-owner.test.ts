import { describe, expect, it } from 'vitest';
import { serviceAccountOwner, withOwner } from './lease-owner.js';

const jwt = (claims: unknown) =>
  ['{"alg":"RS256"}', JSON.stringify(claims), 'sig']
    .map((p, i) => (i < 2 ? Buffer.from(p).toString('base64url') : p))
    .join('.');

const bound = {
  aud: ['https://kubernetes.default.svc'],
  sub: 'system:serviceaccount:tiermesh-system:tiermesh',
  'kubernetes.io': {
    namespace: 'tiermesh-system',
    pod: { name: 'tiermesh-abc', uid: 'p-1' },
    serviceaccount: { name: 'tiermesh', uid: 'sa-uid-1' },
  },
};

describe('serviceAccountOwner', () => {
  it('names the ServiceAccount of a bound token, in the namespace of the Lease', () => {
    expect(serviceAccountOwner(`${jwt(bound)}\n`, 'tiermesh-system')).toEqual({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      name: 'tiermesh',
      uid: 'sa-uid-1',
    });
  });

  it('reads a legacy Secret-based token too', () => {
    const legacy = {
      'kubernetes.io/serviceaccount/namespace': 'ops',
      'kubernetes.io/serviceaccount/service-account.name': 'op',
      'kubernetes.io/serviceaccount/service-account.uid': 'sa-2',
    };
    expect(serviceAccountOwner(jwt(legacy), 'ops')).toMatchObject({ name: 'op', uid: 'sa-2' });
  });

  it('gives no owner across namespaces (the garbage collector would delete the Lease at once)', () => {
    expect(serviceAccountOwner(jwt(bound), 'default')).toBeUndefined();
  });

  it('gives no owner for anything that is not a service account token', () => {
    expect(serviceAccountOwner('', 'tiermesh-system')).toBeUndefined();
    expect(serviceAccountOwner('not-a-jwt', 'tiermesh-system')).toBeUndefined();
    expect(serviceAccountOwner('a.%%%.c', 'tiermesh-system')).toBeUndefined();
    expect(serviceAccountOwner(jwt('a string'), 'tiermesh-system')).toBeUndefined();
    expect(serviceAccountOwner(jwt({ sub: 'user' }), 'tiermesh-system')).toBeUndefined();
    const noUid = { 'kubernetes.io': { namespace: 'tiermesh-system', serviceaccount: { name: 'tiermesh' } } };
    expect(serviceAccountOwner(jwt(noUid), 'tiermesh-system')).toBeUndefined();
  });
});

describe('withOwner', () => {
  const owner = { apiVersion: 'v1', kind: 'ServiceAccount', name: 'tiermesh', uid: 'sa-1' };
  const other = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'x', uid: 'd-1' };
  it('adds the owner once and keeps the others', () => {
    expect(withOwner(undefined, owner)).toEqual([owner]);
    expect(withOwner([other], owner)).toEqual([other, owner]);
    expect(withOwner([owner, other], owner)).toEqual([owner, other]);
  });
  it('leaves the references alone without an owner', () => {
    expect(withOwner(undefined, undefined)).toBeUndefined();
    expect(withOwner([other], undefined)).toEqual([other]);
  });
});
