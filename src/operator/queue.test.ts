import { describe, expect, it, vi } from 'vitest';
import { backoffMs, WorkQueue } from './queue.js';
import { TerminalError } from './reconcile-result.js';

describe('backoffMs', () => {
  it('doubles per failure up to the cap', () => {
    expect([0, 1, 2, 3, 4].map((n) => backoffMs(n, 100, 350))).toEqual([0, 100, 200, 350, 350]);
    expect(backoffMs(5000, 100, 30_000)).toBe(30_000);
  });
});

describe('WorkQueue', () => {
  it('collapses a burst of adds for one key into one run', async () => {
    const runs: string[] = [];
    const q = new WorkQueue(
      async (k) => {
        runs.push(k);
      },
      { debounceMs: 5 },
    );
    for (let i = 0; i < 50; i++) q.add('a');
    q.add('b');
    await q.idle();
    expect(runs.sort()).toEqual(['a', 'b']);
  });

  it('never runs one key twice at once, and re-runs a key added while it ran', async () => {
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    let release: () => void = () => undefined;
    const q = new WorkQueue(
      async () => {
        running++;
        runs++;
        maxRunning = Math.max(maxRunning, running);
        if (runs === 1) await new Promise<void>((r) => (release = r));
        running--;
      },
      { debounceMs: 0 },
    );
    q.add('a');
    await vi.waitFor(() => expect(runs).toBe(1), { timeout: 5_000, interval: 1 });
    q.add('a');
    q.add('a');
    expect(q.depth()).toBe(1);
    release();
    await q.idle();
    expect(runs).toBe(2);
    expect(maxRunning).toBe(1);
  });

  it('retries a failing key with growing backoff until it succeeds', async () => {
    const failures: number[] = [];
    let calls = 0;
    const q = new WorkQueue(
      async () => {
        calls++;
        if (calls < 4) throw new Error('boom');
      },
      { debounceMs: 0, baseBackoffMs: 1, maxBackoffMs: 4, onError: (_k, _e, n) => failures.push(n) },
    );
    q.add('a');
    await q.idle();
    expect(calls).toBe(4);
    expect(failures).toEqual([1, 2, 3]);
  });

  it('created paused, collects keys without running them until start()', async () => {
    const runs: string[] = [];
    const q = new WorkQueue(
      async (k) => {
        runs.push(k);
      },
      { debounceMs: 0, paused: true },
    );
    q.add('a');
    q.add('b', 5);
    q.add('a');
    await new Promise((r) => setTimeout(r, 20));
    expect(runs).toEqual([]);
    expect(q.depth()).toBe(2);
    q.start();
    await q.idle();
    expect(runs.sort()).toEqual(['a', 'b']);
  });

  it('runs a key again when its handler asks to be requeued after a while, without counting it as work', async () => {
    let runs = 0;
    const q = new WorkQueue(async () => (++runs < 3 ? { requeueAfterMs: 5 } : {}), { debounceMs: 0 });
    q.add('a');
    await q.idle();
    expect(q.depth()).toBe(0);
    await vi.waitFor(() => expect(runs).toBe(3), { timeout: 5_000, interval: 5 });
    await new Promise((r) => setTimeout(r, 30));
    expect(runs).toBe(3);
    q.stop();
  });

  it('reports a TerminalError once and does not retry it; the next add runs the key again', async () => {
    const errors: Array<{ n: number; terminal: boolean }> = [];
    let calls = 0;
    const q = new WorkQueue(
      async () => {
        calls++;
        throw new TerminalError('spec.window.timezone: unknown time zone');
      },
      { debounceMs: 0, baseBackoffMs: 1, onError: (_k, _e, n, terminal) => errors.push({ n, terminal }) },
    );
    q.add('a');
    await q.idle();
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toBe(1);
    expect(errors).toEqual([{ n: 1, terminal: true }]);
    q.add('a');
    await q.idle();
    expect(calls).toBe(2);
  });

  it('stop() cancels requested requeues', async () => {
    let runs = 0;
    const q = new WorkQueue(
      async () => {
        runs++;
        return { requeueAfterMs: 5 };
      },
      { debounceMs: 0 },
    );
    q.add('a');
    await q.idle();
    q.stop();
    await new Promise((r) => setTimeout(r, 30));
    expect(runs).toBe(1);
  });
});
