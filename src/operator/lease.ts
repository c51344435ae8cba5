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
  /**
   * client-go's renewDeadline: a leader that has not renewed for this long stops leading, before the Lease expires
   * for the other replicas (durationSeconds), so an apiserver that hangs our calls never yields two leaders. It is
   * also each round's timeout. Default: two thirds of the lease (10 s of 15), at least halfway between renewMs and
   * the lease duration.
   */
  renewDeadlineMs?: number;
  /** Monotonic milliseconds (tests pass a fake one). */
  clock?: () => number;
}

/** The renew deadline for a lease duration and renew period (ElectorOptions.renewDeadlineMs). */
export function renewDeadlineFor(durationSeconds: number, renewMs: number): number {
  const duration = durationSeconds * 1000;
  return Math.max((duration * 2) / 3, (renewMs + duration) / 2);
}

/** A round that did not finish within the renew deadline (a hung apiserver call): it counts as failed. */
export class LeaseRoundTimeout extends Error {
  constructor(ms: number) {
    super(`lease round did not finish within ${ms} ms`);
  }
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
  private watchdog: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly duration: number;
  private readonly renewMs: number;
  private readonly renewDeadlineMs: number;
  private readonly clock: () => number;
  /** Clock reading at the start of the last round that wrote the Lease: the renewTime the others judge us by. */
  private renewedAt = Number.NEGATIVE_INFINITY;
  /** Rounds started; a round that finishes after a newer one started (it timed out) decides nothing. */
  private rounds = 0;

  constructor(
    private readonly kube: Kube,
    private readonly opts: ElectorOptions,
  ) {
    this.duration = opts.durationSeconds ?? 15;
    this.renewMs = opts.renewMs ?? 2_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? renewDeadlineFor(this.duration, this.renewMs);
    this.clock = opts.clock ?? (() => performance.now());
  }

  /** Leading, and renewed within the renew deadline: past it the Lease is about to expire for the others. */
  isLeader(): boolean {
    if (this.leader && this.clock() - this.renewedAt >= this.renewDeadlineMs) this.set(false);
    return this.leader;
  }

  start(): void {
    void this.loop();
  }

  private async loop(): Promise<void> {
    if (this.stopped) return;
    const id = ++this.rounds;
    let timeout: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timeout = setTimeout(() => reject(new LeaseRoundTimeout(this.renewDeadlineMs)), this.renewDeadlineMs);
    });
    // The hung call itself cannot be cancelled (the client has no signal); its late answer is ignored by `id`.
    await Promise.race([this.tick(id), deadline]).then(
      () => this.opts.onRound?.(),
      (e) => {
        this.opts.onError?.(e);
        this.set(false);
      },
    );
    clearTimeout(timeout);
    if (!this.stopped) this.timer = setTimeout(() => void this.loop(), this.renewMs);
  }

  /** One round: read, decide, and write conditionally (resourceVersion), so two candidates never both win. */
  async tick(id = ++this.rounds): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      const r = await this.round(id);
      if (r !== 'conflict') return r;
      // A conflict means the Lease moved since we read it: another candidate won, or a replica patched its record.
      if (attempt >= CONFLICT_RETRIES) {
        this.set(false);
        return false;
      }
    }
  }

  private async round(id: number): Promise<boolean | 'conflict'> {
    const { namespace, name, identity } = this.opts;
    const startedAt = this.clock();
    const lease = await this.kube.readLease(namespace, name);
    if (id !== this.rounds || this.stopped) return false;
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
    // Written after the round timed out: the Lease says we renewed, but leading is decided by the next round.
    if (id !== this.rounds || this.stopped) return false;
    this.renewedAt = startedAt;
    this.set(true);
    this.armWatchdog();
    return true;
  }

  /** Steps down at the renew deadline even when no round ends and nobody asks isLeader (a hung call). */
  private armWatchdog(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    const left = this.renewedAt + this.renewDeadlineMs - this.clock();
    this.watchdog = setTimeout(() => this.isLeader(), Math.max(0, left) + 1);
    this.watchdog.unref?.();
  }

  /**
   * Stops campaigning and, if leading, gives the lease up so a successor need not wait for it to expire. A release
   * that fails (e.g. `helm uninstall` deleting the RBAC at the same moment) is reported through `onError`, not
   * swallowed: the Lease then names the old holder until it expires, which blocks nothing but should be visible.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.watchdog) clearTimeout(this.watchdog);
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
