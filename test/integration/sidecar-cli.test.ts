/** `tiermesh sidecar` as a real process: config errors, listening URL, SIGHUP reload, graceful SIGTERM drain. */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { behave, type Fixture, startOpenAIFixture } from '../fixtures/providers/index.js';
import { type SidecarRun, spawnSidecar } from '../helpers/cli.js';
import { routeConfig, SIMPLE_PROMPT } from '../helpers/config.js';

let dir: string;
let up: Fixture;
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tiermesh-cli-'));
  up = await startOpenAIFixture();
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await up?.close();
  rmSync(dir, { recursive: true, force: true });
});

type Run = SidecarRun;

function sidecar(args: string[], nodeArgs: string[] = []): Run {
  const run = spawnSidecar(args, nodeArgs);
  children.push(run.child);
  return run;
}

const WAIT = { timeout: 30_000, interval: 50 };
const listening = (r: Run) =>
  vi.waitFor(() => {
    const url = /listening on (http:\/\/\S+)\/v1/.exec(r.stdout())?.[1];
    if (!url) throw new Error('no listening line yet');
    return url;
  }, WAIT);
const readyVersion = async (url: string) =>
  ((await (await fetch(`${url}/readyz`)).json()) as { configVersion: string }).configVersion;
const logLines = (r: Run) =>
  r
    .stdout()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { level: number; msg: string; version?: string });

const config = (models: string[]) =>
  routeConfig({
    upstreams: [{ name: 'up', baseURL: up.baseURL }],
    cheap: [{ name: models[0]!, upstreams: ['up'] }],
    premium: models.slice(1).map((name) => ({ name, upstreams: ['up'] })),
  });

