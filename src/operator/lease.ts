/** Leader election on a coordination.k8s.io/v1 Lease: acquire, renew, and release on shutdown. */
import type { V1Lease } from '@kubernetes/client-node';
import { apiCode, type Kube, microTime } from './kube.js';
import { leaseDecision } from './lease-decision.js';

export interface ElectorOptions {
  namespace: string;
  name: string;
  identity: string;
  durationSeconds?: number;
  renewMs?: number;
  onChange?: (leader: boolean) => void;
  onError?: (e: unknown) => void;
  /** A round that reached the apiserver (whatever it decided), so failures can be told apart from recovery. */
  onRound?: () => void;
}

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
    const { namespace, name, identity } = this.opts;
    const lease = await this.kube.readLease(namespace, name);
    const now = new Date();
    const decision = leaseDecision(lease?.spec, identity, now);
    if (decision === 'wait') {
      this.set(false);
      return false;
    }
    const spec = lease?.spec ?? {};
    const next: V1Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name,
        namespace,
        ...(lease?.metadata?.resourceVersion ? { resourceVersion: lease.metadata.resourceVersion } : {}),
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
      if (apiCode(e) === 409) {
        this.set(false);
        return false;
      }
      throw e;
    }
    this.set(true);
    return true;
  }

  /** Stops campaigning and, if leading, gives the lease up so a successor need not wait for it to expire. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (!this.leader) return;
    this.set(false);
    const { namespace, name, identity } = this.opts;
    const lease = await this.kube.readLease(namespace, name).catch(() => undefined);
    if (!lease?.spec || lease.spec.holderIdentity !== identity) return;
    lease.spec.holderIdentity = undefined;
    lease.spec.leaseDurationSeconds = 1;
    await this.kube.writeLease(namespace, name, lease, false).catch(() => undefined);
  }

  private set(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    this.opts.onChange?.(leader);
  }
}
