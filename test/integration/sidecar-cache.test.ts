/**
 * The response cache through the real sidecar over real sockets: a temperature-0 request is a miss, then a hit that
 * costs nothing; other temperatures are not cached unless opted in; cache-control: no-cache bypasses; a stream hit
 * replays as a stream the OpenAI SDK reads; a Messages request hits the cache like a chat request; metrics count it.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { behave, type Fixture, startOpenAIFixture } from '../fixtures/providers/index.js';
import { COMPLEX_PROMPT, type RouteConfigOptions, routeConfig, SIMPLE_PROMPT } from '../helpers/config.js';
import { metricSum, metricValue, startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

const yaml = `
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default, namespace: test }
spec:
  providers:
    - { name: sim, type: simulated, simulated: { latencyMs: 0, tokensPerSecond: 100000 } }
  models:
    - { name: small, targets: [{ provider: sim }], pricing: { inputPerMTok: 1, outputPerMTok: 2 }, contextWindow: 128000 }
  tiers:
    - { name: cheap, models: [small] }
  classifier: { mode: rules }
  cache: { enabled: true, ttlSeconds: 60, maxBytes: 1048576 }
`;

let sidecar: TestSidecar;
beforeAll(async () => {
  sidecar = await startTestSidecar(yaml);
});
afterAll(() => sidecar.close(1000));

const chat = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  fetch(`${sidecar.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'auto', ...body }),
  });
const spent = async () => metricSum((await sidecar.metrics.text()).body, 'tiermesh_cost_usd_total');

describe('response cache', () => {
  it('answers the second identical temperature-0 request from the cache, at no cost', async () => {
    const body = { temperature: 0, messages: [{ role: 'user', content: 'What is the capital of Norway?' }] };
    const first = await chat(body);
    expect(first.headers.get('x-tiermesh-cache')).toBe('miss');
    const a = (await first.json()) as { choices: Array<{ message: { content: string } }> };
    const before = await spent();
    expect(before).toBeGreaterThan(0);
    const second = await chat({ ...body, user: 'someone-else' });
    expect(second.headers.get('x-tiermesh-cache')).toBe('hit');
    expect(second.headers.get('x-tiermesh-cost-usd')).toBe('0');
    const b = (await second.json()) as typeof a;
    expect(b.choices[0]!.message.content).toBe(a.choices[0]!.message.content);
    expect(await spent()).toBe(before);
    const m = (await sidecar.metrics.text()).body;
    expect(metricValue(m, 'tiermesh_cache_lookups_total', { route: 'default', result: 'hit' })).toBe(1);
    expect(metricValue(m, 'tiermesh_cache_saved_usd_total', { route: 'default' })).toBeGreaterThan(0);
    expect(metricValue(m, 'tiermesh_cache_bytes', { route: 'default' })).toBeGreaterThan(0);
  });

  it('leaves other temperatures alone unless opted in, and bypasses on cache-control: no-cache', async () => {
    const body = { temperature: 0.7, messages: [{ role: 'user', content: 'Name a colour' }] };
    expect((await chat(body)).headers.get('x-tiermesh-cache')).toBeNull();
    expect((await chat(body, { 'x-tiermesh-cache': 'on' })).headers.get('x-tiermesh-cache')).toBe('miss');
    expect((await chat(body, { 'x-tiermesh-cache': 'on' })).headers.get('x-tiermesh-cache')).toBe('hit');
    const bypass = await chat(body, { 'x-tiermesh-cache': 'on', 'cache-control': 'no-cache' });
    expect(bypass.headers.get('x-tiermesh-cache')).toBe('miss');
    expect(Number(bypass.headers.get('x-tiermesh-cost-usd'))).toBeGreaterThan(0);
  });

  it('replays a stream hit as a stream, and serves a streamed miss to a later JSON request', async () => {
    const client = new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'test', maxRetries: 0 });
    const params = {
      model: 'auto',
      temperature: 0,
      messages: [{ role: 'user' as const, content: 'Describe a fjord in one sentence' }],
    };
    const live = await client.chat.completions.stream(params).finalChatCompletion();
    const { data, response } = await client.chat.completions.create(params).withResponse();
    expect(response.headers.get('x-tiermesh-cache')).toBe('hit');
    expect(data.choices[0]!.message.content).toBe(live.choices[0]!.message.content);
    const replay = await client.chat.completions.stream(params).finalChatCompletion();
    expect(replay.choices[0]!.message.content).toBe(live.choices[0]!.message.content);
    expect(replay.choices[0]!.finish_reason).toBe('stop');
  });

  it('serves the Anthropic Messages API from the same cache, as a message and as a stream', async () => {
    const client = new Anthropic({ baseURL: sidecar.url, apiKey: 'test', maxRetries: 0 });
    const params = {
      model: 'auto',
      max_tokens: 50,
      temperature: 0,
      messages: [{ role: 'user' as const, content: 'Say something about glaciers' }],
    };
    const first = await client.messages.create(params).withResponse();
    expect(first.response.headers.get('x-tiermesh-cache')).toBe('miss');
    const again = await client.messages.create(params).withResponse();
    expect(again.response.headers.get('x-tiermesh-cache')).toBe('hit');
    expect(again.data.content).toEqual(first.data.content);
    const streamed = await client.messages.stream(params).finalMessage();
    expect(streamed.content).toEqual(first.data.content);
  });
});

describe('response cache across tiers', () => {
  // Two priority classes held to different tiers: the same question must never cross from one to the other.
  const tiered = `
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default, namespace: test }
spec:
  providers:
    - { name: sim, type: simulated, simulated: { latencyMs: 0, tokensPerSecond: 100000 } }
  models:
    - { name: small, targets: [{ provider: sim }], pricing: { inputPerMTok: 1, outputPerMTok: 2 }, contextWindow: 128000 }
    - { name: big, targets: [{ provider: sim }], pricing: { inputPerMTok: 10, outputPerMTok: 20 }, contextWindow: 128000 }
  tiers:
    - { name: cheap, models: [small] }
    - { name: premium, models: [big] }
  classifier: { mode: rules }
  priority:
    classes: { free: { maxTier: cheap }, pro: { minTier: premium } }
    users: { alice: free, bob: pro }
  cache: { enabled: true, ttlSeconds: 60, maxBytes: 1048576 }
`;
  let sc: TestSidecar;
  beforeAll(async () => {
    sc = await startTestSidecar(tiered);
  });
  afterAll(() => sc.close(1000));

  const ask = async (user: string) => {
    const r = await fetch(`${sc.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'auto',
        user,
        temperature: 0,
        messages: [{ role: 'user', content: 'What is the capital of Norway?' }],
      }),
    });
    const body = (await r.json()) as { model: string };
    return {
      cache: r.headers.get('x-tiermesh-cache'),
      tier: r.headers.get('x-tiermesh-tier'),
      model: body.model,
    };
  };

  it('keeps a priority class on its own tier: no hit on an answer another class got from another tier', async () => {
    expect(await ask('alice')).toEqual({ cache: 'miss', tier: 'cheap', model: 'small' });
    expect(await ask('bob')).toEqual({ cache: 'miss', tier: 'premium', model: 'big' });
    // Each class still hits its own tier's answer.
    expect(await ask('bob')).toEqual({ cache: 'hit', tier: 'premium', model: 'big' });
    expect(await ask('alice')).toEqual({ cache: 'hit', tier: 'cheap', model: 'small' });
  });
});

/**
 * What may be stored: the key holds the tier the request was decided onto (the lookup runs before the gate), and a
 * hit goes to every caller with that key. So an answer served on another tier (a budget downgrade, a promotion) is
 * not stored, and neither is one that skipped the cascade's checks (a stream, a caller held below the tier above)
 * unless it passes them: a JSON caller would have escalated it.
 */
