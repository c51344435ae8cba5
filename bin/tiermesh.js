#!/usr/bin/env node
// Entry point for the `tiermesh` command; the CLI itself lives in cmd/tiermesh.ts (built to dist/).
//
// It runs on whatever `node` the shell finds first, which on many machines is older than package.json's
// `engines` (undici crashes on Node 20). So before loading anything it checks the running version and, when too
// old, runs itself again with the Node 22 the npm `node` package bundles (node_modules/node), passing arguments,
// stdio, signals and the exit status through; with no such Node it says so in one line. Plain JS that Node 18+
// can parse, and nothing imported from dist/ until the version is right.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const REEXEC_ENV = 'TIERMESH_NODE_REEXEC';
// Forwarded to the child; the terminal also sends SIGINT to it directly, and a second SIGINT is ignored there.
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'];

/** "22.19.0" or "v22.19.0" as [22, 19, 0]. */
function parseVersion(v) {
  return String(v)
    .replace(/^v/, '')
    .split('.')
    .map((n) => Number.parseInt(n, 10) || 0);
}

function compare(a, b) {
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
  return 0;
}

/** Whether `version` satisfies an engines range of `||`-separated sets of >=, >, <=, <, = comparators. */
function satisfies(version, range) {
  const v = parseVersion(version);
  return range.split('||').some((set) =>
    set
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .every((c) => {
        const m = /^(>=|<=|>|<|=)?v?(\d+(?:\.\d+){0,2})$/.exec(c);
        if (!m) return true; // a comparator this check does not understand is left to npm
        const d = compare(v, parseVersion(m[2]));
        return { '>=': d >= 0, '<=': d <= 0, '>': d > 0, '<': d < 0, '=': d === 0 }[m[1] ?? '='];
      }),
  );
}

/** The bundled Node binary's real path, found the way `import 'node'` would find the package, or undefined. */
function bundledNode() {
  try {
    const pkgPath = createRequire(join(root, 'package.json')).resolve('node/package.json');
    const pkg = JSON.parse(readFileSync(pkgPath, 'utf8'));
    const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.node;
    const path = bin && join(dirname(pkgPath), bin);
    return path && existsSync(path) ? realpathSync(path) : undefined;
  } catch {
    return undefined;
  }
}

function runWith(nodePath) {
  const child = spawn(
    nodePath,
    [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    {
      stdio: 'inherit',
      env: { ...process.env, [REEXEC_ENV]: '1' },
    },
  );
  const forward = (signal) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  for (const s of FORWARDED) process.on(s, forward);
  child.on('error', (e) => {
    process.stderr.write(`tiermesh: cannot start ${nodePath}: ${e.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    for (const s of FORWARDED) process.off(s, forward);
    // Die of the same signal, so a supervisor sees what the real process saw.
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
}

const range = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).engines?.node;
if (range && !satisfies(process.version, range)) {
  const node = process.env[REEXEC_ENV] ? undefined : bundledNode();
  if (node) runWith(node);
  else {
    process.stderr.write(
      `tiermesh: needs Node ${range} (package.json engines) but runs on ${process.version}, and no bundled Node ` +
        `was found in node_modules/node: run \`npm install\` (or \`make build\`) or put Node 22 first on PATH\n`,
    );
    process.exit(1);
  }
} else if (!existsSync(join(root, 'dist', 'cmd', 'tiermesh.js'))) {
  process.stderr.write('tiermesh: dist/ is not built: run `make build` first\n');
  process.exit(1);
} else {
  await import('../dist/cmd/tiermesh.js');
}
