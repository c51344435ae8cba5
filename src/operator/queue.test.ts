import { describe, expect, it } from 'vitest';
import { backoffMs, WorkQueue } from './queue.js';

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
    while (runs === 0) await new Promise((r) => setTimeout(r, 1));
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
});
