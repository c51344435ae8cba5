import { describe, expect, it } from 'vitest';
import { leaseDecision } from './lease-decision.js';

const now = new Date('2026-01-01T00:00:30Z');

describe('leaseDecision', () => {
  it('acquires a missing, released or expired lease and renews its own', () => {
    expect(leaseDecision(undefined, 'me', now)).toBe('acquire');
    expect(leaseDecision({ holderIdentity: '' }, 'me', now)).toBe('acquire');
    expect(leaseDecision({ holderIdentity: 'me', renewTime: '2026-01-01T00:00:00Z' }, 'me', now)).toBe(
      'renew',
    );
    expect(
      leaseDecision(
        { holderIdentity: 'other', renewTime: '2026-01-01T00:00:10Z', leaseDurationSeconds: 15 },
        'me',
        now,
      ),
    ).toBe('acquire');
  });
  it('waits while another holder is within its lease', () => {
    expect(
      leaseDecision(
        { holderIdentity: 'other', renewTime: '2026-01-01T00:00:20Z', leaseDurationSeconds: 15 },
        'me',
        now,
      ),
    ).toBe('wait');
  });
});
