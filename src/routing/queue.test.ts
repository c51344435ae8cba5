import { describe, expect, it } from 'vitest';
import { SlotQueue, type Ticket } from './queue.js';

function ticket(a: ReturnType<SlotQueue['admit']>): Ticket {
  if (a.kind !== 'queued') throw new Error(`expected queued, got ${a.kind}`);
  return a.ticket;
}

describe('SlotQueue', () => {
  it('runs up to maxInFlight at once, then queues', () => {
    const q = new SlotQueue({ maxInFlight: 2, maxQueued: 4 });
    expect(q.admit('interactive', 0)).toEqual({ kind: 'run' });
    expect(q.admit('batch', 0)).toEqual({ kind: 'run' });
    expect(q.admit('interactive', 0).kind).toBe('queued');
    expect(q.running).toBe(2);
    expect(q.depth('interactive')).toBe(1);
  });

  it('grants freed slots to interactive waiters before batch ones, FIFO within a class', () => {
    const q = new SlotQueue({ maxInFlight: 1, maxQueued: 10 });
    q.admit('interactive', 0);
    const b1 = ticket(q.admit('batch', 1));
    const b2 = ticket(q.admit('batch', 2));
    const i1 = ticket(q.admit('interactive', 3));
    const i2 = ticket(q.admit('interactive', 4));
    expect(q.release(10)).toEqual([i1]);
    expect(q.release(10)).toEqual([i2]);
    expect(q.release(10)).toEqual([b1]);
    expect(q.release(10)).toEqual([b2]);
    expect(q.release(10)).toEqual([]);
    expect(q.running).toBe(0);
  });

  it('claims only a free slot nobody waits for, and never queues', () => {
    const q = new SlotQueue({ maxInFlight: 2, maxQueued: 4 });
    expect(q.claim()).toBe(true);
    expect(q.admit('interactive', 0)).toEqual({ kind: 'run' });
    expect(q.claim()).toBe(false);
    expect(q.running).toBe(2);
    const w = ticket(q.admit('batch', 0));
    // A slot freed while someone waits goes to the waiter; a claim does not take it, nor does it join the queue.
    expect(q.release(10)).toEqual([w]);
    expect(q.claim()).toBe(false);
    expect(q.depth('batch') + q.depth('interactive')).toBe(0);
    q.release(10);
    expect(q.claim()).toBe(true);
  });

  it('does not let a newcomer jump waiters when a slot is free but others wait', () => {
    const q = new SlotQueue({ maxInFlight: 1, maxQueued: 2 });
    q.admit('interactive', 0);
    const w = ticket(q.admit('batch', 0));
    // A setLimits that frees room grants the waiter first.
    expect(q.setLimits({ maxInFlight: 2, maxQueued: 2 })).toEqual([w]);
    expect(q.admit('interactive', 0).kind).toBe('queued');
  });

  it('refuses when full, but an interactive request takes the newest batch place', () => {
    const q = new SlotQueue({ maxInFlight: 1, maxQueued: 2 });
    q.admit('batch', 0);
    const old = ticket(q.admit('batch', 1));
    const newest = ticket(q.admit('batch', 2));
    expect(q.admit('batch', 3)).toEqual({ kind: 'full', retryAfterSeconds: 1 });
    const a = q.admit('interactive', 4);
    expect(a).toMatchObject({ kind: 'queued', evicted: newest });
    expect(q.depth('batch')).toBe(1);
    expect(q.admit('interactive', 5)).toMatchObject({ kind: 'queued', evicted: old });
    expect(q.admit('interactive', 6).kind).toBe('full');
  });

  it('with maxQueued 0 refuses as soon as every slot is busy', () => {
    const q = new SlotQueue({ maxInFlight: 1, maxQueued: 0 });
    q.admit('interactive', 0);
    expect(q.admit('interactive', 0).kind).toBe('full');
  });

  it('forgets cancelled waiters', () => {
    const q = new SlotQueue({ maxInFlight: 1, maxQueued: 2 });
    q.admit('interactive', 0);
    const t = ticket(q.admit('interactive', 0));
    expect(q.cancel(t)).toBe(true);
    expect(q.cancel(t)).toBe(false);
    expect(q.release(5)).toEqual([]);
  });

  it('estimates Retry-After from the mean hold time and the queue ahead, within 1..60 s', () => {
    const q = new SlotQueue({ maxInFlight: 2, maxQueued: 3 });
    q.admit('interactive', 0);
    q.admit('interactive', 0);
    q.release(4000);
    q.admit('interactive', 0);
    for (let i = 0; i < 3; i++) q.admit('interactive', 0);
    // 3 queued + this one, over 2 slots, 4 s each.
    expect(q.admit('interactive', 0)).toEqual({ kind: 'full', retryAfterSeconds: 8 });
    const slow = new SlotQueue({ maxInFlight: 1, maxQueued: 0 });
    slow.admit('batch', 0);
    slow.release(600_000);
    slow.admit('batch', 0);
    expect(slow.admit('batch', 0)).toEqual({ kind: 'full', retryAfterSeconds: 60 });
  });
});
