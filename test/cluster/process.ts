/** A child process whose output goes to a log file, with an early-exit check, a log tail and a polite-then-firm stop. */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

/** A started process; `exited` is set once it is gone. */
export interface Managed {
  name: string;
  child: ChildProcess;
  logFile: string;
  exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
}

const running = new Set<Managed>();
// If the test runner dies without teardown, no apiserver or etcd may outlive it.
process.once('exit', () => {
  for (const m of running) m.child.kill('SIGKILL');
});

export function startProcess(name: string, command: string, args: string[], logFile: string): Managed {
  const fd = openSync(logFile, 'a');
  const child = spawn(command, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const m: Managed = { name, child, logFile, exited: undefined };
  running.add(m);
  child.on('exit', (code, signal) => {
    m.exited = { code, signal };
    running.delete(m);
  });
  child.on('error', (err) => {
    m.exited = { code: null, signal: null };
    running.delete(m);
    console.error(`${name}: ${err.message}`);
  });
  return m;
}

/** The last `lines` lines of the process log, for error messages. */
export function logTail(m: Managed, lines = 40): string {
  try {
    const text = readFileSync(m.logFile, 'utf8').trimEnd().split('\n');
    return text.slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopProcess(m: Managed, graceMs = 10_000): Promise<void> {
  if (m.exited) return;
  const gone = new Promise<void>((resolve) => m.child.once('exit', () => resolve()));
  m.child.kill('SIGTERM');
  const timer = setTimeout(() => m.child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}
