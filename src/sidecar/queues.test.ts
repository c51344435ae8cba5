import { describe, expect, it } from 'vitest';
import { queue as queueSchema } from '../api/modelroute.js';
import { queueClass } from '../routing/queue.js';
import type { RouteDecision } from '../routing/types.js';
import { SidecarMetrics } from '../telemetry/metrics.js';
import { NoFreeSlot, TargetQueues } from './queues.js';

const target = { provider: 'groq', model: 'small', upstreamModel: 'small' };

function decision(maxInFlight: number, priority?: string): RouteDecision {
  const queue = queueSchema.parse({
    limits: [{ provider: 'groq', model: 'small', maxInFlight }],
    maxQueued: 2,
  });
  return {
    route: 'r',
    spec: { queue },
    ...(priority ? { priority: { name: priority, source: 'header', lo: 0, hi: 0 } } : {}),
  } as unknown as RouteDecision;
}

describe('TargetQueues', () => {
  it('gives no hook to a route without spec.queue, and a free pass to unlimited targets', async () => {
    const q = new TargetQueues(new SidecarMetrics());
    expect(q.admitter({ route: 'r', spec: {} } as unknown as RouteDecision)).toBeUndefined();
    const admit = q.admitter(decision(1))!;
    const other = await admit({ provider: 'openai', model: 'big', upstreamModel: 'big' });
    const again = await admit({ provider: 'openai', model: 'big', upstreamModel: 'big' });
    other();
    again();
  });

  it('hands a freed slot to the next waiter, once however often release is called', async () => {
    const q = new TargetQueues(new SidecarMetrics());
    const admit = q.admitter(decision(1))!;
    const release = await admit(target);
    let second = false;
    const waiting = admit(target).then((r) => {
      second = true;
      return r;
    });
    const third = admit(target);
    await Promise.resolve();
    expect(second).toBe(false);
    release();
    release(); // a second call must not free a slot the next holder has
    const r2 = await waiting;
    let thirdIn = false;
    void third.then(() => {
      thirdIn = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(thirdIn).toBe(false);
    r2();
    (await third)();
  });

  it('lets a waiting client that leaves give up its place', async () => {
    const q = new TargetQueues(new SidecarMetrics());
    const admit = q.admitter(decision(1))!;
    const release = await admit(target);
    const ac = new AbortController();
    const gone = admit(target, ac.signal);
    const next = admit(target);
    ac.abort(new Error('client left'));
    await expect(gone).rejects.toThrow('client left');
    release();
    (await next)(); // the slot went to the one still waiting
  });

  it('starts waiters at once when a new config raises the limit', async () => {
    const q = new TargetQueues(new SidecarMetrics());
    const release = await q.admitter(decision(1))!(target);
    const waiting = q.admitter(decision(1))!(target);
    // The first call under the new limit of 2 lets the waiter in; itself it waits (both slots are taken).
    const third = q.admitter(decision(2))!(target);
    const r2 = await waiting;
    r2();
    (await third)();
    release();
  });

  it('shows what a lane holds now (explain): slots in use and waiters per class', async () => {
    const q = new TargetQueues(new SidecarMetrics());
    expect(q.view('r', 'groq', 'small')).toBeUndefined();
    const release = await q.admitter(decision(1))!(target);
    const batch = q.admitter(decision(1, 'batch'))!(target);
    expect(q.view('r', 'groq', 'small')).toEqual({ inFlight: 1, waiting: { interactive: 0, batch: 1 } });
    release();
    (await batch)();
    expect(q.view('r', 'groq', 'small')).toEqual({ inFlight: 0, waiting: { interactive: 0, batch: 0 } });
  });

  it('a claimer takes a free slot or refuses at once; it never waits, and its slot is held like any other', async () => {
    const q = new TargetQueues(new SidecarMetrics());
    expect(q.claimer({ route: 'r', spec: {} } as unknown as RouteDecision)).toBeUndefined();
    const claim = q.claimer(decision(1))!;
    (await claim({ provider: 'openai', model: 'big', upstreamModel: 'big' }))(); // not limited
    const held = await claim(target);
    await expect(claim(target)).rejects.toBeInstanceOf(NoFreeSlot);
    // A real request waits for the claimed slot and gets it when the claim is released.
    const waiting = q.admitter(decision(1))!(target);
    expect(q.view('r', 'groq', 'small')).toEqual({ inFlight: 1, waiting: { interactive: 1, batch: 0 } });
    held();
    const r = await waiting;
    expect(q.view('r', 'groq', 'small')).toEqual({ inFlight: 1, waiting: { interactive: 0, batch: 0 } });
    r();
  });

  it('waits as batch only for the configured classes', () => {
    const spec = queueSchema.parse({ limits: [{ provider: 'groq', model: 'small', maxInFlight: 1 }] });
    expect(queueClass(decision(1, 'batch'), spec)).toBe('batch');
    expect(queueClass(decision(1, 'exec'), spec)).toBe('interactive');
    expect(queueClass(decision(1), spec)).toBe('interactive');
  });
});
