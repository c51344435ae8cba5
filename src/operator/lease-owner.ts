/**
 * Pure: who owns the leader Lease. The operator's pod runs as the release's ServiceAccount, whose name and uid its
 * bound token carries; a Lease owned by that ServiceAccount is removed by the garbage collector when the release
 * is (`helm uninstall` deletes the ServiceAccount after the Role, so no replica can re-create the Lease meanwhile).
 * Without an owner the Lease outlived the release, still naming the last leader: its release at SIGTERM fails once
 * the RBAC is gone. No extra RBAC is needed: the token is the pod's own.
 */
import type { V1OwnerReference } from '@kubernetes/client-node';
import { jwtClaims } from '../jwt.js';

interface TokenClaims {
  // Bound (projected) tokens, Kubernetes >= 1.21.
  'kubernetes.io'?: { namespace?: string; serviceaccount?: { name?: string; uid?: string } };
  // Legacy Secret-based tokens.
  'kubernetes.io/serviceaccount/namespace'?: string;
  'kubernetes.io/serviceaccount/service-account.name'?: string;
  'kubernetes.io/serviceaccount/service-account.uid'?: string;
}

/**
 * The ServiceAccount a token was issued to, as an owner reference valid in `namespace` (an owner must live in its
 * dependent's namespace, else the garbage collector takes it as gone and deletes the dependent). Undefined for
 * anything that is not such a token. The signature is not checked: the apiserver checks it on every call, and the
 * token is read from the pod's own mount.
 */
export function serviceAccountOwner(token: string, namespace: string): V1OwnerReference | undefined {
  const claims = jwtClaims(token.trim()) as TokenClaims | undefined;
  if (!claims) return undefined;
  const bound = claims['kubernetes.io'];
  const ns = bound?.namespace ?? claims['kubernetes.io/serviceaccount/namespace'];
  const name = bound?.serviceaccount?.name ?? claims['kubernetes.io/serviceaccount/service-account.name'];
  const uid = bound?.serviceaccount?.uid ?? claims['kubernetes.io/serviceaccount/service-account.uid'];
  if (typeof name !== 'string' || typeof uid !== 'string' || !name || !uid || ns !== namespace)
    return undefined;
  return { apiVersion: 'v1', kind: 'ServiceAccount', name, uid };
}

/** `refs` with `owner` added unless already there (by uid); other owners a user set are kept. */
export function withOwner(
  refs: readonly V1OwnerReference[] | undefined,
  owner: V1OwnerReference | undefined,
): V1OwnerReference[] | undefined {
  if (!owner) return refs ? [...refs] : undefined;
  const list = refs ?? [];
  return list.some((r) => r.uid === owner.uid) ? [...list] : [...list, owner];
}
