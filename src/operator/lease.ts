/** Leader election on a coordination.k8s.io/v1 Lease: acquire, renew, and release on shutdown. */
import type { V1Lease, V1OwnerReference } from '@kubernetes/client-node';
import { apiCode, type Kube, microTime } from './kube.js';
import { leaseDecision } from './lease-decision.js';
import { withOwner } from './lease-owner.js';

export interface ElectorOptions {
  namespace: string;
  name: string;
  identity: string;
  durationSeconds?: number;
  renewMs?: number;
  onChange?: (leader: boolean) => void;
  onError?: (e: unknown) => void;
  /** Every read of the Lease (other replicas' records ride on its annotations). */
  onLease?: (lease: V1Lease | undefined) => void;
  /** Annotation keys the holder drops when it writes the Lease (records of replicas gone quiet). */
  prune?: (annotations: Record<string, string> | undefined) => string[];
  /** A round that reached the apiserver (whatever it decided), so failures can be told apart from recovery. */
  onRound?: () => void;
  /** Set on every write (lease-owner.ts): the garbage collector removes the Lease with its owner. */
  owner?: V1OwnerReference;
}

/** Giving the lease up at stop failed: not a failed round (nothing is retried), the Lease simply expires. */
export class LeaseReleaseError extends Error {
  constructor(lease: string, cause: unknown) {
    super(`cannot release the lease ${lease}: ${String(cause)}`, { cause });
  }
}

/** Conflicts from other replicas patching their annotations are retried at once, not taken as a lost election. */
const CONFLICT_RETRIES = 3;

export class LeaderElector {
  private leader = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly duration: number;

  constructor(
    private readonly kube: Kube,
    private readonly opts: ElectorOptions,
  ) {
    this.duration = opts.durationSeconds ?? 15;
  }

  isLeader(): boolean {
    return this.leader;
  }

  start(): void {
    void this.loop();
  }

  private async loop(): Promise<void> {
    if (this.stopped) return;
    await this.tick().then(
      () => this.opts.onRound?.(),
      (e) => {
        this.opts.onError?.(e);
        this.set(false);
      },
    );
    if (!this.stopped) this.timer = setTimeout(() => void this.loop(), this.opts.renewMs ?? 2_000);
  }

  /** One round: read, decide, and write conditionally (resourceVersion), so two candidates never both win. */
  async tick(): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      const r = await this.round();
      if (r !== 'conflict') return r;
      // A conflict means the Lease moved since we read it: another candidate won, or a replica patched its record.
      if (attempt >= CONFLICT_RETRIES) {
        this.set(false);
        return false;
      }
    }
  }

  private async round(): Promise<boolean | 'conflict'> {
    const { namespace, name, identity } = this.opts;
    const lease = await this.kube.readLease(namespace, name);
    this.opts.onLease?.(lease);
    const now = new Date();
    const decision = leaseDecision(lease?.spec, identity, now);
    if (decision === 'wait') {
      this.set(false);
      return false;
    }
    const spec = lease?.spec ?? {};
    const annotations = { ...(lease?.metadata?.annotations ?? {}) };
    for (const k of this.opts.prune?.(lease?.metadata?.annotations) ?? []) delete annotations[k];
    const ownerReferences = withOwner(lease?.metadata?.ownerReferences, this.opts.owner);
    const next: V1Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name,
        namespace,
        ...(lease?.metadata?.resourceVersion ? { resourceVersion: lease.metadata.resourceVersion } : {}),
        ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
        ...(lease?.metadata?.labels ? { labels: lease.metadata.labels } : {}),
        ...(ownerReferences?.length ? { ownerReferences } : {}),
      },
      spec: {
        holderIdentity: identity,
        leaseDurationSeconds: this.duration,
        renewTime: microTime(now),
        acquireTime: decision === 'acquire' ? microTime(now) : (spec.acquireTime ?? microTime(now)),
        leaseTransitions: (spec.leaseTransitions ?? 0) + (decision === 'acquire' && lease ? 1 : 0),
      },
    };
    try {
      await this.kube.writeLease(namespace, name, next, !lease);
    } catch (e) {
      if (apiCode(e) === 409) return 'conflict';
      throw e;
    }
    this.set(true);
    return true;
  }

  /**
   * Stops campaigning and, if leading, gives the lease up so a successor need not wait for it to expire. A release
   * that fails (e.g. `helm uninstall` deleting the RBAC at the same moment) is reported through `onError`, not
   * swallowed: the Lease then names the old holder until it expires, which blocks nothing but should be visible.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (!this.leader) return;
    this.set(false);
    const { namespace, name, identity } = this.opts;
    for (let attempt = 0; attempt <= CONFLICT_RETRIES; attempt++) {
      try {
        const lease = await this.kube.readLease(namespace, name);
        if (!lease?.spec || lease.spec.holderIdentity !== identity) return;
        lease.spec.holderIdentity = undefined;
        lease.spec.leaseDurationSeconds = 1;
        await this.kube.writeLease(namespace, name, lease, false);
        return;
      } catch (e) {
        if (apiCode(e) === 409 && attempt < CONFLICT_RETRIES) continue;
        this.opts.onError?.(new LeaseReleaseError(`${namespace}/${name}`, e));
        return;
      }
    }
  }

  private set(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    this.opts.onChange?.(leader);
  }
}
