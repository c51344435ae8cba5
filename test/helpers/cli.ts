/** Runs `tiermesh <args>` as a real process to completion (via tsx, from the repo root) and returns its exit code and output. */
import { execFile } from 'node:child_process';
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
