/**
 * The waiting side of spec.queue: one SlotQueue (routing/queue.ts) per route + provider + model, with the promises,
 * deadlines and aborts around it, and the metrics. `admitter()` gives execute.ts the `admit` hook failover calls
 * before a target's first try; `claimer()` the same hook for shadow calls, which take a free slot or none and never
 * wait. A route without spec.queue gets neither and pays nothing.
 */
import type { QueueSpec } from '../api/modelroute.js';
import { TiermeshError } from '../errors.js';
import type { Served } from '../providers/failover.js';
import { type QueueClass, queueClass, SlotQueue, type Ticket } from '../routing/queue.js';
import type { RouteDecision } from '../routing/types.js';
import type { SidecarMetrics } from '../telemetry/metrics.js';

export type Admit = (target: Served, signal?: AbortSignal) => Promise<() => void>;

/** A lane's state now: calls holding a slot and requests waiting, per class. */
export interface LaneView {
  inFlight: number;
  waiting: Record<QueueClass, number>;
}

interface Waiter {
  grant(): void;
  refuse(err: TiermeshError): void;
}

interface Lane {
  q: SlotQueue;
  waiters: Map<Ticket, Waiter>;
  labels: { route: string; provider: string; model: string };
}

export class TargetQueues {
  private readonly lanes = new Map<string, Lane>();

  constructor(
    private readonly metrics: SidecarMetrics,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The admit hook for this decision's route, or undefined when it has no spec.queue. */
  admitter(d: RouteDecision): Admit | undefined {
    const spec = d.spec.queue;
    if (!spec) return undefined;
    const cls = queueClass(d, spec);
    return (target, signal) => {
      const limit = spec.limits.find((l) => l.provider === target.provider && l.model === target.model);
      if (!limit) return Promise.resolve(noop);
      return this.acquire(this.lane(d.route, target, limit.maxInFlight, spec.maxQueued), cls, spec, signal);
    };
  }

  /**
   * The admit hook of a call that must never wait (a shadow): a free slot nobody waits for, else a `NoFreeSlot` at
   * once. The call then holds its slot like any other, so real traffic waits for it only as long as for any call, and
   * never behind a shadow that queued. Undefined when the route has no spec.queue.
   */
  claimer(d: RouteDecision): Admit | undefined {
    const spec = d.spec.queue;
    if (!spec) return undefined;
    return (target) => {
      const limit = spec.limits.find((l) => l.provider === target.provider && l.model === target.model);
      if (!limit) return Promise.resolve(noop);
      const lane = this.lane(d.route, target, limit.maxInFlight, spec.maxQueued);
      if (!lane.q.claim()) return Promise.reject(new NoFreeSlot(target));
      return Promise.resolve(this.releaser(lane, this.now()));
    };
  }

  /** What a limited provider-model of `route` holds now (for explain); undefined before its first request. */
  view(route: string, provider: string, model: string): LaneView | undefined {
    const lane = this.lanes.get(laneKey(route, provider, model));
    if (!lane) return undefined;
    return {
      inFlight: lane.q.running,
      waiting: { interactive: lane.q.depth('interactive'), batch: lane.q.depth('batch') },
    };
  }

  private lane(route: string, t: Served, maxInFlight: number, maxQueued: number): Lane {
    const key = laneKey(route, t.provider, t.model);
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = {
        q: new SlotQueue({ maxInFlight, maxQueued }),
        waiters: new Map(),
        labels: { route, provider: t.provider, model: t.model },
      };
      this.lanes.set(key, lane);
    } else {
      // A new config may change the limits; waiters a larger limit lets in start now.
      this.start(lane, lane.q.setLimits({ maxInFlight, maxQueued }));
    }
    return lane;
  }

  private acquire(lane: Lane, cls: QueueClass, spec: QueueSpec, signal?: AbortSignal): Promise<() => void> {
    const t0 = this.now();
    const a = lane.q.admit(cls, t0);
    if (a.kind === 'run') {
      this.metrics.queueWait(lane.labels, cls, 0);
      return Promise.resolve(this.releaser(lane, t0));
    }
    if (a.kind === 'full') {
      this.metrics.queueRejected(lane.labels, cls, 'full');
      return Promise.reject(full(lane, a.retryAfterSeconds));
    }
    if (a.evicted) {
      // An interactive request took the newest batch waiter's place: that one is turned away as if it came late.
      this.metrics.queueRejected(lane.labels, 'batch', 'full');
      lane.waiters.get(a.evicted)?.refuse(full(lane, lane.q.retryAfterSeconds()));
    }
    const ticket = a.ticket;
    const waitMs = cls === 'batch' ? spec.batchWaitMs : spec.waitMs;
    return new Promise<() => void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        lane.waiters.delete(ticket);
        this.depth(lane);
      };
      const giveUp = (err: unknown) => {
        lane.q.cancel(ticket);
        done();
        reject(err);
      };
      const timer = setTimeout(() => {
        this.metrics.queueRejected(lane.labels, cls, 'timeout');
        giveUp(
          new TiermeshError(
            'TM_QUEUE_TIMEOUT',
            `waited ${waitMs}ms for a free slot of model "${lane.labels.model}" on provider "${lane.labels.provider}"`,
            { retryAfter: lane.q.retryAfterSeconds() },
          ),
        );
      }, waitMs);
      const onAbort = () => giveUp(signal?.reason ?? new Error('aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      lane.waiters.set(ticket, {
        grant: () => {
          done();
          const started = this.now();
          this.metrics.queueWait(lane.labels, cls, (started - t0) / 1000);
          resolve(this.releaser(lane, started));
        },
        refuse: (err) => {
          done();
          reject(err);
        },
      });
      this.depth(lane);
      if (signal?.aborted) onAbort();
    });
  }

  /** Frees the slot once, however often it is called; hands it to the next waiter. */
  private releaser(lane: Lane, started: number): () => void {
    let freed = false;
    return () => {
      if (freed) return;
      freed = true;
      this.start(lane, lane.q.release(this.now() - started));
    };
  }

  private start(lane: Lane, granted: Ticket[]): void {
    for (const t of granted) lane.waiters.get(t)?.grant();
  }

  private depth(lane: Lane): void {
    this.metrics.queueDepth(lane.labels, 'interactive', lane.q.depth('interactive'));
    this.metrics.queueDepth(lane.labels, 'batch', lane.q.depth('batch'));
  }
}

/** A call that may not wait found its target's in-flight limit reached (or requests waiting for it). */
export class NoFreeSlot extends TiermeshError {
  constructor(target: Served) {
    super(
      'TM_QUEUE_FULL',
      `model "${target.model}" on provider "${target.provider}" has no free slot (spec.queue)`,
    );
    this.name = 'NoFreeSlot';
  }
}

function full(lane: Lane, retryAfter: number): TiermeshError {
  return new TiermeshError(
    'TM_QUEUE_FULL',
    `model "${lane.labels.model}" on provider "${lane.labels.provider}" is at its in-flight limit and its queue is full`,
    { retryAfter },
  );
}

const noop = () => {};

const laneKey = (route: string, provider: string, model: string) => `${route}\u0000${provider}\u0000${model}`;
