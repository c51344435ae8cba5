/**
 * Tier promotion, context truncation and the cascade's new checks through the sidecar, over real sockets with the
 * OpenAI SDK as client. The cheap tier's only provider is a closed loopback port (connections refused).
 */
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { behave, type Fixture, startOpenAIFixture } from '../fixtures/providers/index.js';
import { promlint } from '../helpers/promlint-bin.js';
import { metricValue, startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

const fixtures: Fixture[] = [];
const sidecars: TestSidecar[] = [];
afterAll(async () => {
  await Promise.all(sidecars.map((s) => s.close()));
  await Promise.all(fixtures.map((f) => f.close()));
});

async function fixture(reply: string): Promise<Fixture> {
  const f = await startOpenAIFixture();
  f.fallback(behave.ok(reply, { prompt: 10, completion: 3 }));
  fixtures.push(f);
  return f;
}

/** A loopback URL nothing listens on: bound once, then closed. */
async function refusedURL(): Promise<string> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return `http://127.0.0.1:${port}/v1`;
}

interface Up {
  name: string;
  baseURL: string;
}
function routeYaml(o: {
  cheap: Up;
  standard: Up;
  premium: Up;
  promotion?: Record<string, unknown>;
  cascade?: Record<string, unknown>;
  context?: Record<string, unknown>;
  cheapWindow?: number;
  budget?: { usd: number; action: string };
  prices?: [number, number, number];
  /** More spec fields, e.g. taskTypes. */
  extra?: Record<string, unknown>;
}): string {
  const [pc, ps, pp] = o.prices ?? [1, 2, 3];
  const model = (name: string, provider: string, price: number, contextWindow = 100_000) => ({
    name,
    targets: [{ provider }],
    pricing: { inputPerMTok: price, outputPerMTok: price },
    contextWindow,
  });
  const route = {
    apiVersion: 'tiermesh.dev/v1alpha1',
    kind: 'ModelRoute',
    metadata: { name: 'default', namespace: 'test' },
    spec: {
      providers: [o.cheap, o.standard, o.premium].map((u) => ({
        name: u.name,
        type: 'openai-compatible',
        baseURL: u.baseURL,
      })),
      models: [
        model('small-model', o.cheap.name, pc, o.cheapWindow),
        model('mid-model', o.standard.name, ps),
        model('big-model', o.premium.name, pp),
      ],
      tiers: [
        { name: 'cheap', models: ['small-model'] },
        { name: 'standard', models: ['mid-model'] },
        { name: 'premium', models: ['big-model'] },
      ],
      classifier: { mode: 'rules', confidenceBand: 0.02 },
      cascade: o.cascade ?? { enabled: false, checks: ['empty'], maxEscalations: 0 },
      resilience: {
        timeoutMs: 5_000,
        firstByteTimeoutMs: 2_000,
        retries: { attempts: 0, backoffMs: 10, maxBackoffMs: 50 },
      },
      ...(o.promotion ? { promotion: o.promotion } : {}),
      ...(o.context ? { context: o.context } : {}),
      ...o.extra,
    },
  };
  const docs: object[] = [route];
  if (o.budget)
    docs.push({
      apiVersion: 'tiermesh.dev/v1alpha1',
      kind: 'ModelBudget',
      metadata: { name: 'team', namespace: 'test' },
      spec: { limit: { usd: o.budget.usd }, window: { period: 'daily' }, action: o.budget.action },
    });
  return docs.map((d) => stringify(d)).join('---\n');
}

const hi = { model: 'auto', messages: [{ role: 'user' as const, content: 'hi there' }] };

async function start(yaml: string): Promise<{ sidecar: TestSidecar; client: OpenAI }> {
  const sidecar = await startTestSidecar(yaml);
  sidecars.push(sidecar);
  return { sidecar, client: new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'x', maxRetries: 0 }) };
}