describe('tiermesh sidecar', () => {
  it('refuses an invalid config, listing every bad field, with exit code 1', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      config(['small-model', 'big-model'])
        .replace('contextWindow: 128000', 'contextWindow: 5')
        .replace('type: openai-compatible', 'type: carrier-pigeon'),
    );
    const r = sidecar(['--config', file, '--listen', '127.0.0.1:0']);
    expect(await r.exited).toBe(1);
    expect(r.stderr()).toContain('spec.models[0].contextWindow');
    expect(r.stderr()).toContain('spec.providers[0].type');
    expect(r.stdout()).toBe('');
  });

  it('rejects bad flags with exit code 2', async () => {
    const r = sidecar(['--config', 'x.yaml', '--listen', 'nonsense']);
    expect(await r.exited).toBe(2);
    expect(r.stderr()).toContain('--listen');
  });

  it('serves, reloads on SIGHUP (keeping the old config when the new one is bad), drains on SIGTERM', async () => {
    const file = join(dir, 'good.yaml');
    writeFileSync(file, config(['small-model', 'big-model']));
    const r = sidecar(['--config', file, '--listen', '127.0.0.1:0']);
    const url = await listening(r);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0 });
    const v1 = await readyVersion(url);

    writeFileSync(file, config(['small-model', 'big-model', 'huge-model']));
    r.child.kill('SIGHUP');
    const v2 = await vi.waitFor(async () => {
      const v = await readyVersion(url);
      expect(v).not.toBe(v1);
      return v;
    }, WAIT);
    const ids: string[] = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toContain('huge-model');

    writeFileSync(
      file,
      'apiVersion: tiermesh.dev/v1alpha1\nkind: ModelRoute\nmetadata: { name: x }\nspec: {}\n',
    );
    r.child.kill('SIGHUP');
    await vi.waitFor(() => expect(r.stdout()).toContain('config reload failed'), WAIT);
    const still = await readyVersion(url);
    expect(still).toBe(v2);

    // A request in flight when SIGTERM arrives still gets its answer; new connections are refused.
    up.script([behave.slowFirstByte(1500, 'finished while draining')]);
    const calls = up.calls.length;
    const inFlight = client.chat.completions.create({
      model: 'auto',
      messages: [{ role: 'user', content: SIMPLE_PROMPT }],
    });
    await vi.waitFor(() => expect(up.calls.length).toBeGreaterThan(calls), WAIT);
    r.child.kill('SIGTERM');
    await vi.waitFor(() => expect(r.stdout()).toContain('draining'), WAIT);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    const answer = await inFlight;
    expect(answer.choices[0]!.message.content).toBe('finished while draining');
    expect(await r.exited).toBe(0);

    // Log hygiene: stdout is JSON lines only; each version is "config applied" once; the one line above info is
    // the refused reload (a clean shutdown warns about nothing).
    const lines = logLines(r);
    expect(lines.filter((l) => l.msg === 'config applied').map((l) => l.version)).toEqual([v1, v2]);
    expect(lines.filter((l) => l.level >= 40).map((l) => l.msg)).toEqual([
      'config reload failed; still serving the previous version',
    ]);
    expect(r.stderr()).toBe('');
  });

  it('--drain-seconds bounds the drain: a request still running then is cut, and the process exits', async () => {
    expect(await sidecar(['--config', 'x.yaml', '--drain-seconds', '-1']).exited).toBe(2);
    const file = join(dir, 'drain.yaml');
    writeFileSync(file, config(['small-model', 'big-model']));
    const r = sidecar(['--config', file, '--listen', '127.0.0.1:0', '--drain-seconds', '0.2']);
    const url = await listening(r);
    up.script([behave.slowFirstByte(15_000, 'too late')]);
    const calls = up.calls.length;
    const inFlight = fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: SIMPLE_PROMPT }] }),
    }).then(
      () => 'answered',
      () => 'cut',
    );
    await vi.waitFor(() => expect(up.calls.length).toBeGreaterThan(calls), WAIT);
    r.child.kill('SIGTERM');
    // Far below the 15 s the upstream takes and the default 20 s drain: the 0.2 s given here is what ended it.
    expect(
      await Promise.race([r.exited, new Promise((res) => setTimeout(() => res('still draining'), 8_000))]),
    ).toBe(0);
    expect(await inFlight).toBe('cut');
  });

  it('a SIGHUP with an unchanged file logs that, not a second "config applied"', async () => {
    const file = join(dir, 'same.yaml');
    writeFileSync(file, config(['small-model', 'big-model']));
    const r = sidecar(['--config', file, '--listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0']);
    await listening(r);
    await vi.waitFor(() => expect(r.stdout()).toContain('metrics on'), WAIT);
    r.child.kill('SIGHUP');
    await vi.waitFor(() => expect(r.stdout()).toContain('config file re-read: unchanged'), WAIT);
    r.child.kill('SIGINT');
    expect(await r.exited).toBe(0);
    const lines = logLines(r);
    expect(lines.filter((l) => l.msg === 'config applied')).toHaveLength(1);
    expect(lines.filter((l) => l.level >= 40)).toEqual([]);
    expect(r.stderr()).toBe('');
  });

  it("Node's own warnings become JSON log lines, not plain text on stderr", async () => {
    const file = join(dir, 'warn.yaml');
    writeFileSync(file, config(['small-model', 'big-model']));
    // A warning raised inside the real process once it runs (on SIGUSR2, so after start-up), the way a
    // deprecated API in a dependency would.
    const onSignal =
      "process.on('SIGUSR2', () => process.emitWarning('something is deprecated', 'DeprecationWarning', 'DEP0999'))";
    const r = sidecar(
      ['--config', file, '--listen', '127.0.0.1:0'],
      ['--import', `data:text/javascript,${encodeURIComponent(onSignal)}`],
    );
    await listening(r);
    r.child.kill('SIGUSR2');
    await vi.waitFor(() => expect(r.stdout()).toContain('something is deprecated'), WAIT);
    r.child.kill('SIGTERM');
    expect(await r.exited).toBe(0);
    expect(logLines(r).find((l) => l.msg === 'something is deprecated')).toMatchObject({
      level: 40,
      name: 'DeprecationWarning',
      code: 'DEP0999',
    });
    expect(r.stderr()).toBe('');
  });
});

