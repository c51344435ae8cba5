/**
 * The response cache through the real sidecar over real sockets: a temperature-0 request is a miss, then a hit that
 * costs nothing; other temperatures are not cached unless opted in; cache-control: no-cache bypasses; a stream hit
 * replays as a stream the OpenAI SDK reads; a Messages request hits the cache like a chat request; metrics count it.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
