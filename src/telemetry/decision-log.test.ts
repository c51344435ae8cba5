import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { FeedbackEntry } from '../api/decision-log.js';
import { openDecisionLog } from './decision-log.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'tm-dlog-'));
  dirs.push(d);
  return d;
}

const entry = (i: number): FeedbackEntry => ({
  type: 'feedback',
  at: '2026-12-01T10:00:00.000Z',
  requestId: `req-${String(i).padStart(4, '0')}`,
  route: 'default',
  tier: 'cheap',
  initialTier: 'cheap',
  model: 'mini',
  score: 0.5,
  retry: false,
});
const lineBytes = Buffer.byteLength(`${JSON.stringify(entry(0))}\n`);
const lines = (p: string) =>
  readFileSync(p, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as FeedbackEntry);

describe('openDecisionLog', () => {
  it('appends JSON lines, batched until the next turn of the event loop or a flush', async () => {
    const path = join(tmp(), 'decisions.jsonl');
    const log = openDecisionLog({ path });
    log.write(entry(1));
    log.write(entry(2));
    expect(readFileSync(path, 'utf8')).toBe('');
    await new Promise((r) => setImmediate(r));
    expect(lines(path).map((l) => l.requestId)).toEqual(['req-0001', 'req-0002']);
    log.close();
  });

  it('is owner-only, also when the file was there before with a looser mode', () => {
    const path = join(tmp(), 'decisions.jsonl');
    writeFileSync(path, '', { mode: 0o644 });
    const log = openDecisionLog({ path });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    log.close();
  });

  it('rotates by size, never splits a line, keeps `keep` old files and drops the oldest', () => {
    const path = join(tmp(), 'd.jsonl');
    const log = openDecisionLog({ path, maxBytes: lineBytes * 3, keep: 2 });
    for (let i = 0; i < 10; i++) {
      log.write(entry(i));
      log.flush();
    }
    log.close();
    // 10 lines, 3 per file: d.jsonl.2 = 3..5, d.jsonl.1 = 6..8, d.jsonl = 9; lines 0..2 were rotated out.
    expect(lines(path).map((l) => l.requestId)).toEqual(['req-0009']);
    expect(lines(`${path}.1`).map((l) => l.requestId)).toEqual(['req-0006', 'req-0007', 'req-0008']);
    expect(lines(`${path}.2`).map((l) => l.requestId)).toEqual(['req-0003', 'req-0004', 'req-0005']);
    expect(existsSync(`${path}.3`)).toBe(false);
    for (const p of [path, `${path}.1`, `${path}.2`])
      expect(statSync(p).size).toBeLessThanOrEqual(lineBytes * 3);
  });

  it('rotates inside one batch too', () => {
    const path = join(tmp(), 'd.jsonl');
    const log = openDecisionLog({ path, maxBytes: lineBytes * 2, keep: 5 });
    for (let i = 0; i < 5; i++) log.write(entry(i));
    log.close();
    expect(lines(path)).toHaveLength(1);
    expect(lines(`${path}.1`)).toHaveLength(2);
    expect(lines(`${path}.2`)).toHaveLength(2);
  });

  it('counts what the file already held when it was opened', () => {
    const path = join(tmp(), 'd.jsonl');
    writeFileSync(path, `${JSON.stringify(entry(100))}\n`);
    const log = openDecisionLog({ path, maxBytes: lineBytes, keep: 1 });
    log.write(entry(1));
    log.close();
    expect(lines(`${path}.1`).map((l) => l.requestId)).toEqual(['req-0100']);
    expect(lines(path).map((l) => l.requestId)).toEqual(['req-0001']);
  });

  it('writes to stdout for "-"', () => {
    const got: string[] = [];
    const log = openDecisionLog({ path: '-', stdout: { write: (s: string) => got.push(s) } });
    log.write(entry(7));
    log.close();
    expect(JSON.parse(got.join('')).requestId).toBe('req-0007');
  });

  it('reports a failing write (disk full) instead of throwing, and keeps accepting lines', () => {
    const errors: unknown[] = [];
    const log = openDecisionLog({ path: '/dev/full', onError: (e) => errors.push(e) });
    log.write(entry(1));
    expect(() => log.flush()).not.toThrow();
    expect((errors[0] as NodeJS.ErrnoException).code).toBe('ENOSPC');
    log.close();
  });

  it('refuses to open where it cannot write, at startup', () => {
    expect(() => openDecisionLog({ path: join(tmp(), 'no-such-dir', 'd.jsonl') })).toThrow(/ENOENT/);
  });
});