describe('tier promotion', () => {
  let standard: Fixture;
  let premium: Fixture;
  let down: Up;
  beforeAll(async () => {
    standard = await fixture('from standard');
    premium = await fixture('from premium');
    down = { name: 'groq', baseURL: await refusedURL() };
  });
  const ups = () => ({
    cheap: down,
    standard: { name: 'std-up', baseURL: standard.baseURL },
    premium: { name: 'prem-up', baseURL: premium.baseURL },
  });

  it('a cheap tier that refuses connections is promoted to the standard tier, and the answer says so', async () => {
    const { sidecar, client } = await start(routeYaml(ups()));
    const r = await client.chat.completions.create(hi).withResponse();
    expect(r.data.choices[0]!.message.content).toBe('from standard');
    expect(r.response.headers.get('x-tiermesh-tier')).toBe('standard');
    expect(r.response.headers.get('x-tiermesh-promoted-from')).toBe('cheap');
    expect(r.response.headers.get('x-tiermesh-model')).toBe('mid-model');
    const text = await (await fetch(`${sidecar.url}/metrics`)).text();
    expect(
      metricValue(text, 'tiermesh_promotions_total', {
        route: 'default',
        from: 'cheap',
        to: 'standard',
        reason: 'connection',
      }),
    ).toBe(1);
    const lint = spawnSync(promlint(), [], { input: text, encoding: 'utf8' });
    expect(lint.stderr).toBe('');
    expect(lint.status).toBe(0);
    expect(sidecar.logs.byMsg('promotion').at(-1)).toMatchObject({
      route: 'default',
      from: 'cheap',
      to: 'standard',
      direction: 'up',
      reason: 'connection',
    });
    expect(sidecar.logs.byMsg('request').at(-1)).toMatchObject({ tier: 'standard', promotedFrom: 'cheap' });
  });

  it('promotes a stream before its first byte', async () => {
    const { client } = await start(routeYaml(ups()));
    const { data: stream, response } = await client.chat.completions
      .create({ ...hi, stream: true })
      .withResponse();
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('from standard');
    expect(response.headers.get('x-tiermesh-tier')).toBe('standard');
    expect(response.headers.get('x-tiermesh-promoted-from')).toBe('cheap');
  });

  it('policy none fails with the tier error, as before', async () => {
    const { client, sidecar } = await start(routeYaml({ ...ups(), promotion: { policy: 'none' } }));
    const calls = standard.calls.length;
    const e = await client.chat.completions.create(hi).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OpenAI.APIError);
    expect((e as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect(standard.calls.length).toBe(calls);
    expect(sidecar.logs.byMsg('no promotion').at(-1)).toMatchObject({ from: 'cheap', why: 'disabled' });
  });

  it('a reject budget that cannot cover the costlier tier refuses the promotion', async () => {
    // standard costs 2000 USD per 1M tokens: one request is ~0.2 USD against a 0.05 USD budget.
    const { client, sidecar } = await start(
      routeYaml({ ...ups(), prices: [1, 2000, 3000], budget: { usd: 0.05, action: 'reject' } }),
    );
    const calls = standard.calls.length;
    const e = await client.chat.completions.create(hi).catch((x: unknown) => x);
    expect((e as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect(standard.calls.length).toBe(calls);
    expect(sidecar.logs.byMsg('no promotion').at(-1)).toMatchObject({ why: 'budget-reject', budget: 'team' });
  });

  it('a downgrade budget that cannot cover the costlier tier turns the promotion down', async () => {
    const cheap = await fixture('from cheap');
    // premium costs 3000 USD per 1M tokens: promoting one request up is ~1.5 USD against a 0.05 USD budget.
    const { client, sidecar } = await start(
      routeYaml({
        cheap: { name: 'cheap-up', baseURL: cheap.baseURL },
        standard: down,
        premium: { name: 'prem-up', baseURL: premium.baseURL },
        prices: [1, 2, 3000],
        budget: { usd: 0.05, action: 'downgrade' },
        extra: { taskTypes: { analysis: 'standard' } },
      }),
    );
    const calls = premium.calls.length;
    const r = await client.chat.completions
      .create(hi, { headers: { 'x-tiermesh-task': 'analysis' } })
      .withResponse();
    expect(r.data.choices[0]!.message.content).toBe('from cheap');
    expect(r.response.headers.get('x-tiermesh-tier')).toBe('cheap');
    expect(r.response.headers.get('x-tiermesh-promoted-from')).toBe('standard');
    expect(premium.calls.length).toBe(calls);
    expect(sidecar.logs.byMsg('promotion').at(-1)).toMatchObject({
      from: 'standard',
      to: 'cheap',
      direction: 'down',
      reason: 'connection',
      budget: 'team',
    });
    const text = await (await fetch(`${sidecar.url}/metrics`)).text();
    expect(
      metricValue(text, 'tiermesh_promotions_total', {
        route: 'default',
        from: 'standard',
        to: 'cheap',
        reason: 'connection',
      }),
    ).toBe(1);
  });

  it('a client error is not promoted', async () => {
    const bad = await fixture('never');
    bad.fallback(behave.error(400));
    const { client } = await start(routeYaml({ ...ups(), cheap: { name: 'bad-up', baseURL: bad.baseURL } }));
    const calls = standard.calls.length;
    const e = await client.chat.completions.create(hi).catch((x: unknown) => x);
    expect((e as InstanceType<typeof OpenAI.APIError>).status).toBe(400);
    expect(standard.calls.length).toBe(calls);
  });
});

describe('context truncation and cascade checks', () => {
  it('truncate-oldest sends the shortened conversation and says how many messages were dropped', async () => {
    const cheap = await fixture('short answer');
    const other = await fixture('other');
    const { client } = await start(
      routeYaml({
        cheap: { name: 'cheap-up', baseURL: cheap.baseURL },
        standard: { name: 'std-up', baseURL: other.baseURL },
        premium: { name: 'prem-up', baseURL: other.baseURL },
        cheapWindow: 1_000,
        context: { policy: 'truncate-oldest' },
      }),
    );
    const turn = (role: 'user' | 'assistant', i: number) => ({
      role,
      content: Array.from({ length: 300 }, (_, j) => `t${i}w${j}`).join(' '),
    });
    const messages = [
      { role: 'system' as const, content: 'be brief' },
      turn('user', 1),
      turn('assistant', 2),
      turn('user', 3),
      turn('assistant', 4),
      { role: 'user' as const, content: 'thanks, bye' },
    ];
    const r = await client.chat.completions
      .create({ model: 'auto', messages, max_tokens: 50 })
      .withResponse();
    expect(r.data.choices[0]!.message.content).toBe('short answer');
    const dropped = Number(r.response.headers.get('x-tiermesh-truncated'));
    expect(dropped).toBeGreaterThan(0);
    const sent = (cheap.calls.at(-1)!.body as { messages: Array<{ role: string; content: string }> })
      .messages;
    expect(sent.length).toBe(messages.length - dropped);
    expect(sent[0]).toEqual({ role: 'system', content: 'be brief' });
    expect(sent.at(-1)).toEqual({ role: 'user', content: 'thanks, bye' });
    expect(sent.slice(1)).toEqual(messages.slice(1 + dropped));
  });

  it('a hedging cheap answer escalates, counted by check', async () => {
    const cheap = await fixture("I'm not sure, I don't have enough information to say.");
    const std = await fixture('The answer is 42.');
    const { client, sidecar } = await start(
      routeYaml({
        cheap: { name: 'cheap-up', baseURL: cheap.baseURL },
        standard: { name: 'std-up', baseURL: std.baseURL },
        premium: { name: 'prem-up', baseURL: std.baseURL },
        cascade: { enabled: true, checks: ['empty', 'hedging'], maxEscalations: 1 },
      }),
    );
    const r = await client.chat.completions.create(hi).withResponse();
    expect(r.data.choices[0]!.message.content).toBe('The answer is 42.');
    expect(r.response.headers.get('x-tiermesh-tier')).toBe('standard');
    // Escalation is not promotion.
    expect(r.response.headers.get('x-tiermesh-promoted-from')).toBeNull();
    const text = await (await fetch(`${sidecar.url}/metrics`)).text();
    expect(
      metricValue(text, 'tiermesh_cascade_escalations_total', {
        route: 'default',
        tier: 'cheap',
        check: 'hedging',
      }),
    ).toBe(1);
  });

  it('the judge: a low score escalates and its cost is booked; a failing judge passes the answer', async () => {
    const cheap = await fixture('Rome.');
    const std = await fixture('Paris.');
    const judgeUp = await fixture('0.1');
    const yaml = routeYaml({
      cheap: { name: 'cheap-up', baseURL: cheap.baseURL },
      standard: { name: 'std-up', baseURL: std.baseURL },
      premium: { name: 'judge-up', baseURL: judgeUp.baseURL },
      cascade: {
        enabled: true,
        checks: ['empty', 'judge'],
        maxEscalations: 1,
        judge: { model: 'big-model', minScore: 0.5, timeoutMs: 2_000 },
      },
    });
    const { client, sidecar } = await start(yaml);
    const ask = { model: 'auto', messages: [{ role: 'user' as const, content: 'capital of France?' }] };
    const r = await client.chat.completions.create(ask).withResponse();
    expect(r.data.choices[0]!.message.content).toBe('Paris.');
    const judged = judgeUp.calls.at(-1)!.body as { messages: Array<{ content: string }>; max_tokens: number };
    expect(judged.messages[1]!.content).toContain('capital of France?');
    expect(judged.messages[1]!.content).toContain('Rome.');
    // Three answers produced (cheap, judge, standard), 10 + 3 tokens each at 1, 3 and 2 USD per 1M.
    expect(Number(r.response.headers.get('x-tiermesh-cost-usd'))).toBeCloseTo(
      (13 * 1 + 13 * 3 + 13 * 2) / 1e6,
      12,
    );
    let text = await (await fetch(`${sidecar.url}/metrics`)).text();
    expect(metricValue(text, 'tiermesh_judge_checks_total', { route: 'default', outcome: 'fail' })).toBe(1);

    judgeUp.script([behave.error(500)]);
    const ok = await client.chat.completions.create(ask).withResponse();
    expect(ok.data.choices[0]!.message.content).toBe('Rome.');
    text = await (await fetch(`${sidecar.url}/metrics`)).text();
    expect(metricValue(text, 'tiermesh_judge_checks_total', { route: 'default', outcome: 'error' })).toBe(1);
  });

  it('a judge that times out passes the answer, is counted as timeout, and its call is aborted', async () => {
    const cheap = await fixture('Rome.');
    const std = await fixture('Paris.');
    const judgeUp = await fixture('never');
    judgeUp.fallback(behave.hang());
    const { client, sidecar } = await start(
      routeYaml({
        cheap: { name: 'cheap-up', baseURL: cheap.baseURL },
        standard: { name: 'std-up', baseURL: std.baseURL },
        premium: { name: 'judge-up', baseURL: judgeUp.baseURL },
        cascade: {
          enabled: true,
          checks: ['empty', 'judge'],
          maxEscalations: 1,
          judge: { model: 'big-model', minScore: 0.5, timeoutMs: 100 },
        },
      }),
    );
    const stdCalls = std.calls.length;
    const r = await client.chat.completions
      .create({ model: 'auto', messages: [{ role: 'user', content: 'capital of France?' }] })
      .withResponse();
    expect(r.data.choices[0]!.message.content).toBe('Rome.');
    expect(r.response.headers.get('x-tiermesh-tier')).toBe('cheap');
    expect(std.calls.length).toBe(stdCalls);
    await expect(judgeUp.calls[0]!.ended).resolves.toBe('aborted');
    const text = await (await fetch(`${sidecar.url}/metrics`)).text();
    expect(metricValue(text, 'tiermesh_judge_checks_total', { route: 'default', outcome: 'timeout' })).toBe(
      1,
    );
  });
});

describe('latency-aware selection', () => {
  /** Cheap model served by a slow then a fast target; standard as the promotion target. */
  async function sloSidecar(policy: string, fastDelayMs: number) {
    const slow = await fixture('from slow');
    slow.fallback({ ...behave.ok('from slow', { prompt: 10, completion: 3 }), firstByteDelayMs: 250 });
    const fast = await fixture('from fast');
    fast.fallback({
      ...behave.ok('from fast', { prompt: 10, completion: 3 }),
      firstByteDelayMs: fastDelayMs,
    });
    const std = await fixture('from standard');
    const provider = (name: string, f: Fixture) => ({ name, type: 'openai-compatible', baseURL: f.baseURL });
    const yaml = stringify({
      apiVersion: 'tiermesh.dev/v1alpha1',
      kind: 'ModelRoute',
      metadata: { name: 'default', namespace: 'test' },
      spec: {
        providers: [provider('slow-up', slow), provider('fast-up', fast), provider('std-up', std)],
        models: [
          {
            name: 'small-model',
            targets: [{ provider: 'slow-up' }, { provider: 'fast-up' }],
            pricing: { inputPerMTok: 1, outputPerMTok: 1 },
            contextWindow: 100_000,
          },
          {
            name: 'mid-model',
            targets: [{ provider: 'std-up' }],
            pricing: { inputPerMTok: 2, outputPerMTok: 2 },
            contextWindow: 100_000,
          },
        ],
        tiers: [
          { name: 'cheap', models: ['small-model'] },
          { name: 'standard', models: ['mid-model'] },
        ],
        classifier: { mode: 'rules', confidenceBand: 0.02 },
        cascade: { enabled: false, checks: ['empty'], maxEscalations: 0 },
        slo: { maxLatencyMs: 150, policy, minSamples: 2, halfLifeSeconds: 3600 },
      },
    });
    const s = await start(yaml);
    return { ...s, slow, fast, std };
  }

  it('skips a target whose recent p95 breaks the SLO in favour of the next that meets it', async () => {
    const { client, sidecar, slow, fast } = await sloSidecar('first', 0);
    // Three observations of the slow target (it is first in the failover order and answers); decayed, they are
    // just under 3, over minSamples 2.
    for (let i = 0; i < 3; i++) {
      const r = await client.chat.completions.create(hi).withResponse();
      expect(r.response.headers.get('x-tiermesh-provider')).toBe('slow-up');
    }
    const r = await client.chat.completions.create(hi).withResponse();
    expect(r.response.headers.get('x-tiermesh-provider')).toBe('fast-up');
    expect(slow.calls.length).toBe(3);
    expect(fast.calls.length).toBe(1);
    expect(sidecar.logs.byMsg('slo').at(-1)).toMatchObject({
      tier: 'cheap',
      skipped: [{ provider: 'slow-up', model: 'small-model', why: 'latency' }],
    });
  });

  it('policy fail: a tier where no target meets the SLO fails whole, and tier promotion takes over', async () => {
    const { client, sidecar } = await sloSidecar('fail', 250);
    // Observations of the slow target only (the fast one is never reached while the slow one answers).
    for (let i = 0; i < 3; i++) await client.chat.completions.create(hi);
    // Now the slow target is out; the "fast" one is unobserved and so kept: it answers and is observed slow too.
    for (let i = 0; i < 3; i++) {
      const r = await client.chat.completions.create(hi).withResponse();
      expect(r.response.headers.get('x-tiermesh-provider')).toBe('fast-up');
    }
    const r = await client.chat.completions.create(hi).withResponse();
    expect(r.data.choices[0]!.message.content).toBe('from standard');
    expect(r.response.headers.get('x-tiermesh-promoted-from')).toBe('cheap');
    expect(sidecar.logs.byMsg('promotion').at(-1)).toMatchObject({
      from: 'cheap',
      to: 'standard',
      reason: 'no_target',
    });
  });
});

describe('conversation stickiness', () => {
  it('a tool loop stays on the model that asked for the tools; a clearly simpler turn leaves', async () => {
    const cheap = await fixture('from cheap');
    const premium = await fixture('from premium');
    const provider = (name: string, f: Fixture) => ({ name, type: 'openai-compatible', baseURL: f.baseURL });
    const model = (name: string, p: string) => ({
      name,
      targets: [{ provider: p }],
      pricing: { inputPerMTok: 1, outputPerMTok: 1 },
      contextWindow: 100_000,
    });
    const { client, sidecar } = await start(
      stringify({
        apiVersion: 'tiermesh.dev/v1alpha1',
        kind: 'ModelRoute',
        metadata: { name: 'default', namespace: 'test' },
        spec: {
          providers: [provider('cheap-up', cheap), provider('prem-up', premium)],
          models: [model('small-model', 'cheap-up'), model('big-model', 'prem-up')],
          tiers: [
            { name: 'cheap', models: ['small-model'] },
            { name: 'premium', models: ['big-model'] },
          ],
          classifier: {
            mode: 'rules',
            confidenceBand: 0.02,
            rules: [{ name: 'hard', pattern: '\\bprove\\b', tier: 'premium', weight: 10 }],
          },
          cascade: { enabled: false, checks: ['empty'], maxEscalations: 0 },
          stickiness: { enabled: true, margin: 0.1 },
        },
      }),
    );
    const session = { headers: { 'x-tiermesh-session': 'conv-1' } };
    const tier = async (messages: OpenAI.Chat.ChatCompletionMessageParam[], opts = session) =>
      (
        await client.chat.completions.create({ model: 'auto', messages }, opts).withResponse()
      ).response.headers.get('x-tiermesh-tier');
    expect(await tier([{ role: 'user', content: 'prove that there are infinitely many primes' }])).toBe(
      'premium',
    );
    const loop: OpenAI.Chat.ChatCompletionMessageParam[] = [
      { role: 'user', content: 'thanks' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'c1', type: 'function', function: { name: 'lookup', arguments: '{}' } }],
      },
      { role: 'tool', tool_call_id: 'c1', content: 'ok' },
    ];
    // Scored on its own this turn is cheap; inside the tool loop it stays where the conversation is.
    expect(await tier(loop, { headers: { 'x-tiermesh-session': 'other' } })).toBe('cheap');
    expect(await tier(loop)).toBe('premium');
    // A plain greeting is far past the boundary: the conversation moves down.
    expect(await tier([{ role: 'user', content: 'hi' }])).toBe('cheap');
    expect(sidecar.logs.byMsg('request').length).toBeGreaterThanOrEqual(4);
  });
});

describe('hedged requests', () => {
  it('a hedge after the delay answers for a hung first target; both are booked, the loser by its prompt', async () => {
    const hung = await fixture('never');
    hung.fallback(behave.hang());
    const fast = await fixture('from fast');
    const provider = (name: string, f: Fixture) => ({ name, type: 'openai-compatible', baseURL: f.baseURL });
    const { client, sidecar } = await start(
      stringify({
        apiVersion: 'tiermesh.dev/v1alpha1',
        kind: 'ModelRoute',
        metadata: { name: 'default', namespace: 'test' },
        spec: {
          providers: [provider('hung-up', hung), provider('fast-up', fast)],
          models: [
            {
              name: 'small-model',
              targets: [{ provider: 'hung-up' }, { provider: 'fast-up' }],
              pricing: { inputPerMTok: 1, outputPerMTok: 1 },
              contextWindow: 100_000,
            },
          ],
          tiers: [{ name: 'cheap', models: ['small-model'] }],
          classifier: { mode: 'rules' },
          cascade: { enabled: false, checks: ['empty'], maxEscalations: 0 },
          hedge: { enabled: true, delay: 'fixed', delayMs: 50 },
          slo: { maxLatencyMs: 60_000, minSamples: 1 },
        },
      }),
    );
    const r = await client.chat.completions.create(hi).withResponse();
    expect(r.data.choices[0]!.message.content).toBe('from fast');
    // Neither side is a latency observation: the loser was stopped, not done, and the winner's time counts the delay.
    const explained = await fetch(`${sidecar.url}/v1/explain`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(hi),
    });
    expect(((await explained.json()) as { observations: unknown[] }).observations).toEqual([]);
    expect(r.response.headers.get('x-tiermesh-hedged')).toBe('won');
    expect(r.response.headers.get('x-tiermesh-provider')).toBe('fast-up');
    expect(hung.calls.length).toBe(1);
    await expect(hung.calls[0]!.ended).resolves.toBe('aborted');
    // The winner's 10 + 3 tokens, plus the loser's prompt as estimated by the sidecar, at 1 USD per 1M tokens.
    const line = sidecar.logs.byMsg('request').at(-1)!;
    expect(line).toMatchObject({ hedged: 'won' });
    expect(line['inputTokens'] as number).toBeGreaterThan(10);
    expect(Number(r.response.headers.get('x-tiermesh-cost-usd'))).toBeCloseTo(
      ((line['inputTokens'] as number) + 3) / 1e6,
      12,
    );
    const text = await (await fetch(`${sidecar.url}/metrics`)).text();
    expect(metricValue(text, 'tiermesh_hedges_started_total', { route: 'default' })).toBe(1);
    expect(metricValue(text, 'tiermesh_hedges_won_total', { route: 'default' })).toBe(1);
    const lint = spawnSync(promlint(), [], { input: text, encoding: 'utf8' });
    expect(lint.stderr).toBe('');
  });

  it('a hedge that lost while still waiting for a queue slot made no call and books nothing', async () => {
    const gate = () => {
      let open!: () => void;
      const promise = new Promise<void>((r) => {
        open = r;
      });
      return { promise, open };
    };
    const firstAnswersA = gate();
    const firstAnswersB = gate();
    const secondAnswers = gate();
    const first = await fixture('from first');
    // A's call to first-up comes first, B's second: each answers when the test says.
    first.script((_req, i) => ({
      ...behave.ok('from first', { prompt: 10, completion: 3 }),
      waitFor: (i === 0 ? firstAnswersA : firstAnswersB).promise,
    }));
    const second = await fixture('from second');
    second.fallback({
      ...behave.ok('from second', { prompt: 10, completion: 3 }),
      waitFor: secondAnswers.promise,
    });
    const provider = (name: string, f: Fixture) => ({ name, type: 'openai-compatible', baseURL: f.baseURL });
    const { client, sidecar } = await start(
      stringify({
        apiVersion: 'tiermesh.dev/v1alpha1',
        kind: 'ModelRoute',
        metadata: { name: 'default', namespace: 'test' },
        spec: {
          providers: [provider('first-up', first), provider('second-up', second)],
          models: [
            {
              name: 'small-model',
              targets: [{ provider: 'first-up' }, { provider: 'second-up' }],
              pricing: { inputPerMTok: 1, outputPerMTok: 1 },
              contextWindow: 100_000,
            },
          ],
          tiers: [{ name: 'cheap', models: ['small-model'] }],
          classifier: { mode: 'rules' },
          cascade: { enabled: false, checks: ['empty'], maxEscalations: 0 },
          promotion: { policy: 'none' },
          resilience: {
            timeoutMs: 30_000,
            firstByteTimeoutMs: 30_000,
            retries: { attempts: 0, backoffMs: 10, maxBackoffMs: 50 },
          },
          hedge: { enabled: true, delay: 'fixed', delayMs: 20 },
          queue: {
            limits: [{ provider: 'second-up', model: 'small-model', maxInFlight: 1 }],
            waitMs: 30_000,
          },
        },
      }),
    );
    const pause = () => new Promise((r) => setTimeout(r, 5));
    try {
      // A's hedge takes second-up's only slot and is sent; B's hedge then waits for that slot.
      const a = client.chat.completions.create(hi).withResponse();
      while (second.calls.length === 0) await pause();
      const b = client.chat.completions.create(hi).withResponse();
      for (;;) {
        const m = (await sidecar.metrics.text()).body;
        if (metricValue(m, 'tiermesh_queue_depth', { provider: 'second-up', priority: 'interactive' }) === 1)
          break;
        await pause();
      }
      // B's first target answers while A's hedge still holds the slot: B's hedge loses without leaving the queue.
      firstAnswersB.open();
      const rb = await b;
      firstAnswersA.open();
      const ra = await a;
      for (const r of [ra, rb]) {
        expect(r.data.choices[0]!.message.content).toBe('from first');
        expect(r.response.headers.get('x-tiermesh-hedged')).toBe('lost');
      }
      expect(second.calls.length).toBe(1);
      await expect(second.calls[0]!.ended).resolves.toBe('aborted');
      // A's loser was sent: its prompt is booked on top of the winner's 10 + 3 tokens (1 USD per 1M).
      expect(Number(ra.response.headers.get('x-tiermesh-cost-usd'))).toBeGreaterThan(13 / 1e6);
      expect(ra.response.headers.get('x-tiermesh-attempts')).toBe('2');
      // B's loser never left the queue: the winner's tokens alone, one upstream call.
      expect(Number(rb.response.headers.get('x-tiermesh-cost-usd'))).toBeCloseTo(13 / 1e6, 12);
      expect(rb.response.headers.get('x-tiermesh-attempts')).toBe('1');
    } finally {
      firstAnswersA.open();
      firstAnswersB.open();
      secondAnswers.open();
    }
  });
});

