import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger, isoTime, logDestination } from './logger.js';

const dirs: string[] = [];
afterEach(() => {
  vi.useRealTimers();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tm-logger-'));
  dirs.push(dir);
  return join(dir, 'log.jsonl');
}

describe('logDestination', () => {
  it('writes every line, in order, once flushed (lines smaller and larger than a block)', async () => {
    const file = tempFile();
    const logger = createLogger({ destination: logDestination(file) });
    const big = 'x'.repeat(10_000);
    for (let i = 0; i < 500; i++) logger.info({ i, ...(i % 100 === 7 ? { big } : {}) }, 'line');
    await new Promise<void>((resolve, reject) => logger.flush((err) => (err ? reject(err) : resolve())));
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(500);
    expect(lines.map((l) => JSON.parse(l).i)).toEqual([...Array(500).keys()]);
    expect(JSON.parse(lines[107]!).big).toBe(big);
  });

  it('keeps multi-byte text whole across blocks', async () => {
    const file = tempFile();
    const logger = createLogger({ destination: logDestination(file) });
    const text = 'żółć 日本語 🙂 '.repeat(50);
    for (let i = 0; i < 40; i++) logger.info({ i, text }, 'utf8');
    await new Promise<void>((resolve) => logger.flush(() => resolve()));
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines.map((l) => JSON.parse(l).text)).toEqual(Array(40).fill(text));
  });
});

describe('logDestination on exit', () => {
  it('writes out every line still gathered or pending when the process exits at once', () => {
    // stdout (fd 1) is open from the start, as in the sidecar; the lines are still in the block or in flight.
    const logger = new URL('./logger.ts', import.meta.url).pathname;
    const script = `
      const { createLogger, logDestination } = await import(${JSON.stringify(logger)});
      const l = createLogger({ destination: logDestination(1) });
      for (let i = 0; i < 3000; i++) l.info({ i, text: 'żółć' }, 'line');
      process.exit(0);`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(3000);
    expect(lines.map((l) => JSON.parse(l).i)).toEqual([...Array(3000).keys()]);
    expect(JSON.parse(lines[2999]!).text).toBe('żółć');
  });
});

describe('logDestination on exit, idle', () => {
  it('writes the last line when sonic-boom was idle at exit (an async write started then would be lost)', () => {
    const logger = new URL('./logger.ts', import.meta.url).pathname;
    const script = `
      const { createLogger, logDestination } = await import(${JSON.stringify(logger)});
      const l = createLogger({ destination: logDestination(1) });
      l.info({ i: 0 }, 'line');
      await new Promise((resolve) => l.flush(resolve));
      l.info({ i: 1 }, 'the last line');`;
    for (let run = 0; run < 5; run++) {
      const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        encoding: 'utf8',
      });
      expect(
        out
          .trimEnd()
          .split('\n')
          .map((l) => JSON.parse(l).i),
      ).toEqual([0, 1]);
    }
  });
});

describe('isoTime', () => {
  it("is pino's isoTime field, following the clock from one millisecond to the next", () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 2, 3, 4, 5, 6) });
    expect(isoTime()).toBe(',"time":"2026-01-02T03:04:05.006Z"');
    expect(isoTime()).toBe(',"time":"2026-01-02T03:04:05.006Z"');
    vi.advanceTimersByTime(1);
    expect(isoTime()).toBe(',"time":"2026-01-02T03:04:05.007Z"');
  });
});
