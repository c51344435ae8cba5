/**
 * Issue 14 over real sockets: POST /v1/feedback (202 / 404 / 400 / 429), a retry one tier up, the decision ring's
 * eviction, the decision log (no prompt text by default, rotation by size), the escalation and feedback metrics
 * (promtool-linted), and `outcomes export` on the log a real sidecar wrote.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { type DecisionLogEntry, decisionLogEntry } from '../../src/api/decision-log.js';
import { trainOnOutcomes } from '../../src/routing/learned/train-outcomes.js';
import { exportOutcomes } from '../../src/routing/outcomes-export.js';
import { behave, type Fixture, startOpenAIFixture } from '../fixtures/providers/index.js';
import { COMPLEX_PROMPT, routeConfig, SIMPLE_PROMPT } from '../helpers/config.js';
import { promlint } from '../helpers/promlint-bin.js';
import {
  metricValue,
  startTestSidecar,
  type TestSidecar,
  type TestSidecarOptions,
} from '../helpers/sidecar.js';

const SECRET = 'the zebra-project codename is bluefin';
let cheapUp: Fixture;
let premiumUp: Fixture;
/** Never answers: a first target slow enough for a hedge to win. */
let hangingUp: Fixture;
const sidecars: TestSidecar[] = [];
const dir = mkdtempSync(join(tmpdir(), 'tm-feedback-'));

beforeAll(async () => {
  cheapUp = await startOpenAIFixture({ apiKey: 'sk-cheap' });
  premiumUp = await startOpenAIFixture({ apiKey: 'sk-premium' });
  hangingUp = await startOpenAIFixture({ apiKey: 'sk-cheap' });
  hangingUp.fallback(behave.hang());
  cheapUp.fallback(behave.ok('cheap answer', { prompt: 10, completion: 5 }));
  premiumUp.fallback(behave.ok('premium answer', { prompt: 20, completion: 40 }));
});

afterAll(async () => {
  for (const s of sidecars) await s.close();
  await cheapUp?.close();
  await premiumUp?.close();
  await hangingUp?.close();
});

async function sidecar(opts: TestSidecarOptions = {}): Promise<TestSidecar> {
  const s = await startTestSidecar(
    routeConfig({
      upstreams: [
        { name: 'cheap-up', baseURL: cheapUp.baseURL, keyEnv: 'CHEAP_KEY' },
        { name: 'premium-up', baseURL: premiumUp.baseURL, keyEnv: 'PREMIUM_KEY' },
      ],
      cheap: [{ name: 'small-model', upstreams: ['cheap-up'] }],
      premium: [{ name: 'big-model', upstreams: ['premium-up'] }],
    }),
    { env: { CHEAP_KEY: 'sk-cheap', PREMIUM_KEY: 'sk-premium' }, ...opts },
  );
  sidecars.push(s);
  return s;
}

/** A chat request through the official SDK; returns the request id the sidecar answered with. */
async function ask(s: TestSidecar, content = SIMPLE_PROMPT): Promise<{ id: string; tier: string | null }> {
  const client = new OpenAI({ baseURL: s.baseURL, apiKey: 'unused', maxRetries: 0 });
  const r = await client.chat.completions
    .create({ model: 'auto', messages: [{ role: 'user', content }] })
    .withResponse();
  return { id: r.response.headers.get('x-request-id')!, tier: r.response.headers.get('x-tiermesh-tier') };
}

