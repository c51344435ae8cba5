/**
 * Pure: how operator replicas share what their config streams know. Every replica publishes one small record (the
 * sidecars streaming from it, per namespace) as an annotation on the leader-election Lease it already may patch;
 * the leader adds the other replicas' fresh records to its own counts for the route status. A record carries the
 * replica's snapshot version per namespace, so ACKs of an older version are never counted as current.
 */
import { createHash } from 'node:crypto';
import type { SidecarStats } from './route-status.js';

export const ANNOTATION_PREFIX = 'replicas.tiermesh.dev/';

/** One namespace's streams on one replica: version, connected, acked (that version), nacked (it), last NACK. */
export interface NamespaceStreams {
  v: string;
  c: number;
  a: number;
  n: number;
  e?: string;
}

export interface ReplicaRecord {
  id: string;
  /** Epoch ms of the publishing replica's clock; a record not refreshed for `staleMs` is ignored. */
  at: number;
  ns: Record<string, NamespaceStreams>;
}

/** Annotation names are at most 63 characters after the prefix; a hash of the identity always fits. */
export function annotationKey(identity: string): string {
  return `${ANNOTATION_PREFIX}${createHash('sha256').update(identity).digest('hex').slice(0, 20)}`;
}

/** A NACK reason is clipped: the record of every namespace must fit in the Lease's 256 KiB of annotations. */
const NACK_CLIP = 200;

export function namespaceStreams(version: string | undefined, s: SidecarStats): NamespaceStreams {
  return {
    v: version ?? '',
    c: s.connected,
    a: s.acked,
    n: s.nacked,
    ...(s.lastNack ? { e: s.lastNack.slice(0, NACK_CLIP) } : {}),
  };
}

function isStreams(x: unknown): x is NamespaceStreams {
  const o = x as NamespaceStreams;
  return (
    typeof o === 'object' &&
    o !== null &&
    typeof o.v === 'string' &&
    [o.c, o.a, o.n].every((n) => Number.isInteger(n) && n >= 0) &&
    (o.e === undefined || typeof o.e === 'string')
  );
}

export function decodeRecord(text: string): ReplicaRecord | undefined {
  try {
    const r = JSON.parse(text) as ReplicaRecord;
    if (typeof r?.id !== 'string' || typeof r.at !== 'number' || typeof r.ns !== 'object' || !r.ns)
      return undefined;
    const ns: Record<string, NamespaceStreams> = {};
    for (const [k, v] of Object.entries(r.ns)) if (isStreams(v)) ns[k] = v;
    return { id: r.id, at: r.at, ns };
  } catch {
    return undefined;
  }
}

/** Fresh records of the other replicas, from the Lease's annotations. */
export function otherReplicas(
  annotations: Record<string, string> | undefined,
  ownKey: string,
  now: number,
  staleMs: number,
): ReplicaRecord[] {
  const out: ReplicaRecord[] = [];
  for (const [k, v] of Object.entries(annotations ?? {})) {
    if (!k.startsWith(ANNOTATION_PREFIX) || k === ownKey) continue;
    const r = decodeRecord(v);
    if (r && now - r.at <= staleMs) out.push(r);
  }
  return out;
}

/** Annotations of replicas gone quiet for `staleMs` (unreadable ones too): the leader drops them when it renews. */
export function staleKeys(
  annotations: Record<string, string> | undefined,
  now: number,
  staleMs: number,
): string[] {
  return Object.entries(annotations ?? {})
    .filter(([k, v]) => {
      if (!k.startsWith(ANNOTATION_PREFIX)) return false;
      const r = decodeRecord(v);
      return !r || now - r.at > staleMs;
    })
    .map(([k]) => k);
}

/** This replica's counts plus the others': their ACKs and NACKs count only when they are of `version`. */
export function combine(
  local: SidecarStats,
  version: string | undefined,
  remote: readonly NamespaceStreams[],
): SidecarStats {
  const out: SidecarStats = { ...local };
  for (const r of remote) {
    out.connected += r.c;
    if (!version || r.v !== version) continue;
    out.acked += r.a;
    out.nacked += r.n;
    if (r.n > 0 && r.e && !out.lastNack) out.lastNack = r.e;
  }
  return out;
}

/** namespace -> the other replicas' streams there. */
export function byNamespace(records: readonly ReplicaRecord[]): Map<string, NamespaceStreams[]> {
  const m = new Map<string, NamespaceStreams[]>();
  for (const r of records)
    for (const [ns, s] of Object.entries(r.ns)) {
      const list = m.get(ns) ?? [];
      list.push(s);
      m.set(ns, list);
    }
  return m;
}
