/**
 * The config hub: the latest snapshot per namespace, the sidecars streaming it, and what each answered.
 * Holds no sockets itself; a connection is any `send` function, so the logic is testable without a server.
 */
import type { Snapshot } from '../api/snapshot.js';
import { combine, type NamespaceStreams } from './replica-stats.js';
import type { SidecarStats } from './route-status.js';

export type Send = (event: 'snapshot' | 'current', data: unknown, id?: string) => void;

interface Sidecar {
  send: Send;
  /** Version the sidecar runs, as it told us on connect or by ACK. */
  running?: string | undefined;
  nack?: { version: string; error: string } | undefined;
}

export interface HubEvents {
  /** Something a route status shows changed (connections, ACKs, NACKs). */
  onStatsChange?: (namespace: string) => void;
  /** A sidecar connected to a namespace this operator has not compiled yet. */
  onNeedSnapshot?: (namespace: string) => void;
  onPush?: (namespace: string) => void;
}

export class ConfigHub {
  private readonly snapshots = new Map<string, Snapshot>();
  private readonly sidecars = new Map<string, Map<string, Sidecar>>();

  /** The other operator replicas' streams per namespace (none until `shareWith`). */
  private remote: (namespace: string) => readonly NamespaceStreams[] = () => [];

  constructor(private readonly events: HubEvents = {}) {}

  /** Counts of sidecars streaming from other replicas, added to this replica's in `stats`. */
  shareWith(remote: (namespace: string) => readonly NamespaceStreams[]): void {
    this.remote = remote;
  }

  snapshot(namespace: string): Snapshot | undefined {
    return this.snapshots.get(namespace);
  }

  /** Stores and pushes a snapshot; a version the namespace already has is a no-op. Returns whether it changed. */
  publish(snapshot: Snapshot): boolean {
    if (this.snapshots.get(snapshot.namespace)?.version === snapshot.version) return false;
    this.snapshots.set(snapshot.namespace, snapshot);
    for (const sc of this.sidecars.get(snapshot.namespace)?.values() ?? []) this.pushTo(snapshot, sc);
    this.events.onStatsChange?.(snapshot.namespace);
    return true;
  }

  /** Registers a stream; returns the function to call when it closes. A reconnecting sidecar replaces its old stream. */
  connect(namespace: string, sidecarId: string, running: string | undefined, send: Send): () => void {
    let m = this.sidecars.get(namespace);
    if (!m) {
      m = new Map();
      this.sidecars.set(namespace, m);
    }
    const sc: Sidecar = { send, running };
    m.set(sidecarId, sc);
    const snap = this.snapshots.get(namespace);
    if (snap) this.pushTo(snap, sc);
    else this.events.onNeedSnapshot?.(namespace);
    this.events.onStatsChange?.(namespace);
    return () => {
      if (this.sidecars.get(namespace)?.get(sidecarId) !== sc) return;
      m.delete(sidecarId);
      this.events.onStatsChange?.(namespace);
    };
  }

  ack(namespace: string, sidecarId: string, version: string, ok: boolean, error?: string): void {
    const sc = this.sidecars.get(namespace)?.get(sidecarId);
    if (!sc) return;
    if (ok) {
      sc.running = version;
      sc.nack = undefined;
    } else {
      sc.nack = { version, error: error ?? 'no reason given' };
    }
    this.events.onStatsChange?.(namespace);
  }

  /** Namespaces with at least one connected sidecar. */
  namespaces(): string[] {
    return [...this.sidecars].filter(([, m]) => m.size > 0).map(([ns]) => ns);
  }

  connected(namespace?: string): number {
    if (namespace) return this.sidecars.get(namespace)?.size ?? 0;
    let n = 0;
    for (const m of this.sidecars.values()) n += m.size;
    return n;
  }

  /** What the route status shows: the sidecars of every replica. */
  stats(namespace: string): SidecarStats {
    return combine(
      this.localStats(namespace),
      this.snapshots.get(namespace)?.version,
      this.remote(namespace),
    );
  }

  /** The sidecars streaming from this replica only. */
  localStats(namespace: string): SidecarStats {
    const version = this.snapshots.get(namespace)?.version;
    const stats: SidecarStats = { connected: 0, acked: 0, nacked: 0 };
    for (const sc of this.sidecars.get(namespace)?.values() ?? []) {
      stats.connected++;
      if (version && sc.running === version) stats.acked++;
      if (version && sc.nack?.version === version) {
        stats.nacked++;
        stats.lastNack = sc.nack.error;
      }
    }
    return stats;
  }

  private pushTo(snapshot: Snapshot, sc: Sidecar): void {
    if (sc.running === snapshot.version) {
      sc.send('current', { version: snapshot.version }, snapshot.version);
      return;
    }
    sc.send('snapshot', snapshot, snapshot.version);
    this.events.onPush?.(snapshot.namespace);
  }
}
