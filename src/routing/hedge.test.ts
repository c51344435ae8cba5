import { describe, expect, it } from 'vitest';
import type { ModelRouteSpec } from '../api/modelroute.js';
import { hedgeDelayMs, RaceFailed, race } from './hedge.js';

/** A side whose outcome the test decides, recording the signal it was given. */
function side<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const state: { started: boolean; signal?: AbortSignal } = { started: false };
  const fn = (signal: AbortSignal) => {
    state.started = true;
    state.signal = signal;
    return new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
      signal.addEventListener('abort', () => rej(new Error('aborted')), { once: true });
    });
  };
  return { fn, state, resolve: (v: T) => resolve(v), reject: (e: unknown) => reject(e) };
}
const tick = () => new Promise((r) => setImmediate(r));

describe('race', () => {
  it('the primary answering before the delay wins without a hedge', async () => {
    const a = side<string>();
    const b = side<string>();
    const p = race(a.fn, b.fn, 60_000, new AbortController().signal);
    a.resolve('a');
    await expect(p).resolves.toMatchObject({
      value: 'a',
      winner: 'primary',
      hedged: false,
      loser: undefined,
    });
    expect(b.state.started).toBe(false);
  });

  it('after the delay the hedge starts; the first answer wins and the loser is aborted', async () => {
    const a = side<string>();
    const b = side<string>();
    const p = race(a.fn, b.fn, 0, new AbortController().signal);
    await new Promise((r) => setTimeout(r, 5));
    expect(b.state.started).toBe(true);
    b.resolve('b');
    const r = await p;
    expect(r).toMatchObject({ value: 'b', winner: 'hedge', hedged: true });
    expect(a.state.signal!.aborted).toBe(true);
    await expect(r.loser).resolves.toMatchObject({ ok: false, aborted: true });
  });

  it('a failed side does not end the race while the other may answer', async () => {
    const a = side<string>();
    const b = side<string>();
    const p = race(a.fn, b.fn, 0, new AbortController().signal);
    await new Promise((r) => setTimeout(r, 5));
    b.reject(new Error('hedge failed'));
    await tick();
    a.resolve('a');
    const r = await p;
    expect(r).toMatchObject({ value: 'a', winner: 'primary', hedged: true });
    await expect(r.loser).resolves.toMatchObject({ ok: false, aborted: false });
  });

  it('both failing rejects with both outcomes; a first target failing before the delay ends it at once', async () => {
    const a = side<string>();
    const b = side<string>();
    let hedges = 0;
    const p = race(a.fn, b.fn, 0, new AbortController().signal, { onHedge: () => hedges++ });
    await new Promise((r) => setTimeout(r, 5));
    expect(hedges).toBe(1);
    const primaryError = new Error('primary');
    const hedgeError = new Error('hedge');
    a.reject(primaryError);
    await tick();
    b.reject(hedgeError);
    const failed = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failed).toBeInstanceOf(RaceFailed);
    expect(failed).toMatchObject({
      primary: { ok: false, error: primaryError, aborted: false },
      hedge: { ok: false, error: hedgeError, aborted: false },
      hedged: true,
    });

    const c = side<string>();
    const d = side<string>();
    const q = race(c.fn, d.fn, 60_000, new AbortController().signal, { failsOver: () => false });
    const early = new Error('early');
    c.reject(early);
    await expect(q).rejects.toMatchObject({ primary: { error: early }, hedge: undefined, hedged: false });
    expect(d.state.started).toBe(false);
  });

  it('a first target failing before the delay in a way failover moves on from starts the rest at once, no hedge', async () => {
    const a = side<string>();
    const b = side<string>();
    let hedges = 0;
    const failure = new Error('target down');
    const p = race(a.fn, b.fn, 60_000, new AbortController().signal, {
      failsOver: (e) => e === failure,
      onHedge: () => hedges++,
    });
    a.reject(failure);
    await tick();
    expect(b.state.started).toBe(true);
    b.resolve('b');
    const r = await p;
    expect(r).toMatchObject({ value: 'b', winner: 'hedge', hedged: false });
    expect(hedges).toBe(0);
    // The first target's failure is the other side, for its calls to be counted.
    await expect(r.loser).resolves.toEqual({ ok: false, error: failure, aborted: false });
  });

  it('a first target failing after the hedge started waits for the hedge and starts nothing more', async () => {
    const a = side<string>();
    let hedgeStarts = 0;
    const b = side<string>();
    const counted = (signal: AbortSignal) => {
      hedgeStarts++;
      return b.fn(signal);
    };
    const p = race(a.fn, counted, 0, new AbortController().signal, { failsOver: () => true });
    await new Promise((r) => setTimeout(r, 5));
    a.reject(new Error('first failed late'));
    await tick();
    expect(hedgeStarts).toBe(1);
    b.resolve('b');
    await expect(p).resolves.toMatchObject({ value: 'b', winner: 'hedge', hedged: true });
  });

  it("the client's abort still reaches the winner after the race (a stream's winner keeps running)", async () => {
    const a = side<string>();
    const b = side<string>();
    const ac = new AbortController();
    const p = race(a.fn, b.fn, 0, ac.signal);
    await new Promise((r) => setTimeout(r, 5));
    a.resolve('a');
    const r = await p;
    expect(r.winner).toBe('primary');
    expect(a.state.signal!.aborted).toBe(false);
    expect(b.state.signal!.aborted).toBe(true);
    ac.abort();
    expect(a.state.signal!.aborted).toBe(true);

    // Released (the winner is over), the caller's signal holds no listener of the race's.
    const c = side<string>();
    const counted = new AbortController();
    let listeners = 0;
    const add = counted.signal.addEventListener.bind(counted.signal);
    const remove = counted.signal.removeEventListener.bind(counted.signal);
    counted.signal.addEventListener = ((...x: Parameters<typeof add>) => {
      listeners++;
      add(...x);
    }) as typeof add;
    counted.signal.removeEventListener = ((...x: Parameters<typeof remove>) => {
      listeners--;
      remove(...x);
    }) as typeof remove;
    const q = race(c.fn, side<string>().fn, 60_000, counted.signal);
    c.resolve('c');
    const won = await q;
    expect(listeners).toBe(1);
    won.release();
    expect(listeners).toBe(0);
  });
});

describe('hedgeDelayMs', () => {
  const spec = (hedge: ModelRouteSpec['hedge']) => ({ hedge }) as ModelRouteSpec;
  const on = { enabled: true, delay: 'fixed' as const, delayMs: 300, minDelayMs: 50 };
  it('is undefined when the route does not hedge, or the task type is not listed', () => {
    expect(hedgeDelayMs(spec(undefined), undefined, 100)).toBeUndefined();
    expect(hedgeDelayMs(spec({ ...on, enabled: false }), undefined, 100)).toBeUndefined();
    expect(hedgeDelayMs(spec({ ...on, taskTypes: ['critical'] }), 'chat', 100)).toBeUndefined();
    expect(hedgeDelayMs(spec({ ...on, taskTypes: ['critical'] }), 'critical', 100)).toBe(300);
  });
  it('uses the observed p95 when asked and known, bounded below', () => {
    expect(hedgeDelayMs(spec(on), undefined, 900)).toBe(300);
    expect(hedgeDelayMs(spec({ ...on, delay: 'p95' }), undefined, 900)).toBe(900);
    expect(hedgeDelayMs(spec({ ...on, delay: 'p95' }), undefined, 10)).toBe(50);
    expect(hedgeDelayMs(spec({ ...on, delay: 'p95' }), undefined, undefined)).toBe(300);
  });
});
