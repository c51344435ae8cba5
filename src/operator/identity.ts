/** Pure: the namespace a TokenReview username belongs to; only service accounts may talk to the operator. */

export interface SidecarIdentity {
  namespace: string;
  serviceAccount: string;
}

export function serviceAccountIdentity(username: string | undefined): SidecarIdentity | undefined {
  const m = /^system:serviceaccount:([a-z0-9]([-a-z0-9]*[a-z0-9])?):([^:]+)$/.exec(username ?? '');
  return m ? { namespace: m[1]!, serviceAccount: m[3]! } : undefined;
}