describe('the logprobs check', () => {
  it('a low mean token logprob from the provider escalates; a confident answer stays on its tier', async () => {
    const cheap = await fixture('maybe it is seven');
    const std = await fixture('It is 42.');
    const { client, sidecar } = await start(
      routeYaml({
        cheap: { name: 'cheap-up', baseURL: cheap.baseURL },
        standard: { name: 'std-up', baseURL: std.baseURL },
        premium: { name: 'prem-up', baseURL: std.baseURL },
        cascade: {
          enabled: true,
          checks: ['empty', 'logprobs'],
          maxEscalations: 1,
          logprobs: { minMean: -1 },
        },
      }),
    );
    cheap.script([
      { ...behave.ok('maybe it is seven', { prompt: 10, completion: 4 }), tokenLogprob: -2.5 },
      { ...behave.ok('It is seven.', { prompt: 10, completion: 3 }), tokenLogprob: -0.05 },
    ]);
    const unsure = await client.chat.completions.create({ ...hi, logprobs: true }).withResponse();
    expect(unsure.data.choices[0]!.message.content).toBe('It is 42.');
    expect(unsure.response.headers.get('x-tiermesh-tier')).toBe('standard');
    // The provider saw the client's logprobs request: the check needs them.
    expect((cheap.calls.at(-1)!.body as { logprobs?: boolean }).logprobs).toBe(true);
    expect(sidecar.logs.byMsg('cascade').at(-1)).toMatchObject({
      check: 'logprobs',
      from: 'cheap',
      to: 'standard',
      detail: expect.stringContaining('below -1.00'),
    });
    const sure = await client.chat.completions.create({ ...hi, logprobs: true }).withResponse();
    expect(sure.data.choices[0]!.message.content).toBe('It is seven.');
    expect(sure.response.headers.get('x-tiermesh-tier')).toBe('cheap');
    const text = await (await fetch(`${sidecar.url}/metrics`)).text();
    expect(
      metricValue(text, 'tiermesh_cascade_escalations_total', {
        route: 'default',
        tier: 'cheap',
        check: 'logprobs',
      }),
    ).toBe(1);
  });
});
