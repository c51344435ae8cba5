/** Runs `tiermesh <args>` as a real process to completion (via tsx, from the repo root) and returns its exit code and output. */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** The repository root: the CLI runs from here, and tests read examples/ from it. */
export const repoRoot = join(import.meta.dirname, '..', '..');

export const runTiermesh = (args: string[]) =>
  promisify(execFile)(
    join(repoRoot, 'node_modules', '.bin', 'tsx'),
    [join(repoRoot, 'cmd', 'tiermesh.ts'), ...args],
    {
      cwd: repoRoot,
    },
  ).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );

/** A `tiermesh sidecar` process started by spawnSidecar: its output so far, and its exit. */
export interface SidecarRun {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/**
 * Starts `tiermesh sidecar <args>` as a real process (via tsx, from the repo root, with no provider keys in its
 * environment) and collects its output; the caller kills it.
 */
export function spawnSidecar(
  args: string[],
  nodeArgs: string[] = [],
  env: Record<string, string> = {},
): SidecarRun {
  const child = spawn(
    process.execPath,
    [...nodeArgs, '--import', 'tsx', 'cmd/tiermesh.ts', 'sidecar', ...args],
    {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, OPENAI_API_KEY: '', ANTHROPIC_API_KEY: '', ...env },
    },
  );
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}
