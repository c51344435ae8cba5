/**
 * A bounded priority queue in front of one provider-model's in-flight limit (spec.queue): "for batch processing,
 * asynchronous routing with priority queues is preferred". At most `maxInFlight` requests hold a slot; the rest wait,
 * interactive ones before batch ones (FIFO within a class), at most `maxQueued` in all. A full queue turns away a new
 * request, except that an interactive one takes the place of the newest batch waiter (batch must never use up the
 * room interactive traffic waits in).
 *
 * Pure and synchronous: no timers, no promises. The caller (sidecar/queues.ts) owns waiting, deadlines and aborts,
 * and tells the queue when a waiter gave up (`cancel`) or a slot was freed (`release`).
 */
import type { QueueSpec } from '../api/modelroute.js';
import type { RouteDecision } from './types.js';

export const queueClasses = ['interactive', 'batch'] as const;
export type QueueClass = (typeof queueClasses)[number];

/** The priority class a request waits in: batch when spec.priority put it in one of queue.batchClasses. */
export function queueClass(d: Pick<RouteDecision, 'priority'>, spec: QueueSpec): QueueClass {
  return d.priority && spec.batchClasses.includes(d.priority.name) ? 'batch' : 'interactive';
}

export interface QueueLimits {
  maxInFlight: number;
  maxQueued: number;
}

export interface Ticket {
  readonly cls: QueueClass;
  /** When the request started waiting (the caller's clock). */
  readonly enqueuedAt: number;
}

export type Admission =
  | { kind: 'run' }
  | { kind: 'queued'; ticket: Ticket; evicted?: Ticket }
  | { kind: 'full'; retryAfterSeconds: number };

/** Weight of the newest slot hold time in the mean that Retry-After is estimated from. */
const HOLD_ALPHA = 0.2;
const MAX_RETRY_AFTER_S = 60;

export class SlotQueue {
  private inFlight = 0;
  private readonly waiting: Record<QueueClass, Ticket[]> = { interactive: [], batch: [] };
  private meanHoldMs: number | undefined;

  constructor(private limits: QueueLimits) {}

  /** New limits from a new config: waiters stay; extra in-flight requests finish before new ones start. */
  setLimits(limits: QueueLimits): Ticket[] {
    this.limits = limits;
    return this.grant();
  }

  get running(): number {
    return this.inFlight;
  }

  depth(cls: QueueClass): number {
    return this.waiting[cls].length;
  }

  private queued(): number {
    return this.waiting.interactive.length + this.waiting.batch.length;
  }

  /** A slot now, a place in the queue, or a refusal with how long to wait before trying again. */
  admit(cls: QueueClass, now: number): Admission {
    if (this.inFlight < this.limits.maxInFlight && this.queued() === 0) {
      this.inFlight++;
      return { kind: 'run' };
    }
    const ticket: Ticket = { cls, enqueuedAt: now };
    if (this.queued() < this.limits.maxQueued) {
      this.waiting[cls].push(ticket);
      return { kind: 'queued', ticket };
    }
    if (cls === 'interactive' && this.waiting.batch.length > 0) {
      const evicted = this.waiting.batch.pop()!;
      this.waiting.interactive.push(ticket);
      return { kind: 'queued', ticket, evicted };
    }
    return { kind: 'full', retryAfterSeconds: this.retryAfterSeconds() };
  }

  /**
   * A slot now, or nothing: for a caller that must never wait nor take a place in the queue (a shadow call, which
   * must not delay real traffic). Only a free slot nobody is waiting for is taken.
   */
  claim(): boolean {
    if (this.inFlight >= this.limits.maxInFlight || this.queued() > 0) return false;
    this.inFlight++;
    return true;
  }

  /**
   * A slot holder finished after `heldMs`: returns the waiters that now hold a slot (interactive first), which the
   * caller must start.
   */
  release(heldMs: number): Ticket[] {
    this.inFlight = Math.max(0, this.inFlight - 1);
    this.meanHoldMs =
      this.meanHoldMs === undefined ? heldMs : this.meanHoldMs + HOLD_ALPHA * (heldMs - this.meanHoldMs);
    return this.grant();
  }

  /** A waiter gave up (deadline, client gone); false when it was not waiting (already granted or evicted). */
  cancel(ticket: Ticket): boolean {
    const list = this.waiting[ticket.cls];
    const i = list.indexOf(ticket);
    if (i < 0) return false;
    list.splice(i, 1);
    return true;
  }

  /**
   * Seconds until a place is likely free: the queue ahead drained at `maxInFlight` slots of the mean hold time.
   * Whole seconds, 1 to 60 (1 before anything was observed).
   */
  retryAfterSeconds(): number {
    if (this.meanHoldMs === undefined) return 1;
    const ahead = this.queued() + 1;
    const s = Math.ceil(((ahead / Math.max(1, this.limits.maxInFlight)) * this.meanHoldMs) / 1000);
    return Math.min(MAX_RETRY_AFTER_S, Math.max(1, s));
  }

  private grant(): Ticket[] {
    const granted: Ticket[] = [];
    while (this.inFlight < this.limits.maxInFlight) {
      const next = this.waiting.interactive.shift() ?? this.waiting.batch.shift();
      if (!next) break;
      this.inFlight++;
      granted.push(next);
    }
    return granted;
  }
}
