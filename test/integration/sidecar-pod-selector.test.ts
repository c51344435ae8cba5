/**
 * spec.podSelector in the sidecar, as a real `tiermesh sidecar` process: told its pod's labels in
 * TIERMESH_POD_LABELS (as the injector does), it runs only the routes that select the pod, so `model: "auto"`
 * never lands on another app's route.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { spawnSidecar } from '../helpers/cli.js';

let dir: string;
const children: ChildProcess[] = [];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tiermesh-podsel-'));
});
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const route = (name: string, app: string) => `apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name}, namespace: team }
spec:
  podSelector: { matchLabels: { app: ${app} } }
  providers: [{ name: sim, type: simulated, simulated: { latencyMs: 0, tokensPerSecond: 100000 } }]
  models: [{ name: ${name}-model, targets: [{ provider: sim }], pricing: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 8000 }]
  tiers: [{ name: only, models: [${name}-model] }]
`;

function start(labels: string | undefined) {
  const file = join(dir, 'routes.yaml');
  // billing sorts first, so without the filter it would be the default route of every pod.
  writeFileSync(file, `${route('billing', 'billing')}---\n${route('frontend', 'frontend')}`);
  const run = spawnSidecar(
    ['--config', file, '--listen', '127.0.0.1:0'],
    [],
    labels === undefined ? {} : { TIERMESH_POD_LABELS: labels },
  );
  children.push(run.child);
  return run;
}

const WAIT = { timeout: 30_000, interval: 50 };

describe('tiermesh sidecar with TIERMESH_POD_LABELS', () => {
  it("serves only its pod's routes: model auto and /v1/models never reach another app's route", async () => {
    const r = start(JSON.stringify({ app: 'frontend', 'pod-template-hash': '5d8f' }));
    const url = await vi.waitFor(() => {
      const u = /listening on (http:\/\/\S+)\/v1/.exec(r.stdout())?.[1];
      if (!u) throw new Error(`not listening yet: ${r.stderr()}`);
      return u;
    }, WAIT);
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0 });
    const answer = await client.chat.completions.create({
      model: 'auto',
      messages: [{ role: 'user', content: 'hello' }],
    });
    expect(answer.model).toBe('frontend-model');
    const ids: string[] = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toContain('frontend-model');
    expect(ids).not.toContain('billing-model');
    expect(ids).not.toContain('billing');
    await expect(
      client.chat.completions.create({ model: 'billing', messages: [{ role: 'user', content: 'hi' }] }),
    ).rejects.toMatchObject({ status: 404 });
    r.child.kill('SIGTERM');
    expect(await r.exited).toBe(0);
  });

  it('refuses to start when no route selects the pod, and on labels that are not a JSON object', async () => {
    const none = start(JSON.stringify({ app: 'web' }));
    expect(await none.exited).toBe(1);
    // A start-up failure is one fatal JSON line on stdout (the log), not plain text on stderr.
    expect(none.stdout()).toMatch(/"level":60,.*no route selects this pod/);
    const bad = start('app=web');
    expect(await bad.exited).toBe(2);
    expect(bad.stderr()).toContain('TIERMESH_POD_LABELS');
  });
});
