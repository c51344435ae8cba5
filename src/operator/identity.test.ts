import { describe, expect, it } from 'vitest';
import { serviceAccountIdentity } from './identity.js';

describe('serviceAccountIdentity', () => {
  it('takes the namespace from a service-account username only', () => {
    expect(serviceAccountIdentity('system:serviceaccount:team-a:app')).toEqual({
      namespace: 'team-a',
      serviceAccount: 'app',
    });
    expect(serviceAccountIdentity('system:serviceaccount:team-a')).toBeUndefined();
    expect(serviceAccountIdentity('admin')).toBeUndefined();
    expect(serviceAccountIdentity('system:serviceaccount:Bad_NS:app')).toBeUndefined();
    expect(serviceAccountIdentity(undefined)).toBeUndefined();
  });
});
