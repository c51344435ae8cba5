/** The sidecar's pino logger: JSON lines, secrets redacted, prompt text only when explicitly enabled. */
import { type DestinationStream, type Logger, pino } from 'pino';

export interface LoggerOptions {
  level?: string;
  /** Where lines go; stdout by default. Tests pass a stream to read the lines back. */
  destination?: DestinationStream;
}

/** Paths that may hold credentials, wherever a header bag or provider config ends up in a log object. */
export const redactPaths = [
  'req.headers.authorization',
  'req.headers["api-key"]',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["api-key"]',
  'headers["x-api-key"]',
  'apiKey',
  '*.apiKey',
];

export function createLogger(opts: LoggerOptions = {}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { component: 'sidecar' },
      redact: { paths: redactPaths, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    opts.destination ?? pino.destination({ dest: 1, sync: false }),
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