describe('tiermesh sidecar --decision-log', () => {
  it('writes every decision and feedback to the log, flushed on SIGTERM, without prompt text', async () => {
    const file = join(dir, 'dl.yaml');
    writeFileSync(file, config(['small-model', 'big-model']));
    const log = join(dir, 'decisions.jsonl');
    const r = sidecar([
      '--config',
      file,
      '--listen',
      '127.0.0.1:0',
      '--decision-log',
      log,
      '--feedback-rpm',
      '10',
    ]);
    const url = await listening(r);
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0 });
    const res = await client.chat.completions
      .create({ model: 'auto', messages: [{ role: 'user', content: SIMPLE_PROMPT }] })
      .withResponse();
    const id = res.response.headers.get('x-request-id')!;
    const fb = await fetch(`${url}/v1/feedback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ request_id: id, rating: 'up' }),
    });
    expect(fb.status).toBe(202);
    r.child.kill('SIGTERM');
    expect(await r.exited).toBe(0);
    const text = readFileSync(log, 'utf8');
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; requestId: string });
    expect(lines.map((l) => [l.type, l.requestId])).toEqual([
      ['decision', id],
      ['feedback', id],
    ]);
    expect(text).not.toContain(SIMPLE_PROMPT);
  });

  it('refuses bad feedback flags and an unopenable log at start-up', async () => {
    const file = join(dir, 'dl2.yaml');
    writeFileSync(file, config(['small-model', 'big-model']));
    const bad = sidecar(['--config', file, '--listen', '127.0.0.1:0', '--decisions-size', '0']);
    expect(await bad.exited).toBe(2);
    expect(bad.stderr()).toContain('--decisions-size');
    const missing = sidecar([
      '--config',
      file,
      '--listen',
      '127.0.0.1:0',
      '--decision-log',
      join(dir, 'no/such/dir.jsonl'),
    ]);
    expect(await missing.exited).toBe(1);
    // One fatal JSON line on stdout naming the flag, not Node's plain-text error.
    const fatal = logLines(missing).find((l) => l.level === 60);
    expect(fatal?.msg).toContain(`--decision-log ${join(dir, 'no/such/dir.jsonl')}: ENOENT`);
    expect(missing.stderr()).toBe('');
  });

  it('serves the chat API on loopback only unless told otherwise, and checks --log-level', async () => {
    const file = join(dir, 'remote.yaml');
    writeFileSync(file, config(['small-model', 'big-model']));
    const remote = sidecar(['--config', file, '--listen', '0.0.0.0:0']);
    expect(await remote.exited).toBe(2);
    expect(remote.stderr()).toContain('--listen: 0.0.0.0 is not a loopback address');
    expect(remote.stderr()).toContain('--allow-remote');
    const v6 = sidecar(['--config', file, '--listen', '[::]:0']);
    expect(await v6.exited).toBe(2);
    const level = sidecar(['--config', file, '--listen', '127.0.0.1:0', '--log-level', 'loud']);
    expect(await level.exited).toBe(2);
    expect(level.stderr().trim()).toBe(
      '--log-level: expected one of trace|debug|info|warn|error, got "loud"',
    );
  });

  it('says once, at warn, that a provider key file cannot be read (its targets are skipped), never the key', async () => {
    const file = join(dir, 'keyfile.yaml');
    const keyFile = join(dir, 'missing-key');
    writeFileSync(
      file,
      config(['small-model', 'big-model']).replace(
        '      type: openai-compatible\n',
        `      type: openai-compatible\n      apiKey: { file: ${keyFile} }\n`,
      ),
    );
    const r = sidecar(['--config', file, '--listen', '127.0.0.1:0']);
    await listening(r);
    r.child.kill('SIGTERM');
    expect(await r.exited).toBe(0);
    const warns = logLines(r).filter((l) => l.level === 40);
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatchObject({
      msg: 'provider API key cannot be read: its targets are skipped until it can',
      provider: 'up',
      why: `file ${keyFile} cannot be read (ENOENT)`,
    });
  });

  it('a port already in use is one fatal line naming the flag, exit code 1', async () => {
    const file = join(dir, 'busy.yaml');
    writeFileSync(file, config(['small-model', 'big-model']));
    const first = sidecar(['--config', file, '--listen', '127.0.0.1:0']);
    const url = await listening(first);
    const port = new URL(url).port;
    const second = sidecar([
      '--config',
      file,
      '--listen',
      '127.0.0.1:0',
      '--metrics-listen',
      `127.0.0.1:${port}`,
    ]);
    expect(await second.exited).toBe(1);
    const fatal = logLines(second).find((l) => l.level === 60);
    expect(fatal?.msg).toContain(`--metrics-listen 127.0.0.1:${port}: listen EADDRINUSE`);
    expect(second.stderr()).toBe('');
    const third = sidecar(['--config', file, '--listen', `127.0.0.1:${port}`]);
    expect(await third.exited).toBe(1);
    expect(logLines(third).find((l) => l.level === 60)?.msg).toContain(
      `--listen 127.0.0.1:${port}: listen EADDRINUSE`,
    );
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
  });
});