describe('response cache: what may be stored', () => {
  const fixtures: Fixture[] = [];
  const sidecars: TestSidecar[] = [];
  afterAll(async () => {
    await Promise.all(sidecars.map((s) => s.close(1000)));
    await Promise.all(fixtures.map((f) => f.close()));
  });

  const REFUSAL = "I'm sorry, but I can't help with that.";

  /** The two-tier route of routeConfig (cheap on `cheap`, premium on `prem`) with spec.cache and `extra` fields. */
  async function start(o: { budgets?: RouteConfigOptions['budgets']; extra?: Record<string, unknown> } = {}) {
    const cheap = await startOpenAIFixture();
    const prem = await startOpenAIFixture();
    prem.fallback(behave.ok('PREMIUM ANSWER', { prompt: 30, completion: 5 }));
    fixtures.push(cheap, prem);
    const docs = routeConfig({
      cheap: [{ name: 'small', upstreams: ['c'] }],
      premium: [{ name: 'big', upstreams: ['p'], inputPerMTok: 10, outputPerMTok: 30 }],
      upstreams: [
        { name: 'c', baseURL: cheap.baseURL },
        { name: 'p', baseURL: prem.baseURL },
      ],
      ...(o.budgets ? { budgets: o.budgets } : {}),
    })
      .split('---\n')
      .map((d) => parse(d));
    docs[0].spec = {
      ...docs[0].spec,
      cache: { enabled: true, ttlSeconds: 600, maxBytes: 1048576 },
      ...o.extra,
    };
    const sc = await startTestSidecar(docs.map((d) => stringify(d)).join('---\n'));
    sidecars.push(sc);
    const ask = async (
      content: string,
      opts: { user?: string; stream?: boolean; temperature?: number } = {},
    ) => {
      const r = await fetch(`${sc.baseURL}/chat/completions`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(opts.user ? { 'x-tiermesh-user': opts.user } : {}),
        },
        body: JSON.stringify({
          model: 'auto',
          temperature: opts.temperature ?? 0,
          stream: opts.stream ?? false,
          messages: [{ role: 'user', content }],
        }),
      });
      expect(r.status).toBe(200);
      const body = await r.text();
      const text = opts.stream
        ? body
            .split('\n')
            .filter((l) => l.startsWith('data: {'))
            .map((l) => JSON.parse(l.slice(6)).choices?.[0]?.delta?.content ?? '')
            .join('')
        : JSON.parse(body).choices[0].message.content;
      return { cache: r.headers.get('x-tiermesh-cache'), tier: r.headers.get('x-tiermesh-tier'), text };
    };
    return { cheap, prem, ask };
  }

  it("a budget downgrade's cheap answer is not stored under the premium tier it was decided onto", async () => {
    const { cheap, prem, ask } = await start({
      budgets: [
        {
          name: 'b',
          window: { period: 'daily' },
          limit: { usd: 1000 },
          // Room for one premium request's estimate (~$0.016: its prompt and 512 output tokens), not for poor's spend.
          perUser: { usd: 0.05 },
          action: 'downgrade',
        },
      ],
    });
    cheap.fallback(behave.ok('CHEAP ANSWER', { prompt: 30, completion: 5 }));
    // "poor" spends past its per-user allowance (5,000 tokens at premium prices, $0.15), not cached (temperature 1).
    prem.script([behave.ok('LONG PREMIUM ANSWER', { prompt: 30, completion: 5000 })]);
    expect(await ask(`${COMPLEX_PROMPT} Warm up.`, { user: 'poor', temperature: 1 })).toMatchObject({
      tier: 'premium',
    });
    expect(await ask(COMPLEX_PROMPT, { user: 'poor' })).toEqual({
      cache: 'miss',
      tier: 'cheap',
      text: 'CHEAP ANSWER',
    });
    // "rich" is within its allowance: its question is premium's, and premium answers it.
    expect(await ask(COMPLEX_PROMPT, { user: 'rich' })).toEqual({
      cache: 'miss',
      tier: 'premium',
      text: 'PREMIUM ANSWER',
    });
    expect(await ask(COMPLEX_PROMPT, { user: 'rich' })).toEqual({
      cache: 'hit',
      tier: 'premium',
      text: 'PREMIUM ANSWER',
    });
  });

  it("a promoted answer (the cheap tier's only target failed) is not stored under the cheap tier", async () => {
    const { cheap, ask } = await start();
    cheap.script([behave.error(500)]);
    cheap.fallback(behave.ok('CHEAP ANSWER', { prompt: 10, completion: 3 }));
    expect(await ask(SIMPLE_PROMPT)).toEqual({ cache: 'miss', tier: 'premium', text: 'PREMIUM ANSWER' });
    expect(await ask(SIMPLE_PROMPT)).toEqual({ cache: 'miss', tier: 'cheap', text: 'CHEAP ANSWER' });
    expect(await ask(SIMPLE_PROMPT)).toEqual({ cache: 'hit', tier: 'cheap', text: 'CHEAP ANSWER' });
  });

  it("a streamed answer is stored only if it passes the checks a JSON request's answer gets", async () => {
    const { cheap, prem, ask } = await start();
    cheap.script((req) =>
      JSON.stringify(req.body).includes('Peru')
        ? behave.ok('Lima.', { prompt: 10, completion: 2 })
        : behave.ok(REFUSAL, { prompt: 10, completion: 9 }),
    );
    // Streams are not checked: the cheap tier's refusal is what the client gets, but it is not stored.
    expect(await ask(SIMPLE_PROMPT, { stream: true })).toEqual({
      cache: 'miss',
      tier: 'cheap',
      text: REFUSAL,
    });
    expect(await ask(SIMPLE_PROMPT)).toEqual({ cache: 'miss', tier: 'premium', text: 'PREMIUM ANSWER' });
    expect(prem.calls.length).toBe(1);
    // A streamed answer that passes is stored and serves a JSON request.
    const peru = 'What is the capital of Peru?';
    expect(await ask(peru, { stream: true })).toEqual({ cache: 'miss', tier: 'cheap', text: 'Lima.' });
    expect(await ask(peru)).toEqual({ cache: 'hit', tier: 'cheap', text: 'Lima.' });
  });

  it('the answer of a caller held below the tier above (priority maxTier) is checked before it is stored', async () => {
    const { cheap, ask } = await start({
      extra: { priority: { classes: { free: { maxTier: 'cheap' } }, users: { alice: 'free' } } },
    });
    cheap.fallback(behave.ok(REFUSAL, { prompt: 10, completion: 9 }));
    // alice cannot escalate: she is served the refusal. It is not stored for callers who could.
    expect(await ask(SIMPLE_PROMPT, { user: 'alice' })).toEqual({
      cache: 'miss',
      tier: 'cheap',
      text: REFUSAL,
    });
    expect(await ask(SIMPLE_PROMPT, { user: 'bob' })).toEqual({
      cache: 'miss',
      tier: 'premium',
      text: 'PREMIUM ANSWER',
    });
  });
});
