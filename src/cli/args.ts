/** Shared CLI scaffolding: flag parsing with --help and usage errors, host:port flags, and waiting for SIGTERM/SIGINT. */
import { parseArgs } from 'node:util';

export type CliValues = Record<string, string | boolean | undefined>;

/** Single-valued flags only (no `multiple`), so every value is a string or a boolean. */
export type CliOptions = Record<
  string,
  { type: 'string' | 'boolean'; short?: string; default?: string | boolean }
>;

/**
 * Parses `args` strictly against `options` (which must include `help`). Returns the values, or the exit code when
 * the command is done: 2 after printing a parse error and `help` to stderr, 0 after printing `help` for --help.
 */
export function parseCliArgs(args: string[], options: CliOptions, help: string): CliValues | number {
  let values: CliValues;
  try {
    ({ values } = parseArgs({ args, options, strict: true }));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${help}`);
    return 2;
  }
  if (values['help']) {
    process.stdout.write(help);
    return 0;
  }
  return values;
}

/** A flag's comma-separated list ("a, b,,c" is a, b, c): names trimmed, empty entries dropped. */
export function commaList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export interface HostPort {
  host: string;
  port: number;
}

/** "host:port" or "[v6]:port" (an empty host is loopback); with `barePort`, "port" alone too. */
export function parseHostPort(flag: string, value: string, barePort = false): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value) ?? (barePort ? /^()()(\d+)$/.exec(value) : null);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--${flag}: expected host:port, got "${value}"`);
  return { host: m[1] || m[2] || '127.0.0.1', port };
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;

/** A --log-level value, checked before it reaches pino (which throws a stack trace at an unknown one). */
export function parseLogLevel(value: string): string {
  if (!(LOG_LEVELS as readonly string[]).includes(value))
    throw new Error(`--log-level: expected one of ${LOG_LEVELS.join('|')}, got "${value}"`);
  return value;
}

/**
 * Resolves with the exit code once the first SIGTERM or SIGINT has run `stop`: 0 if it settled, 1 if it failed.
 * A second signal during shutdown is ignored.
 */
export function untilStopSignal(stop: (signal: string) => Promise<unknown>): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: string) => {
      if (stopping) return;
      stopping = true;
      stop(signal).then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    // `on`, not `once`: with the listener gone a second signal would kill the process mid-drain. A second SIGINT
    // is common: the terminal sends one and bin/tiermesh.js forwards its own when it re-ran on the bundled Node.
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));
  });
}
