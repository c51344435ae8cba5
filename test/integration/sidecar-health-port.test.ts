/**
 * `tiermesh sidecar --health-listen` as a real process: the probe-only listener the kubelet's httpGet probes dial
 * on the pod IP answers GET /healthz and /readyz and nothing else; the chat API, /v1/models and /metrics are
 * only on the loopback API listener.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Fixture, startOpenAIFixture } from '../fixtures/providers/index.js';
import { type SidecarRun, spawnSidecar } from '../helpers/cli.js';
import { routeConfig, SIMPLE_PROMPT } from '../helpers/config.js';

let dir: string;
let up: Fixture;
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tiermesh-health-'));
  up = await startOpenAIFixture();
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await up?.close();
  rmSync(dir, { recursive: true, force: true });
});

function sidecar(args: string[]): SidecarRun {
  const run = spawnSidecar(args);
  children.push(run.child);
  return run;
}
type Run = SidecarRun;

const WAIT = { timeout: 30_000, interval: 50 };
const urlFrom = (r: Run, pattern: RegExp) =>
  vi.waitFor(() => {
    const url = pattern.exec(r.stdout())?.[1];
    if (!url) throw new Error(`no ${pattern} line yet`);
    return url;
  }, WAIT);
const apiUrl = (r: Run) => urlFrom(r, /listening on (http:\/\/\S+)\/v1/);
const healthUrl = (r: Run) => urlFrom(r, /health probes on (http:\/\/\S+)\/healthz/);

/** A loopback port nothing listens on: the operator of a sidecar that must stay unready. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('tiermesh sidecar --health-listen', () => {
  it('serves only GET /healthz and /readyz; the API, /v1/models and /metrics are not reachable there', async () => {
    const file = join(dir, 'route.yaml');
    writeFileSync(
      file,
      routeConfig({
        upstreams: [{ name: 'up', baseURL: up.baseURL }],
        cheap: [{ name: 'small-model', upstreams: ['up'] }],
        premium: [{ name: 'big-model', upstreams: ['up'] }],
      }),
    );
    const r = sidecar(['--config', file, '--listen', '127.0.0.1:0', '--health-listen', '127.0.0.1:0']);
    const api = await apiUrl(r);
    const health = await healthUrl(r);
    expect(health).not.toBe(api);

    expect(await (await fetch(`${health}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${health}/readyz?verbose=1`);
    expect(ready.status).toBe(200);
    // The same answer as the API's own /readyz: one source for both listeners.
    const apiReady = (await (await fetch(`${api}/readyz`)).json()) as { configVersion: string };
    expect(await ready.json()).toEqual({ status: 'ready', configVersion: apiReady.configVersion });
    expect((await fetch(`${health}/readyz`, { method: 'HEAD' })).status).toBe(200);

    const calls = up.calls.length;
    for (const [method, path] of [
      ['GET', '/v1/models'],
      ['GET', '/models'],
      ['GET', '/metrics'],
      ['GET', '/'],
      ['GET', '/healthz/x'],
      ['POST', '/healthz'],
      ['POST', '/v1/feedback'],
    ] as const) {
      const res = await fetch(`${health}${path}`, { method });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(((await res.json()) as { error: { message: string } }).error.message).toBe(
        'only GET /healthz and /readyz are served here',
      );
    }
    // A real client pointed at the health port gets a 404 and no provider is called.
    const stray = new OpenAI({ baseURL: `${health}/v1`, apiKey: 'x', maxRetries: 0 });
    await expect(
      stray.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: SIMPLE_PROMPT }] }),
    ).rejects.toMatchObject({ status: 404 });
    expect(up.calls.length).toBe(calls);

    // The API listener still serves everything.
    const client = new OpenAI({ baseURL: `${api}/v1`, apiKey: 'x', maxRetries: 0 });
    const answer = await client.chat.completions.create({
      model: 'auto',
      messages: [{ role: 'user', content: SIMPLE_PROMPT }],
    });
    expect(answer.choices[0]?.message.content).toBeTypeOf('string');
    expect(up.calls.length).toBe(calls + 1);
    expect((await fetch(`${api}/metrics`)).status).toBe(200);

    r.child.kill('SIGTERM');
    expect(await r.exited).toBe(0);
    await expect(fetch(`${health}/healthz`)).rejects.toThrow();
    expect(r.stderr()).toBe('');
  });

  it('is live but not ready while no config has come from the operator', async () => {
    const token = join(dir, 'token');
    writeFileSync(token, 'not-a-real-token');
    const r = sidecar([
      '--operator',
      `http://127.0.0.1:${await closedPort()}`,
      '--token-file',
      token,
      '--listen',
      '127.0.0.1:0',
      '--health-listen',
      '127.0.0.1:0',
    ]);
    const health = await healthUrl(r);
    expect((await fetch(`${health}/healthz`)).status).toBe(200);
    const ready = await fetch(`${health}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'not ready', reason: 'no config loaded' });
    r.child.kill('SIGTERM');
    expect(await r.exited).toBe(0);
  });

  it('rejects a malformed --health-listen with exit code 2, naming the flag', async () => {
    const r = sidecar(['--config', 'x.yaml', '--health-listen', 'nonsense']);
    expect(await r.exited).toBe(2);
    expect(r.stderr()).toContain('health-listen');
  });
});
