/** Child processes for benchmarks: spawn (optionally pinned to a CPU), wait until ready, stop; all bounded in time. */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Child {
  pid: number;
  /** The last few KiB of the child's stdout and stderr, for reporting why it failed. */
  output(): string;
  exited(): boolean;
  stop(): Promise<void>;
}

let tasksetChecked: boolean | undefined;

/** Whether `taskset` exists and there are at least two CPUs to split between load and proxy. */
export function canPin(): boolean {
  if (tasksetChecked === undefined) {
    try {
      execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
      tasksetChecked = true;
    } catch {
      tasksetChecked = false;
    }
  }
  return tasksetChecked;
}

/** Pins every thread of an already running process (this one, by default) to one CPU. */
export function pinProcess(cpu: number, pid = process.pid): boolean {
  if (!canPin()) return false;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface LaunchOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Run the child (and everything it starts) on this CPU only. */
  cpu?: number;
  /** Where its stdout and stderr go (default: a file in the temp directory). */
  logFile?: string;
}

let launched = 0;
/** Process groups started by launch() and not yet exited, for killAllLaunched(). */
const running = new Set<number>();

/** Ends every process group launch() started that is still running (when the benchmark itself is interrupted). */
export function killAllLaunched(): void {
  for (const pid of running) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  running.clear();
}

/** The last `bytes` of a file, or '' if it cannot be read. */
function tailOf(path: string, bytes: number): string {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    const len = Math.min(size, bytes);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    return buf.toString('utf8');
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function launch(command: string, args: string[], opts: LaunchOptions = {}): Child {
  const pinned = opts.cpu !== undefined && canPin();
  // taskset execs the command, so the pid we get is the command's own.
  const [cmd, argv] = pinned ? ['taskset', ['-c', String(opts.cpu), command, ...args]] : [command, args];
  // Output goes to a file, not through this process: a proxy's per-request log lines must not cost the load
  // generator's CPU.
  const logFile = opts.logFile ?? join(tmpdir(), `tiermesh-bench-${process.pid}-${++launched}.log`);
  const out = openSync(logFile, 'w');
  const child: ChildProcess = spawn(cmd, argv, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', out, out],
    // Its own process group, so stop() also ends whatever workers it started, and nothing else.
    detached: true,
  });
  closeSync(out);
  let spawnError = '';
  let done = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      done = true;
      resolve();
    });
    child.once('error', (err) => {
      spawnError = `\n${err.message}`;
      done = true;
      resolve();
    });
  });
  if (child.pid !== undefined) running.add(child.pid);
  void exit.then(() => child.pid !== undefined && running.delete(child.pid));
  return {
    pid: child.pid ?? -1,
    output: () => tailOf(logFile, 4096) + spawnError,
    exited: () => done,
    async stop() {
      if (done || child.pid === undefined) return;
      const signal = (s: NodeJS.Signals) => {
        try {
          process.kill(-child.pid!, s);
        } catch {
          // already gone
        }
      };
      signal('SIGTERM');
      const killed = await Promise.race([exit.then(() => true), sleep(5000).then(() => false)]);
      if (!killed) {
        signal('SIGKILL');
        await Promise.race([exit, sleep(2000)]);
      }
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits for the `{"listening":port}` line our own servers print on start. */
export async function waitListening(child: Child, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const m = /\{"listening":(\d+)\}/.exec(child.output());
    if (m) return Number(m[1]);
    if (child.exited()) throw new Error(`exited before listening: ${child.output().slice(-1000)}`);
    await sleep(50);
  }
  throw new Error(`not listening after ${timeoutMs} ms: ${child.output().slice(-1000)}`);
}

/** Polls url until it answers with a status below 500, or the child exits, or time runs out. */
export async function waitHttp(url: string, child: Child, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (child.exited()) throw new Error(`exited during start: ${child.output().slice(-1500)}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status < 500) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(200);
  }
  throw new Error(`not ready after ${timeoutMs} ms (${last}): ${child.output().slice(-1500)}`);
}

/** A loopback port that was free a moment ago (for servers that cannot report the port they bound). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
