/**
 * Sharing stream counts between operator replicas (see replica-stats.ts for the record): publishes this replica's
 * record on the Lease when its streams change (coalesced) and as a heartbeat, and watches the Lease for the others'.
 * Needs only what leader election needs, plus list/watch on that one Lease.
 */
import { ListWatch, type V1Lease, Watch } from '@kubernetes/client-node';
import type { ConfigHub } from './hub.js';
import type { Kube } from './kube.js';
import {
  annotationKey,
  byNamespace,
  type NamespaceStreams,
  namespaceStreams,
  otherReplicas,
  type ReplicaRecord,
} from './replica-stats.js';

export interface ReplicaSharingOptions {
  kube: Kube;
  /** The leader-election Lease. */
  namespace: string;
  name: string;
  identity: string;
  hub: ConfigHub;
  /** Republish this often even without changes, so the others can tell a live record from a dead replica's. */
  heartbeatMs: number;
  /** Ignore records older than this. */
  staleMs: number;
  /** Shortest gap between two publishes: a push's ACK storm becomes a few writes, not one per ACK. */
  coalesceMs?: number;
  /** The other replicas' counts for a namespace changed. */
  onRemoteChange: (namespace: string) => void;
  onError?: (e: unknown) => void;
  now?: () => number;
}

export class ReplicaSharing {
  readonly key: string;
  private remote = new Map<string, NamespaceStreams[]>();
  private lease: V1Lease | undefined;
  private timer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private informer: ListWatch<V1Lease> | undefined;
  private publishing: Promise<void> | undefined;
  private again = false;
  private lastPublish = 0;
  private published = '';
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly opts: ReplicaSharingOptions) {
    this.key = annotationKey(opts.identity);
    this.now = opts.now ?? Date.now;
  }

  /** The other replicas' streams in `namespace` (fresh records only). */
  remoteFor(namespace: string): NamespaceStreams[] {
    return this.remote.get(namespace) ?? [];
  }

  /** The Lease as seen anywhere (watch, or the elector's read): recompute the other replicas' counts. */
  observe(lease: V1Lease | undefined): void {
    this.lease = lease;
    this.recompute();
  }

  start(): void {
    const { kube, namespace, name } = this.opts;
    const path = `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`;
    this.informer = new ListWatch<V1Lease>(
      path,
      new Watch(kube.kc),
      async () => {
        const list = await kube.listLease(namespace, name);
        this.observe(list.items[0]);
        return list;
      },
      false,
      undefined,
      `metadata.name=${name}`,
    );
    const seen = (l: V1Lease) => this.observe(l);
    this.informer.on('add', seen);
    this.informer.on('update', seen);
    this.informer.on('delete', () => this.observe(undefined));
    this.informer.on('error', (e: unknown) => {
      this.opts.onError?.(e);
      if (!this.stopped)
        setTimeout(() => {
          if (!this.stopped) this.informer?.start().catch((err: unknown) => this.opts.onError?.(err));
        }, this.opts.heartbeatMs).unref();
    });
    this.informer.start().catch((e: unknown) => this.opts.onError?.(e));
    this.heartbeat = setInterval(() => {
      // Records age even when no event arrives.
      this.recompute();
      this.changed(true);
    }, this.opts.heartbeatMs);
    this.heartbeat.unref();
    this.changed(true);
  }

  /** This replica's streams changed: publish soon. `force` publishes even an unchanged record (heartbeat). */
  changed(force = false): void {
    if (this.stopped) return;
    if (force) this.published = '';
    if (this.publishing) {
      this.again = true;
      return;
    }
    if (this.timer) return;
    const wait = Math.max(0, this.lastPublish + (this.opts.coalesceMs ?? 50) - this.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.publishing = this.publish().finally(() => {
        this.publishing = undefined;
        if (this.again) {
          this.again = false;
          this.changed();
        }
      });
    }, wait);
  }

  private record(): ReplicaRecord {
    const ns: ReplicaRecord['ns'] = {};
    for (const n of this.opts.hub.namespaces())
      ns[n] = namespaceStreams(this.opts.hub.snapshot(n)?.version, this.opts.hub.localStats(n));
    return { id: this.opts.identity, at: this.now(), ns };
  }

  private async publish(): Promise<void> {
    const rec = this.record();
    const body = JSON.stringify(rec.ns);
    if (body === this.published) return;
    this.lastPublish = this.now();
    try {
      await this.opts.kube.patchLeaseAnnotations(this.opts.namespace, this.opts.name, {
        [this.key]: JSON.stringify(rec),
      });
      this.published = body;
    } catch (e) {
      // No Lease yet (no leader elected so far) or a transient error: the next heartbeat tries again.
      this.opts.onError?.(e);
    }
  }

  private recompute(): void {
    const records = otherReplicas(this.lease?.metadata?.annotations, this.key, this.now(), this.opts.staleMs);
    const next = byNamespace(records);
    const before = this.remote;
    this.remote = next;
    for (const ns of new Set([...before.keys(), ...next.keys()]))
      if (JSON.stringify(before.get(ns) ?? []) !== JSON.stringify(next.get(ns) ?? []))
        this.opts.onRemoteChange(ns);
  }

  /** Stops publishing and removes this replica's record, so the leader stops counting its (closing) streams. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    await this.informer?.stop();
    await this.publishing;
    await this.opts.kube
      .patchLeaseAnnotations(this.opts.namespace, this.opts.name, { [this.key]: null })
      .catch((e: unknown) => this.opts.onError?.(e));
  }
}
