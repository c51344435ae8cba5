/** The sidecar's pino logger: JSON lines, secrets redacted, prompt text only when explicitly enabled. */
import { type DestinationStream, type Logger, pino } from 'pino';

export interface LoggerOptions {
  level?: string;
  /** Where lines go; stdout by default. Tests pass a stream to read the lines back. */
  destination?: DestinationStream;
}

/**
 * Paths that may hold credentials, wherever a header bag ends up in a log object. pino runs the redactor on every
 * line holding a field named by a path's first segment, so none is a name our per-request lines use (`provider`,
 * `model`...) and there is no leading wildcard ("*.apiKey", which redacts every field of every line): measured in
 * bench/sidecar.ts, either costs a visible share of the sidecar's CPU per request. Key values never enter log
 * objects in the first place: adapters keep them in closures, and upstream text is scrubbed (`redact` in
 * providers/upstream-errors.ts) before anyone sees it.
 */
export const redactPaths = [
  'req.headers.authorization',
  'req.headers["api-key"]',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["api-key"]',
  'headers["x-api-key"]',
  'apiKey',
];

/**
 * Characters of lines gathered before they are handed on to be written: each block is one write on the thread pool
 * (a hop there and back), so at a few thousand requests a second a bigger block is fewer hops; the 1 s flush below
 * keeps a quiet sidecar's lines as prompt as before.
 */
const BATCH_BYTES = 16 * 1024;

// Whether it writes synchronously (`sync`) is in sonic-boom's options, not in its instance type.
type SonicBoom = ReturnType<typeof pino.destination> & { sync: boolean };

/**
 * Gathers whole lines and hands them to sonic-boom a block at a time. sonic-boom buffers too (minLength), but it
 * appends each line to its pending string and measures that string's byte length on every write: a cost that grows
 * with the buffer, ~2 us per line at 4 KiB in bench/sidecar.ts. Here a line costs an array push; the join and the
 * byte count happen once per block. Blocks go to sonic-boom as bytes (its buffer mode): given a string, it measures
 * its byte length twice on the way in, has fs.write encode it, and once written encodes the whole block again
 * (Buffer.from, to slice off what was written); one encoding here roughly halved the cost per line of the
 * destination (0.35-0.72 against 0.82-1.16 us per line for 16 KiB blocks to /dev/null).
 */
class LineBatch {
  private lines: string[] = [];
  private size = 0;

  constructor(private readonly out: SonicBoom) {}

  write(line: string): boolean {
    this.lines.push(line);
    this.size += line.length;
    if (this.size >= BATCH_BYTES) this.handOn();
    return true;
  }

  flush(cb?: (err?: Error) => void): void {
    this.handOn();
    this.out.flush(cb);
  }

  /**
   * At exit. An idle sonic-boom handed a block starts an asynchronous write at once, which neither its flushSync nor
   * the exiting process waits for. Switched to synchronous writes first, it writes the block (and anything queued)
   * before returning, through its own handling of partial writes and EAGAIN.
   */
  flushSync(): void {
    this.out.sync = true;
    this.handOn();
    this.out.flushSync();
  }

  private handOn(): void {
    if (this.lines.length === 0) return;
    const block = this.lines.length === 1 ? this.lines[0]! : this.lines.join('');
    this.lines = [];
    this.size = 0;
    // In buffer mode sonic-boom takes Buffers (its types say string).
    this.out.write(Buffer.from(block) as unknown as string);
  }
}

/**
 * Where log lines go: asynchronous and buffered (written in blocks of 16 KiB rather than a write per line, which on
 * the request path cost a syscall and a thread-pool hop per request), flushed at least every second so a quiet
 * sidecar's lines still show up promptly, and on exit.
 */
export function logDestination(dest: number | string = 1): DestinationStream {
  // minLength 1: each block is written as it comes, and flush(cb) still waits until what is pending is out.
  const stream = new LineBatch(
    pino.destination({ dest, sync: false, minLength: 1, contentMode: 'buffer' }) as SonicBoom,
  );
  const timer = setInterval(() => {
    try {
      stream.flush();
    } catch {
      // Not ready yet (still opening) or already closed: the next tick or the exit flush writes it.
    }
  }, 1000);
  timer.unref();
  process.once('exit', () => {
    clearInterval(timer);
    try {
      stream.flushSync();
    } catch {
      // Nothing buffered, or the stream never opened.
    }
  });
  return stream;
}

/**
 * pino's isoTime, kept for the millisecond it names: formatting a Date is a visible share of a log line's cost, and
 * at a few thousand requests a second several lines share each millisecond.
 */
let lastMs = Number.NaN;
let lastTime = '';
export function isoTime(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastTime = `,"time":"${new Date(ms).toISOString()}"`;
  }
  return lastTime;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { component: 'sidecar' },
      redact: { paths: redactPaths, censor: '[redacted]' },
      timestamp: isoTime,
    },
    opts.destination ?? logDestination(),
  );
}

export type { Logger };

/**
 * For the long-running processes (sidecar, operator): Node's own warnings and a crash become JSON lines on the
 * logger instead of plain text on stderr, so their log stays one JSON object per line. A crash still exits 1.
 */
export function logProcessEvents(logger: Logger): void {
  // Removing Node's default listener is what stops its plain-text "(node:123) Warning: ..." output.
  process.removeAllListeners('warning');
  process.on('warning', (w) => logger.warn({ name: w.name, code: (w as { code?: string }).code }, w.message));
  const crash = (kind: string) => (e: unknown) => {
    logger.fatal({ err: e instanceof Error ? { message: e.message, stack: e.stack } : String(e) }, kind);
    // Exit once the line is out, and exit regardless if stdout cannot take it.
    setTimeout(() => process.exit(1), 1_000);
    logger.flush(() => process.exit(1));
  };
  process.on('uncaughtException', crash('uncaught exception'));
  process.on('unhandledRejection', crash('unhandled promise rejection'));
}
