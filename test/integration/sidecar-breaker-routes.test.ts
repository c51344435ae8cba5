/**
 * Circuit breakers are a route's own: two ModelRoutes of one namespace each name a provider `up` for the same model,
 * pointing at different upstreams. Route a's failing upstream opens a's breaker only; route b keeps being served by
 * its healthy upstream, and neither route's settings replace (and so unguard) the other's breaker.
 */
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { behave, type Fixture, startOpenAIFixture } from '../fixtures/providers/index.js';
import { metricValue, startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

const started: Array<Fixture | TestSidecar> = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.close()));
});

/** A route whose one model is served by the provider `up` at `baseURL`, its breaker opening after `volume` calls. */
const route = (name: string, baseURL: string, volume: number) => `
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name}, namespace: test }
spec:
  providers: [{ name: up, type: openai-compatible, baseURL: "${baseURL}" }]
  models: [{ name: gpt-4o-mini, targets: [{ provider: up }], pricing: { inputPerMTok: 1, outputPerMTok: 2 }, contextWindow: 128000 }]
  tiers: [{ name: cheap, models: [gpt-4o-mini] }]
  classifier: { mode: rules }
  resilience:
    retries: { attempts: 0, backoffMs: 10, maxBackoffMs: 50 }
    breaker: { errorThresholdPercentage: 50, volumeThreshold: ${volume}, resetTimeoutMs: 60000, rollingWindowMs: 60000 }
`;

async function setup(volumeA: number, volumeB: number) {
  const bad = await startOpenAIFixture();
  const good = await startOpenAIFixture();
  started.push(bad, good);
  bad.fallback(behave.error(500));
  good.fallback(behave.ok('healthy answer'));
  const sidecar = await startTestSidecar(
    `${route('a', bad.baseURL, volumeA)}---\n${route('b', good.baseURL, volumeB)}`,
  );
  started.push(sidecar);
  const client = new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'x', maxRetries: 0 });
  /** The route is picked by its name as the model. */
  const ask = (model: 'a' | 'b') =>
    client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
  const refusal = async (model: 'a' | 'b') => {
    const err = await ask(model).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    return err as InstanceType<typeof OpenAI.APIError>;
  };
  const breakerState = async (r: string) =>
    metricValue((await sidecar.metrics.text()).body, 'tiermesh_breaker_state', {
      route: r,
      provider: 'up',
      model: 'gpt-4o-mini',
    });
  return { bad, good, ask, refusal, breakerState };
}

async function expectServedByB(s: Awaited<ReturnType<typeof setup>>) {
  const before = s.good.calls.length;
  const r = await s.ask('b');
  expect(r.data.choices[0]!.message.content).toBe('healthy answer');
  expect(r.response.headers.get('x-tiermesh-provider')).toBe('up');
  expect(r.response.headers.get('x-tiermesh-model')).toBe('gpt-4o-mini');
  expect(s.good.calls.length).toBe(before + 1);
}

/** Route a's breaker is open: refused at once with 503 TM_BREAKER_OPEN naming the provider and model. */
async function expectAOpen(s: Awaited<ReturnType<typeof setup>>) {
  const calls = s.bad.calls.length;
  const e = await s.refusal('a');
  expect(e.status).toBe(503);
  expect(e.code).toBe('TM_BREAKER_OPEN');
  expect(e.message).toContain('breaker open for provider "up" model "gpt-4o-mini"');
  expect(Number(e.headers?.get('retry-after'))).toBeGreaterThan(0);
  expect(s.bad.calls.length).toBe(calls);
}

describe("one route's breaker", () => {
  it("opens on that route's failing upstream only: the other route's provider of the same name keeps serving", async () => {
    const s = await setup(2, 2);
    for (let i = 0; i < 2; i++) expect((await s.refusal('a')).status).toBe(502);
    expect(s.bad.calls.length).toBe(2);
    await expectAOpen(s);

    await expectServedByB(s);
    await expectServedByB(s);
    // Still open for a, after b's answers.
    await expectAOpen(s);
    expect(await s.breakerState('a')).toBe(2);
    expect(await s.breakerState('b')).toBe(0);
  });

  it("is neither replaced nor unguarded by another route's different breaker settings", async () => {
    const s = await setup(2, 3);
    expect((await s.refusal('a')).status).toBe(502);
    await expectServedByB(s);
    expect((await s.refusal('a')).status).toBe(502);
    await expectServedByB(s);
    // Opened after its second failure, as route a configured it, though b asked in between with its own settings.
    expect(s.bad.calls.length).toBe(2);
    for (let i = 0; i < 4; i++) {
      await expectAOpen(s);
      await expectServedByB(s);
    }
    expect(s.bad.calls.length).toBe(2);
    expect(await s.breakerState('a')).toBe(2);
    expect(await s.breakerState('b')).toBe(0);
  });
});