function feedback(s: TestSidecar, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${s.url}/v1/feedback`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function logLines(path: string): DecisionLogEntry[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => decisionLogEntry.parse(JSON.parse(l)));
}

describe('POST /v1/feedback', () => {
  it('records feedback against the route, tier and model that answered (202) and counts it', async () => {
    const s = await sidecar();
    const { id, tier } = await ask(s);
    expect(tier).toBe('cheap');
    const r = await feedback(s, { request_id: id, rating: 'down' });
    expect(r.status).toBe(202);
    expect(await r.json()).toEqual({
      status: 'recorded',
      request_id: id,
      route: 'default',
      tier: 'cheap',
      model: 'small-model',
      score: 0,
    });
    expect((await feedback(s, { request_id: id, score: 0.75 })).status).toBe(202);
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    const labels = { route: 'default', tier: 'cheap', model: 'small-model' };
    expect(metricValue(metrics, 'tiermesh_feedback_total', { ...labels, kind: 'down' })).toBe(1);
    expect(metricValue(metrics, 'tiermesh_feedback_total', { ...labels, kind: 'score' })).toBe(1);
    expect(metricValue(metrics, 'tiermesh_feedback_score_sum', labels)).toBe(0.75);
    expect(metricValue(metrics, 'tiermesh_feedback_score_count', labels)).toBe(2);
  });

  it('answers 404 for an unknown id and for one the ring has evicted', async () => {
    const s = await sidecar({ decisions: { size: 2 } });
    const first = await ask(s);
    await ask(s);
    const third = await ask(s);
    const unknown = await feedback(s, { request_id: 'never-seen', score: 1 });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { param: string } }).error.param).toBe('request_id');
    expect((await feedback(s, { request_id: first.id, score: 1 })).status).toBe(404);
    expect((await feedback(s, { request_id: third.id, score: 1 })).status).toBe(202);
  });

  it('answers 400 naming the field, and records nothing', async () => {
    const s = await sidecar();
    const { id } = await ask(s);
    const cases: Array<[unknown, string]> = [
      [{ request_id: id, score: 2 }, 'score'],
      [{ request_id: id, raiting: 'up' }, 'raiting'],
      [{ request_id: id }, 'score'],
      [{ score: 1 }, 'request_id'],
    ];
    for (const [body, field] of cases) {
      const r = await feedback(s, body);
      expect(r.status).toBe(400);
      const e = ((await r.json()) as { error: { param: string; message: string } }).error;
      expect(e.param).toBe(field);
      expect(e.message).toContain(field);
    }
    expect((await feedback(s, '{"request_id":')).status).toBe(400);
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).not.toMatch(/^tiermesh_feedback_total\{/m);
  });

  it('answers 429 past the per-sidecar rate, with Retry-After', async () => {
    const s = await sidecar({ feedbackRpm: 2 });
    const { id } = await ask(s);
    expect((await feedback(s, { request_id: id, score: 1 })).status).toBe(202);
    expect((await feedback(s, { request_id: id, score: 1 })).status).toBe(202);
    const r = await feedback(s, { request_id: id, score: 1 });
    expect(r.status).toBe(429);
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('retry: true re-runs the request one tier up and answers with the new completion', async () => {
    const s = await sidecar();
    const { id } = await ask(s, SECRET);
    // Without --log-prompts the sidecar kept no body: the messages must come with the retry.
    const refused = await feedback(s, { request_id: id, rating: 'down', retry: true });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { param: string } }).error.param).toBe('messages');
    const before = premiumUp.calls.length;
    const r = await feedback(s, {
      request_id: id,
      rating: 'down',
      retry: true,
      messages: [{ role: 'user', content: SECRET }],
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-tiermesh-tier')).toBe('premium');
    expect(r.headers.get('x-tiermesh-model')).toBe('big-model');
    const retryId = r.headers.get('x-request-id');
    expect(retryId).toBeTruthy();
    expect(retryId).not.toBe(id);
    const body = (await r.json()) as OpenAI.ChatCompletion;
    expect(body.choices[0]!.message.content).toBe('premium answer');
    expect(premiumUp.calls.length).toBe(before + 1);
    expect((premiumUp.calls.at(-1)!.body as { messages: unknown }).messages).toEqual([
      { role: 'user', content: SECRET },
    ]);
    // The retry is itself a decision that can get feedback; from the top tier there is nowhere to go.
    expect((await feedback(s, { request_id: retryId, rating: 'up' })).status).toBe(202);
    const top = await feedback(s, {
      request_id: retryId,
      rating: 'down',
      retry: true,
      messages: [{ role: 'user', content: SECRET }],
    });
    expect(top.status).toBe(400);
    expect(((await top.json()) as { error: { param: string } }).error.param).toBe('retry');
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(
      metricValue(metrics, 'tiermesh_escalations_total', {
        route: 'default',
        from_tier: 'cheap',
        to_tier: 'premium',
        reason: 'feedback-retry',
      }),
    ).toBe(1);
  });

  it('retry re-sends the kept body when the sidecar logs prompts', async () => {
    const s = await sidecar({ logPrompts: true });
    const { id } = await ask(s, SECRET);
    const r = await feedback(s, { request_id: id, rating: 'down', retry: true });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-tiermesh-tier')).toBe('premium');
    expect((premiumUp.calls.at(-1)!.body as { messages: unknown }).messages).toEqual([
      { role: 'user', content: SECRET },
    ]);
  });
});

describe('decision log and escalation metrics', () => {
  it('logs decisions and feedback without prompt text or comments by default', async () => {
    const path = join(dir, 'plain.jsonl');
    const s = await sidecar({ decisionLog: { path } });
    cheapUp.script([behave.ok("I'm sorry, but I can't help with that.")]);
    const escalated = await ask(s, SECRET);
    expect(escalated.tier).toBe('premium');
    const plain = await ask(s);
    await feedback(s, { request_id: plain.id, score: 0.5, comment: `about ${SECRET}` });
    await s.close();
    const raw = readFileSync(path, 'utf8');
    expect(raw).not.toContain('zebra');
    expect(raw).not.toContain(SIMPLE_PROMPT);
    const lines = logLines(path);
    expect(lines.map((l) => l.type)).toEqual(['decision', 'decision', 'feedback']);
    expect(lines[0]).toMatchObject({
      v: 2,
      requestId: escalated.id,
      initialTier: 'cheap',
      tierIndex: 0,
      tier: 'premium',
      escalations: 1,
      cascade: [
        { tier: 'cheap', model: 'small-model', ok: false, checked: true, check: 'refusal', to: 'premium' },
        // The top tier has nowhere to escalate to: checked only to record that it passed.
        { tier: 'premium', model: 'big-model', ok: true, checked: true },
      ],
    });
    expect(lines[0]!.type === 'decision' && lines[0]!.fingerprint).toMatch(/^[0-9a-f]{12}$/);
    // Without prompts the export has features but no outcome lines.
    const out = exportOutcomes(lines);
    expect(out.outcomes).toEqual([]);
    expect(out.features.find((f) => f.requestId === escalated.id)).toMatchObject({ weak: 0, strong: 1 });
  });

  it('with --log-prompts the log has the prompt and comment, and exports {prompt, weak, strong}', async () => {
    const path = join(dir, 'prompts.jsonl');
    const s = await sidecar({ decisionLog: { path }, logPrompts: true });
    cheapUp.script([behave.ok("I'm sorry, but I can't help with that.")]);
    await ask(s, SECRET);
    const plain = await ask(s);
    await feedback(s, { request_id: plain.id, score: 0.5, comment: 'meh' });
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(
      metricValue(metrics, 'tiermesh_escalations_total', {
        route: 'default',
        from_tier: 'cheap',
        to_tier: 'premium',
        reason: 'refusal',
      }),
    ).toBe(1);
    const lint = spawnSync(promlint(), [], { input: metrics, encoding: 'utf8' });
    expect(lint.stderr).toBe('');
    expect(lint.status).toBe(0);
    await s.close();
    const lines = logLines(path);
    expect(lines.find((l) => l.type === 'feedback')).toMatchObject({ comment: 'meh', score: 0.5 });
    expect(exportOutcomes(lines).outcomes).toEqual([
      { prompt: SECRET, weak: 0, strong: 1, group: 'default' },
    ]);
  });

  it('a refusal from the top tier is logged as a failed check and exported as strong 0, with nothing else changed', async () => {
    const path = join(dir, 'top-refusal.jsonl');
    const s = await sidecar({ decisionLog: { path }, logPrompts: true });
    cheapUp.script([behave.ok("I'm sorry, but I can't help with that.")]);
    premiumUp.script([behave.ok("I'm sorry, but I can't help with that.")]);
    const client = new OpenAI({ baseURL: s.baseURL, apiKey: 'unused', maxRetries: 0 });
    const premiumCalls = premiumUp.calls.length;
    const r = await client.chat.completions
      .create({ model: 'auto', messages: [{ role: 'user', content: SECRET }] })
      .withResponse();
    // The client gets the top tier's answer as before: one escalation, one call per tier, no extra one.
    expect(r.data.choices[0]?.message.content).toBe("I'm sorry, but I can't help with that.");
    expect(r.response.headers.get('x-tiermesh-tier')).toBe('premium');
    expect(r.response.headers.get('x-tiermesh-model')).toBe('big-model');
    expect(r.response.headers.get('x-tiermesh-attempts')).toBe('2');
    expect(premiumUp.calls.length).toBe(premiumCalls + 1);
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    // The verdict recorded on the top tier's answer is no escalation: only cheap -> premium is counted.
    expect(metricValue(metrics, 'tiermesh_escalations_total', { route: 'default', from_tier: 'cheap' })).toBe(
      1,
    );
    expect(metricValue(metrics, 'tiermesh_escalations_total', { from_tier: 'premium' })).toBeUndefined();
    expect(metricValue(metrics, 'tiermesh_cascade_escalations_total', { tier: 'cheap' })).toBe(1);
    expect(metricValue(metrics, 'tiermesh_cascade_escalations_total', { tier: 'premium' })).toBeUndefined();
    await s.close();
    const lines = logLines(path);
    expect(lines[0]).toMatchObject({
      tier: 'premium',
      escalations: 1,
      cascade: [
        { tier: 'cheap', model: 'small-model', ok: false, checked: true, check: 'refusal', to: 'premium' },
        { tier: 'premium', model: 'big-model', ok: false, checked: true, check: 'refusal' },
      ],
    });
    expect(lines[0]!.type === 'decision' && lines[0]!.cascade[1]).not.toHaveProperty('to');
    // Without feedback on it, the failed check says the strong answer was wrong too.
    expect(exportOutcomes(lines).outcomes).toEqual([
      { prompt: SECRET, weak: 0, strong: 0, group: 'default' },
    ]);
  });

  it("a learned route's lines carry the model's own score apart from a tied prompt's hash-drawn place", async () => {
    // A model that scores every prompt alike (what train writes for outcomes with one uniform gain): all tie.
    const trained = trainOnOutcomes(
      Array.from({ length: 120 }, (_, i) => ({
        prompt: `question ${i} ${'topic '.repeat(i % 9)}`,
        weak: 0,
        strong: 1,
      })),
    );
    const modelPath = join(dir, 'constant-model.json');
    writeFileSync(modelPath, JSON.stringify(trained.file));
    const [route] = parseAllDocuments(
      routeConfig({
        upstreams: [
          { name: 'cheap-up', baseURL: cheapUp.baseURL, keyEnv: 'CHEAP_KEY' },
          { name: 'premium-up', baseURL: premiumUp.baseURL, keyEnv: 'PREMIUM_KEY' },
        ],
        cheap: [{ name: 'small-model', upstreams: ['cheap-up'] }],
        premium: [{ name: 'big-model', upstreams: ['premium-up'] }],
      }),
    ).map((d) => d.toJS());
    route.spec.classifier = { mode: 'learned', premiumShare: 0.5, confidenceBand: 0, modelRef: modelPath };
    const path = join(dir, 'learned.jsonl');
    const s = await startTestSidecar(JSON.stringify(route), {
      env: { CHEAP_KEY: 'sk-cheap', PREMIUM_KEY: 'sk-premium' },
      decisionLog: { path },
    });
    sidecars.push(s);
    for (let i = 0; i < 12; i++)
      await ask(s, `What is ${['sorting', 'baking', 'tax law'][i % 3]} (ticket ${i})?`);
    await s.close();
    const decisions = logLines(path).filter((l) => l.type === 'decision');
    expect(decisions).toHaveLength(12);
    const features = exportOutcomes(decisions).features;
    const gains = new Set<number>();
    for (const f of features) {
      const l = f.learned!;
      gains.add(l.gain!);
      // Every prompt ties with every other: its percentile (and so its score) is where the hash put it in the tie.
      expect(l.tie!.hi).toBeGreaterThan(l.tie!.lo);
      expect(l.percentile).toBeGreaterThanOrEqual(l.tie!.lo);
      expect(l.percentile).toBeLessThanOrEqual(l.tie!.hi);
    }
    expect(gains.size).toBe(1);
    expect(new Set(features.map((f) => f.score)).size).toBeGreaterThan(1);
    expect(decisions.every((d) => d.type === 'decision' && d.signals.includes('learned-tie'))).toBe(true);
  });

  it('rotates the log by size without losing or splitting a line', async () => {
    const path = join(dir, 'rotated.jsonl');
    const s = await sidecar({ decisionLog: { path, maxBytes: 1500, keep: 10 } });
    for (let i = 0; i < 8; i++) await ask(s);
    await s.close();
    expect(existsSync(`${path}.1`)).toBe(true);
    const files = [path, ...[1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => `${path}.${n}`)].filter(existsSync);
    const all = files.flatMap(logLines);
    expect(all.filter((l) => l.type === 'decision')).toHaveLength(8);
  });

  it('exports only requests first sent to the cheap tier: one routed straight to premium is no weak failure', async () => {
    const path = join(dir, 'routed.jsonl');
    const s = await sidecar({ decisionLog: { path }, logPrompts: true });
    // The rules send this one to premium; a bad rating there is premium's, never the cheap tier's.
    const hard = await ask(s, COMPLEX_PROMPT);
    expect(hard.tier).toBe('premium');
    expect((await feedback(s, { request_id: hard.id, rating: 'down' })).status).toBe(202);
    cheapUp.script([behave.ok("I'm sorry, but I can't help with that.")]);
    const escalated = await ask(s, SECRET);
    expect(escalated.tier).toBe('premium');
    await s.close();
    const lines = logLines(path);
    expect(lines.find((l) => l.requestId === hard.id)).toMatchObject({
      initialTier: 'premium',
      tierIndex: 1,
    });
    const out = exportOutcomes(lines, { assumeStrong: 1 });
    expect(out.outcomes).toEqual([{ prompt: SECRET, weak: 0, strong: 1, group: 'default' }]);
    expect(out.stats.skipped['not-cheapest']).toBe(1);
  });

  it("a hedged cheap tier's escalation logs the winner's verdict, not the cut-off loser's", async () => {
    const path = join(dir, 'hedged.jsonl');
    const yaml = routeConfig({
      upstreams: [
        { name: 'hanging-up', baseURL: hangingUp.baseURL, keyEnv: 'CHEAP_KEY' },
        { name: 'cheap-up', baseURL: cheapUp.baseURL, keyEnv: 'CHEAP_KEY' },
        { name: 'premium-up', baseURL: premiumUp.baseURL, keyEnv: 'PREMIUM_KEY' },
      ],
      cheap: [{ name: 'small-model', upstreams: ['hanging-up', 'cheap-up'] }],
      premium: [{ name: 'big-model', upstreams: ['premium-up'] }],
    });
    const [route] = parseAllDocuments(yaml).map((d) => d.toJS());
    route.spec.hedge = { enabled: true, delay: 'fixed', delayMs: 20 };
    const s = await startTestSidecar(JSON.stringify(route), {
      env: { CHEAP_KEY: 'sk-cheap', PREMIUM_KEY: 'sk-premium' },
      decisionLog: { path },
      logPrompts: true,
    });
    sidecars.push(s);
    cheapUp.script([behave.ok("I'm sorry, but I can't help with that.")]);
    const escalated = await ask(s, SECRET);
    expect(escalated.tier).toBe('premium');
    await s.close();
    const [line] = logLines(path);
    // The hanging first target was cut off in flight (booked, as it may bill the prompt) when the hedge answered.
    expect(line).toMatchObject({
      v: 2,
      tierIndex: 0,
      cascade: [
        { tier: 'cheap', model: 'small-model', ok: false, checked: true, check: 'refusal', to: 'premium' },
        { tier: 'premium', model: 'big-model', ok: true, checked: true },
      ],
    });
    expect(line!.type === 'decision' && line!.cascade).toHaveLength(2);
    expect(exportOutcomes([line!]).outcomes).toEqual([
      { prompt: SECRET, weak: 0, strong: 1, group: 'default' },
    ]);
  });
});
