/** Pure: given a coordination.k8s.io Lease and who we are, whether to renew it, take it over, or wait. */

export interface LeaseView {
  holderIdentity?: string | undefined;
  renewTime?: Date | string | undefined;
  leaseDurationSeconds?: number | undefined;
}

export type LeaseDecision = 'renew' | 'acquire' | 'wait';

export function leaseDecision(lease: LeaseView | undefined, me: string, now: Date): LeaseDecision {
  if (!lease?.holderIdentity) return 'acquire';
  if (lease.holderIdentity === me) return 'renew';
  const renewed = lease.renewTime ? new Date(lease.renewTime).getTime() : 0;
  const duration = (lease.leaseDurationSeconds ?? 15) * 1000;
  return renewed + duration < now.getTime() ? 'acquire' : 'wait';
}
