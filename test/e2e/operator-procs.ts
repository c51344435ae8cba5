/** Real `tiermesh operator` and `tiermesh sidecar` processes for the operator e2e tests, on loopback. */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished, vi } from 'vitest';
import { freshNamespace, serviceAccountToken } from '../cluster/fixtures.js';

const root = join(import.meta.dirname, '../..');
const all = new Set<ChildProcess>();

export interface Proc {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  /** SIGKILL: no lease release, no drain. */
  kill(): Promise<void>;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
}

export function spawnTiermesh(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cmd/tiermesh.ts', ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, OPENAI_API_KEY: '', ANTHROPIC_API_KEY: '', ...env },
  });
  all.add(child);
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((r) =>
    child.once('exit', (code) => {
      all.delete(child);
      r(code);
    }),
  );
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    await exited;
  };
  return { child, output: () => out, exited, kill: () => end('SIGKILL'), stop: () => end('SIGTERM') };
}

/** Kills every process still running (afterAll). */
export async function killAll(): Promise<void> {
  await Promise.all(
    [...all].map(async (c) => {
      c.kill('SIGKILL');
      if (c.exitCode === null && c.signalCode === null) await once(c, 'exit');
    }),
  );
}

export async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  s.close();
  await once(s, 'close');
  return port;
}

export async function waitForOutput(p: Proc, pattern: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> {
  const found = await vi
    .waitFor(
      () => {
        const m = pattern.exec(p.output());
        if (m) return m;
        // A process that died will never print it: stop waiting (vi.waitFor retries only on a throw).
        if (p.child.exitCode !== null) return 'exited' as const;
        throw new Error(`no ${pattern} yet`);
      },
      { timeout: timeoutMs, interval: 50 },
    )
    .catch(() => {
      throw new Error(`timed out waiting for ${pattern}:\n${p.output()}`);
    });
  if (found === 'exited') throw new Error(`process exited (${p.child.exitCode}):\n${p.output()}`);
  return found;
}

/** The process's output as log lines: every line must be one JSON object (pino), or this throws naming it. */
export function logLines(p: Proc): Array<{ level: number; msg: string } & Record<string, unknown>> {
  return p
    .output()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        throw new Error(`not a JSON log line: ${l}`);
      }
    });
}

export async function startOperatorProc(opts: {
  kubeconfig: string;
  port: number;
  leaseNamespace: string;
  extraArgs?: string[];
}): Promise<Proc & { metricsUrl: string }> {
  const p = spawnTiermesh([
    'operator',
    '--kubeconfig',
    opts.kubeconfig,
    '--listen',
    `127.0.0.1:${opts.port}`,
    '--metrics',
    '127.0.0.1:0',
    '--lease-namespace',
    opts.leaseNamespace,
    '--lease-duration',
    '3',
    ...(opts.extraArgs ?? []),
  ]);
  const m = await waitForOutput(p, /metrics on (http:\/\/\S+)\/metrics/);
  await waitForOutput(p, /serving sidecars on/);
  return { ...p, metricsUrl: m[1]! };
}

export async function startSidecarProc(opts: {
  operator: string;
  tokenFile: string;
  stateDir: string;
  extraArgs?: string[];
}): Promise<Proc & { url: string }> {
  const p = spawnTiermesh([
    'sidecar',
    '--operator',
    opts.operator,
    '--token-file',
    opts.tokenFile,
    '--state-dir',
    opts.stateDir,
    '--listen',
    '127.0.0.1:0',
    ...(opts.extraArgs ?? []),
  ]);
  const m = await waitForOutput(p, /listening on (http:\/\/\S+)\/v1/);
  return { ...p, url: m[1]! };
}

/** Registers cleanup for processes started inside a test. */
export function stopAtEnd(p: Proc): void {
  try {
    onTestFinished(() => p.kill());
  } catch {
    // Outside a test: killAll in afterAll handles it.
  }
}

/**
 * What every operator e2e starts from: a fresh app namespace `<prefix>-…`, a fresh namespace `<prefix>-lease-…` for
 * the Lease, and a temp dir `tm-<prefix>-…` holding `token`, the app service account's token for audience tiermesh.
 */
export async function operatorTestBed(
  prefix: string,
): Promise<{ ns: string; leaseNs: string; dir: string; token: string; tokenFile: string }> {
  const ns = await freshNamespace(prefix);
  const leaseNs = await freshNamespace(`${prefix}-lease`);
  const token = await serviceAccountToken(ns, 'app', 'tiermesh');
  const dir = mkdtempSync(join(tmpdir(), `tm-${prefix}-`));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, token);
  return { ns, leaseNs, dir, token, tokenFile };
}
