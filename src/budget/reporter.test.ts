import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type UsageBatch, UsageReporter } from './reporter.js';
import type { UsageRecord } from './types.js';

const rec = (costUSD: number): UsageRecord => ({
  route: 'r',
  model: 'm',
  inputTokens: 1,
  outputTokens: 1,
  costUSD,
  baselineCostUSD: 0,
  at: 0,
});

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function stateDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tm-reporter-'));
  dirs.push(d);
  return d;
}

describe('UsageReporter', () => {
  it('cuts a journal line torn by a crash, so the next record survives a second crash', () => {
    const dir = stateDir();
    mkdirSync(join(dir, 'usage'), { recursive: true });
    // Nothing else in it: no record to recover, so no flush seals it away before the next append.
    writeFileSync(join(dir, 'usage', 'open.jsonl'), '{"route":"r","model":"m","inpu');
    const never = () => new Promise<void>(() => undefined);
    const first = new UsageReporter({ sidecarId: 's', stateDir: dir, send: never, flushMs: 60_000 });
    first.add(rec(3));
    expect(first.pending()).toBe(1);
    // A second crash before anything was sent: a new process recovers the record from disk.
    const second = new UsageReporter({ sidecarId: 's', stateDir: dir, send: never, flushMs: 60_000 });
    expect(second.pending()).toBe(1);
  });

  it('seals a batch before its records pass maxBatchBytes, on disk as in what it sends', async () => {
    const dir = stateDir();
    const sent: UsageBatch[] = [];
    const r = new UsageReporter({
      sidecarId: 's',
      stateDir: dir,
      flushMs: 60_000,
      maxBatchBytes: 1_000,
      send: async (b) => {
        sent.push(structuredClone(b));
      },
    });
    const line = Buffer.byteLength(`${JSON.stringify(rec(1))}\n`);
    const n = Math.ceil((3 * 1_000) / line);
    for (let i = 0; i < n; i++) r.add(rec(i));
    expect(await r.drain()).toBe(true);
    expect(sent.length).toBeGreaterThanOrEqual(3);
    for (const b of sent) expect(b.records.length * line).toBeLessThanOrEqual(1_000);
    expect(sent.flatMap((b) => b.records.map((x) => x.costUSD))).toEqual([...Array(n).keys()]);
    await r.close();
  });

  it('puts the routing counts on the batch a flush seals, alone when there is no usage, resent with it', async () => {
    const dir = stateDir();
    const sent: UsageBatch[] = [];
    let failures = 1;
    let counted = 0;
    const r = new UsageReporter({
      sidecarId: 's',
      stateDir: dir,
      flushMs: 60_000,
      baseBackoffMs: 1,
      maxBackoffMs: 2,
      collectRouting: () =>
        counted === 0
          ? []
          : [
              {
                route: 'r',
                from: 0,
                to: counted,
                requests: { small: counted },
                escalations: 0,
                feedbackCount: 0,
                feedbackSum: 0,
              },
            ],
      send: async (b) => {
        sent.push(structuredClone(b));
        if (failures-- > 0) throw new Error('operator down');
      },
    });
    r.flush();
    expect(await r.drain()).toBe(true);
    expect(sent).toEqual([]); // nothing counted, nothing sent
    counted = 2;
    r.add(rec(1));
    expect(await r.drain()).toBe(true);
    counted = 3;
    expect(await r.drain()).toBe(true);
    expect(sent.map((b) => [b.seq, b.records.length, b.routing?.[0]?.requests])).toEqual([
      [1, 1, { small: 2 }],
      [1, 1, { small: 2 }],
      [2, 0, { small: 3 }],
    ]);
    counted = 0;
    await r.close();
  });

  it('resends a failed batch with the same seq until it is accepted, in order', async () => {
    const sent: Array<{ seq: number; n: number }> = [];
    let failures = 2;
    const r = new UsageReporter({
      sidecarId: 's',
      flushMs: 60_000,
      baseBackoffMs: 1,
      maxBackoffMs: 2,
      send: async (b: UsageBatch) => {
        sent.push({ seq: b.seq, n: b.records.length });
        if (failures-- > 0) throw new Error('operator down');
      },
    });
    r.add(rec(1));
    r.add(rec(2));
    r.flush();
    r.add(rec(3));
    expect(await r.drain()).toBe(true);
    expect(sent).toEqual([
      { seq: 1, n: 2 },
      { seq: 1, n: 2 },
      { seq: 1, n: 2 },
      { seq: 2, n: 1 },
    ]);
    expect(r.pending()).toBe(0);
    await r.close();
  });

  it('a crashed reporter owes its journal and unsent batches to the next one, with the same seqs', async () => {
    const dir = stateDir();
    const first = new UsageReporter({
      sidecarId: 's',
      stateDir: dir,
      flushMs: 60_000,
      send: () => new Promise<void>(() => undefined), // the operator never answers
    });
    first.add(rec(1));
    first.flush(); // batch 1, in flight forever
    first.add(rec(2)); // still in the journal
    // "Crash": no close(); a new process opens the same state dir.
    const got: UsageBatch[] = [];
    const second = new UsageReporter({
      sidecarId: 's',
      stateDir: dir,
      flushMs: 60_000,
      send: async (b) => {
        got.push(b);
      },
    });
    expect(await second.drain()).toBe(true);
    expect(got.map((b) => [b.seq, b.records.map((x) => x.costUSD)])).toEqual([
      [1, [1]],
      [2, [2]],
    ]);
    second.add(rec(3));
    await second.drain();
    expect(got.at(-1)?.seq).toBe(3);
    await second.close();
    // Nothing owed any more: a third start sends nothing.
    const third: UsageBatch[] = [];
    const r3 = new UsageReporter({ sidecarId: 's', stateDir: dir, send: async (b) => void third.push(b) });
    await r3.drain();
    expect(third).toEqual([]);
    await r3.close();
  });

  it('a clean close retires the reporter once everything is delivered; the next start numbers on after it', async () => {
    const dir = stateDir();
    const got: UsageBatch[] = [];
    const r = new UsageReporter({
      sidecarId: 's',
      stateDir: dir,
      flushMs: 60_000,
      send: async (b) => void got.push(b),
    });
    r.add(rec(1));
    await r.close();
    expect(got).toEqual([
      { sidecarId: 's', seq: 1, records: [rec(1)] },
      { sidecarId: 's', seq: 2, records: [], retire: true },
    ]);
    const next: UsageBatch[] = [];
    const r2 = new UsageReporter({
      sidecarId: 's',
      stateDir: dir,
      flushMs: 60_000,
      send: async (b) => void next.push(b),
    });
    r2.add(rec(2));
    await r2.drain();
    expect(next.map((b) => b.seq)).toEqual([3]);
    await r2.close();
  });

  it('does not retire while usage is still owed (the operator is unreachable)', async () => {
    const got: UsageBatch[] = [];
    const r = new UsageReporter({
      sidecarId: 's',
      flushMs: 60_000,
      baseBackoffMs: 1,
      maxBackoffMs: 2,
      send: async (b) => {
        got.push(b);
        throw new Error('operator down');
      },
    });
    r.add(rec(1));
    await r.close(50);
    expect(got.some((b) => b.retire)).toBe(false);
  });
});
