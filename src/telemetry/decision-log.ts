/**
 * The decision log sink: JSONL lines to stdout or to a file rotated by size.
 *
 *   openDecisionLog({ path, maxBytes?, keep? }): DecisionLog     path "-" is stdout
 *     .write(entry)    queued; written in one batch per event-loop turn, so the hot path never waits on a syscall
 *     .flush()         writes the queue now
 *     .close()         flushes and closes the file
 *
 * Rotation: before a batch would take the file past `maxBytes`, `path` becomes `path.1` (`path.1` becomes
 * `path.2`, ... up to `path.<keep>`, the oldest being dropped) and a new `path` starts. A line is never split
 * across files; a single line longer than `maxBytes` gets a file of its own. A failing write (disk full) is
 * reported to `onError` and the lines are dropped: the log is diagnostics and must never stop the sidecar.
 */
import { closeSync, fchmodSync, fstatSync, openSync, renameSync, writeSync } from 'node:fs';
import type { DecisionLogEntry } from '../api/decision-log.js';

export interface DecisionLogOptions {
  /** File to append to, or "-" for stdout. */
  path: string;
  maxBytes?: number;
  /** Rotated files kept besides the current one. */
  keep?: number;
  /** Where "-" writes; stdout by default (tests pass their own). */
  stdout?: { write(s: string): unknown };
  onError?: (e: unknown) => void;
}

export const DEFAULT_LOG_MAX_BYTES = 64 * 1024 * 1024;
export const DEFAULT_LOG_KEEP = 5;

export interface DecisionLog {
  write(entry: DecisionLogEntry): void;
  flush(): void;
  close(): void;
}

export function openDecisionLog(opts: DecisionLogOptions): DecisionLog {
  const maxBytes = opts.maxBytes ?? DEFAULT_LOG_MAX_BYTES;
  const keep = opts.keep ?? DEFAULT_LOG_KEEP;
  if (!(maxBytes > 0)) throw new RangeError('decision log max bytes must be positive');
  if (!Number.isInteger(keep) || keep < 0) throw new RangeError('decision log keep must be an integer >= 0');
  const out: Sink =
    opts.path === '-' ? stdoutSink(opts.stdout ?? process.stdout) : fileSink(opts.path, maxBytes, keep);
  let queue: string[] = [];
  let scheduled = false;
  let closed = false;
  const flush = () => {
    scheduled = false;
    if (queue.length === 0) return;
    const lines = queue;
    queue = [];
    try {
      out.write(lines);
    } catch (e) {
      opts.onError?.(e);
    }
  };
  return {
    write(entry) {
      if (closed) return;
      queue.push(`${JSON.stringify(entry)}\n`);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
    close() {
      if (closed) return;
      flush();
      closed = true;
      out.close();
    },
  };
}

interface Sink {
  write(lines: string[]): void;
  close(): void;
}

function stdoutSink(stream: { write(s: string): unknown }): Sink {
  return { write: (lines) => void stream.write(lines.join('')), close: () => {} };
}

/** Opens the log owner-only: the mode given to open applies only to a file it creates, not to one already there. */
function openPrivate(path: string, flags: 'a' | 'w'): number {
  const fd = openSync(path, flags, 0o600);
  fchmodSync(fd, 0o600);
  return fd;
}

function fileSink(path: string, maxBytes: number, keep: number): Sink {
  let fd = openPrivate(path, 'a');
  let size = fstatSync(fd).size;
  const rotate = () => {
    closeSync(fd);
    if (keep === 0) {
      fd = openPrivate(path, 'w');
    } else {
      // Oldest first, so each rename lands on a name already moved away (rename replaces path.<keep>).
      for (let i = keep - 1; i >= 1; i--) renameIfExists(`${path}.${i}`, `${path}.${i + 1}`);
      renameSync(path, `${path}.1`);
      fd = openPrivate(path, 'a');
    }
    size = 0;
  };
  return {
    write(lines) {
      // One write per file segment: the lines that still fit, then rotate and go on with the rest.
      let chunk = '';
      let chunkBytes = 0;
      for (const line of lines) {
        const bytes = Buffer.byteLength(line);
        if (size + chunkBytes > 0 && size + chunkBytes + bytes > maxBytes) {
          if (chunk) writeSync(fd, chunk);
          rotate();
          chunk = '';
          chunkBytes = 0;
        }
        chunk += line;
        chunkBytes += bytes;
      }
      if (chunk) writeSync(fd, chunk);
      size += chunkBytes;
    },
    close: () => closeSync(fd),
  };
}

function renameIfExists(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}
