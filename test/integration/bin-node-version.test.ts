/**
 * `node bin/tiermesh.js` on a Node older than package.json `engines` (the machine's default Node 20) re-runs
 * itself on the bundled Node 22, passing arguments, exit code and signals through; with no bundled Node it
 * refuses in one line. Runs the real bin/tiermesh.js with the first `node` on PATH outside node_modules.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { repoRoot } from '../helpers/cli.js';

const engines = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).engines.node as string;

/** The machine's own node: the first on PATH that is not a node_modules one, if it is older than 22. */
function machineNode(): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (!dir || dir.includes('node_modules')) continue;
    const candidate = join(dir, 'node');
    if (!existsSync(candidate)) continue;
    const version = execFileSync(candidate, ['--version'], { encoding: 'utf8' }).trim();
    return Number(version.replace(/^v/, '').split('.')[0]) < 22 ? candidate : undefined;
  }
  return undefined;
}
const oldNode = machineNode();

// What dist/cmd/tiermesh.js does in the copied package: obey its arguments, then report which Node runs it
// (the SIGTERM handler goes first: the test signals as soon as it reads the report).
const REPORTER = `
const [cmd, arg] = process.argv.slice(2);
if (cmd === 'exit') process.exitCode = Number(arg);
if (cmd === 'wait') {
  process.on('SIGTERM', () => { process.stdout.write('got SIGTERM\\n'); process.exit(Number(arg)); });
  setInterval(() => {}, 1000);
}
process.stdout.write(JSON.stringify({ version: process.version, args: process.argv.slice(2) }) + '\\n');
`;

let dir: string;
/** A copy of the package (bin/tiermesh.js, package.json engines) with or without node_modules/node. */
function makePackage(name: string, withBundledNode: boolean): string {
  const pkg = join(dir, name);
  mkdirSync(join(pkg, 'bin'), { recursive: true });
  mkdirSync(join(pkg, 'dist', 'cmd'), { recursive: true });
  cpSync(join(repoRoot, 'bin', 'tiermesh.js'), join(pkg, 'bin', 'tiermesh.js'));
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ type: 'module', engines: { node: engines } }));
  writeFileSync(join(pkg, 'dist', 'cmd', 'tiermesh.js'), REPORTER);
  if (withBundledNode) symlinkSync(join(repoRoot, 'node_modules'), join(pkg, 'node_modules'));
  return pkg;
}

let withNode: string;
let withoutNode: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tiermesh-bin-'));
  withNode = makePackage('with', true);
  withoutNode = makePackage('without', false);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const env = { ...process.env, TIERMESH_NODE_REEXEC: '' };
const run = (node: string, pkg: string, args: string[]) =>
  spawnSync(node, [join(pkg, 'bin', 'tiermesh.js'), ...args], { encoding: 'utf8', env });

describe.skipIf(!oldNode)(`bin/tiermesh.js on the machine's old Node (${oldNode})`, () => {
  it('re-runs on the bundled Node 22 with the same arguments and exit code', () => {
    const r = run(oldNode!, withNode, ['exit', '7', '--flag=a b']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(7);
    const seen = JSON.parse(r.stdout) as { version: string; args: string[] };
    expect(Number(seen.version.replace(/^v/, '').split('.')[0])).toBeGreaterThanOrEqual(22);
    expect(seen.args).toEqual(['exit', '7', '--flag=a b']);
  });

  it('forwards SIGTERM to the re-run process and exits with its code', async () => {
    const child = spawn(oldNode!, [join(withNode, 'bin', 'tiermesh.js'), 'wait', '3'], { env });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    await vi.waitFor(() => expect(out).toContain('"version"'), { timeout: 15_000, interval: 50 });
    child.kill('SIGTERM');
    expect(await exited).toBe(3);
    expect(out).toContain('got SIGTERM');
  });

  it('without a bundled Node says so in one line and exits 1', () => {
    const r = run(oldNode!, withoutNode, ['--help']);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`needs Node ${engines}`);
    expect(r.stderr).toContain(`runs on v`);
  });

  const built = existsSync(join(repoRoot, 'dist', 'cmd', 'tiermesh.js'));
  it.skipIf(!built)('the real CLI answers --help (built dist/)', () => {
    const r = run(oldNode!, repoRoot, ['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('usage: tiermesh <command>');
    expect(r.stdout).toContain('sidecar');
  });

  it.skipIf(!built)(
    'the README command serves a chat completion and drains on SIGTERM (built dist/)',
    async () => {
      const child = spawn(
        oldNode!,
        ['bin/tiermesh.js', 'sidecar', '--config', 'examples/standalone.yaml', '--listen', '127.0.0.1:0'],
        { cwd: repoRoot, env: { ...env, OPENAI_API_KEY: '', ANTHROPIC_API_KEY: '' } },
      );
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
      });
      child.stderr.on('data', (d) => {
        out += d;
      });
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      try {
        const url = await vi.waitFor(
          () => {
            const m = /listening on (http:\/\/\S+\/v1)/.exec(out);
            if (!m) throw new Error(`no listening line yet:\n${out}`);
            return m[1]!;
          },
          { timeout: 30_000, interval: 50 },
        );
        const client = new OpenAI({ baseURL: url, apiKey: 'x', maxRetries: 0 });
        const answer = await client.chat.completions.create({
          model: 'auto',
          messages: [{ role: 'user', content: 'hi there!' }],
        });
        expect(answer.choices[0]?.message.content).toBeTruthy();
      } finally {
        child.kill('SIGTERM');
      }
      expect(await exited).toBe(0);
      expect(out).not.toContain('TypeError');
    },
  );
});

describe('bin/tiermesh.js on a Node that satisfies engines', () => {
  it('runs in place, without a second process', () => {
    const r = run(process.execPath, withNode, ['exit', '0']);
    expect(r.status).toBe(0);
    expect((JSON.parse(r.stdout) as { version: string }).version).toBe(process.version);
  });
});
