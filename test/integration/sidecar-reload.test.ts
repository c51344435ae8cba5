/** Config swaps under load: in-flight requests finish on the version they started with; bad pushes change nothing. */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { compileManifests, parseManifests } from '../../src/config/manifests.js';
import { behave, type Fixture, startOpenAIFixture } from '../fixtures/providers/index.js';
import { routeConfig, SIMPLE_PROMPT } from '../helpers/config.js';
import { metricValue, startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

let oldUp: Fixture;
let newUp: Fixture;
let sidecar: TestSidecar;
let client: OpenAI;

const configFor = (up: Fixture) =>
  routeConfig({
    upstreams: [{ name: 'up', baseURL: up.baseURL }],
    cheap: [{ name: 'small-model', upstreams: ['up'] }],
    premium: [{ name: 'big-model', upstreams: ['up'] }],
  });

beforeAll(async () => {
  oldUp = await startOpenAIFixture();
  newUp = await startOpenAIFixture();
  oldUp.fallback(behave.ok('old upstream'));
  newUp.fallback(behave.ok('new upstream'));
  sidecar = await startTestSidecar(configFor(oldUp), { logPrompts: true });
  client = new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'x', maxRetries: 0 });
});
afterAll(async () => {
  await sidecar?.close();
  await oldUp?.close();
  await newUp?.close();
});

describe('config swaps', () => {
  it('keeps an in-flight request on its version and sends the next one to the new config', async () => {
    oldUp.script([behave.slowFirstByte(800, 'old upstream, slowly')]);
    const calls = oldUp.calls.length;
    const inFlight = client.chat.completions.create({
      model: 'auto',
      messages: [{ role: 'user', content: SIMPLE_PROMPT }],
    });
    await vi.waitFor(() => expect(oldUp.calls.length).toBeGreaterThan(calls), {
      timeout: 10_000,
      interval: 10,
    });

    const next = compileManifests(parseManifests(configFor(newUp)));
    const applied = sidecar.store.apply(next);
    expect(applied).toEqual({ ok: true, version: next.version, changed: true });

    const after = await client.chat.completions.create({
      model: 'auto',
      messages: [{ role: 'user', content: SIMPLE_PROMPT }],
    });
    expect(after.choices[0]!.message.content).toBe('new upstream');
    expect((await inFlight).choices[0]!.message.content).toBe('old upstream, slowly');
    const text = await (await fetch(`${sidecar.url}/metrics`)).text();
    expect(metricValue(text, 'tiermesh_config_version_info', { version: next.version })).toBe(1);
  });

  it('refuses an invalid pushed snapshot with a reason and keeps serving', async () => {
    const running = sidecar.store.current!.snapshot;
    const bad = structuredClone(running);
    bad.version = 'broken';
    bad.routes[0]!.spec.models[0]!.targets[0]!.provider = 'nowhere';
    const r = sidecar.store.apply(bad);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain('spec.models[0].targets[0].provider');
    expect(sidecar.store.current!.snapshot.version).toBe(running.version);
    const still = await client.chat.completions.create({
      model: 'auto',
      messages: [{ role: 'user', content: SIMPLE_PROMPT }],
    });
    expect(still.choices[0]!.message.content).toBe('new upstream');
  });

  it('logs prompt text only because --log-prompts is on here', () => {
    const line = sidecar.logs.byMsg('request').at(-1)!;
    expect(line['prompt']).toBe(SIMPLE_PROMPT);
  });
});

describe('breakers across versions', () => {
  it('drops the breaker (and its metric series) of a provider a new version no longer names', async () => {
    const a = await startOpenAIFixture();
    const b = await startOpenAIFixture();
    const two = (first: Fixture, second: Fixture | undefined) =>
      routeConfig({
        upstreams: [
          { name: 'a', baseURL: first.baseURL },
          ...(second ? [{ name: 'b', baseURL: second.baseURL }] : []),
        ],
        cheap: [{ name: 'small-model', upstreams: second ? ['a', 'b'] : ['a'] }],
        premium: [{ name: 'big-model', upstreams: ['a'] }],
      });
    const s = await startTestSidecar(two(a, b));
    try {
      const c = new OpenAI({ baseURL: s.baseURL, apiKey: 'x', maxRetries: 0 });
      a.script([behave.error(500)]);
      await c.chat.completions.create({
        model: 'auto',
        messages: [{ role: 'user', content: SIMPLE_PROMPT }],
      });
      expect(b.calls).toHaveLength(1);
      // Another version with the same providers exports every breaker's state.
      expect(s.store.apply(compileManifests(parseManifests(`${two(a, b)}---\n${extraBudget}`))).ok).toBe(
        true,
      );
      const before = await (await fetch(`${s.url}/metrics`)).text();
      expect(
        metricValue(before, 'tiermesh_breaker_state', {
          route: 'default',
          provider: 'b',
          model: 'small-model',
        }),
      ).toBe(0);
      expect(s.breakers.states().map((x) => x.provider)).toEqual(['a', 'b']);

      expect(s.store.apply(compileManifests(parseManifests(two(a, undefined)))).ok).toBe(true);
      expect(s.breakers.states().map((x) => x.provider)).toEqual(['a']);
      const after = await (await fetch(`${s.url}/metrics`)).text();
      expect(
        metricValue(after, 'tiermesh_breaker_state', {
          route: 'default',
          provider: 'b',
          model: 'small-model',
        }),
      ).toBeUndefined();
      expect(
        metricValue(after, 'tiermesh_breaker_state', {
          route: 'default',
          provider: 'a',
          model: 'small-model',
        }),
      ).toBe(0);
    } finally {
      await s.close();
      await a.close();
      await b.close();
    }
  });
});

const extraBudget = `apiVersion: tiermesh.dev/v1alpha1
kind: ModelBudget
metadata: { name: extra, namespace: test }
spec: { window: { period: daily, timezone: UTC }, limit: { usd: 100 } }
`;
