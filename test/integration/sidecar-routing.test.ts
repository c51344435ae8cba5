/** The sidecar behind an unchanged official OpenAI SDK: tiering by prompt, JSON and streamed answers, /v1/models. */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { behave, type Fixture, startOpenAIFixture } from '../fixtures/providers/index.js';
import { COMPLEX_PROMPT, routeConfig, SIMPLE_PROMPT } from '../helpers/config.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

let cheapUp: Fixture;
let premiumUp: Fixture;
let sidecar: TestSidecar;
let client: OpenAI;

beforeAll(async () => {
  cheapUp = await startOpenAIFixture({ apiKey: 'sk-cheap' });
  premiumUp = await startOpenAIFixture({ apiKey: 'sk-premium' });
  cheapUp.fallback(behave.ok('cheap answer', { prompt: 10, completion: 5 }));
  premiumUp.fallback(behave.ok('premium answer', { prompt: 20, completion: 40 }));
  sidecar = await startTestSidecar(
    routeConfig({
      upstreams: [
        { name: 'cheap-up', baseURL: cheapUp.baseURL, keyEnv: 'CHEAP_KEY' },
        { name: 'premium-up', baseURL: premiumUp.baseURL, keyEnv: 'PREMIUM_KEY' },
      ],
      cheap: [{ name: 'small-model', upstreams: ['cheap-up'], inputPerMTok: 1, outputPerMTok: 2 }],
      premium: [{ name: 'big-model', upstreams: ['premium-up'], inputPerMTok: 10, outputPerMTok: 30 }],
      baselineModel: 'big-model',
    }),
    { env: { CHEAP_KEY: 'sk-cheap', PREMIUM_KEY: 'sk-premium' } },
  );
  // The client's own key is not forwarded: upstream keys come from the sidecar's config.
  client = new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'client-key-not-used', maxRetries: 0 });
});

afterAll(async () => {
  await sidecar?.close();
  await cheapUp?.close();
  await premiumUp?.close();
});

describe('routing through the OpenAI SDK', () => {
  it('sends a simple prompt to the cheap tier and a complex one to the premium tier', async () => {
    const simple = await client.chat.completions
      .create({ model: 'auto', messages: [{ role: 'user', content: SIMPLE_PROMPT }] })
      .withResponse();
    expect(simple.data.choices[0]!.message.content).toBe('cheap answer');
    expect(simple.response.headers.get('x-tiermesh-tier')).toBe('cheap');
    expect(simple.response.headers.get('x-tiermesh-model')).toBe('small-model');
    expect(simple.response.headers.get('x-tiermesh-provider')).toBe('cheap-up');
    expect(simple.response.headers.get('x-tiermesh-attempts')).toBe('1');
    // 10 in at $1/M + 5 out at $2/M.
    expect(Number(simple.response.headers.get('x-tiermesh-cost-usd'))).toBeCloseTo(0.00002, 12);

    const complex = await client.chat.completions
      .create({ model: 'auto', messages: [{ role: 'user', content: COMPLEX_PROMPT }] })
      .withResponse();
    expect(complex.data.choices[0]!.message.content).toBe('premium answer');
    expect(complex.response.headers.get('x-tiermesh-tier')).toBe('premium');
    expect(complex.response.headers.get('x-tiermesh-model')).toBe('big-model');
    expect(Number(complex.response.headers.get('x-tiermesh-cost-usd'))).toBeCloseTo(0.0014, 12);

    // The upstream got its own key and model id, never the client's key.
    const last = premiumUp.calls.at(-1)!;
    expect(last.headers['authorization']).toBe('Bearer sk-premium');
    expect((last.body as { model: string }).model).toBe('big-model');
  });

  it('serves an explicitly named model without classifying', async () => {
    const r = await client.chat.completions
      .create({ model: 'big-model', messages: [{ role: 'user', content: SIMPLE_PROMPT }] })
      .withResponse();
    expect(r.response.headers.get('x-tiermesh-model')).toBe('big-model');
    expect(r.response.headers.get('x-tiermesh-tier')).toBe('premium');
  });

  it('honours x-tiermesh-task over the classifier', async () => {
    const r = await client.chat.completions
      .create(
        { model: 'auto', messages: [{ role: 'user', content: COMPLEX_PROMPT }] },
        { headers: { 'x-tiermesh-task': 'unknown-task-name' } },
      )
      .withResponse();
    // Unknown task: the classifier decides.
    expect(r.response.headers.get('x-tiermesh-tier')).toBe('premium');
  });

  it('streams through the SDK, with usage only when the client asks for it', async () => {
    premiumUp.script([{ ...behave.ok('one two three four', { prompt: 20, completion: 4 }) }]);
    const stream = await client.chat.completions.create({
      model: 'auto',
      messages: [{ role: 'user', content: COMPLEX_PROMPT }],
      stream: true,
    });
    let text = '';
    let sawUsage = false;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) sawUsage = true;
    }
    expect(text).toBe('one two three four');
    expect(sawUsage).toBe(false);
    // We asked the upstream for usage even though the client did not.
    const upstreamBody = premiumUp.calls.at(-1)!.body as { stream_options?: { include_usage?: boolean } };
    expect(upstreamBody.stream_options?.include_usage).toBe(true);

    premiumUp.script([{ ...behave.ok('five six', { prompt: 20, completion: 2 }) }]);
    const withUsage = await client.chat.completions.create({
      model: 'auto',
      messages: [{ role: 'user', content: COMPLEX_PROMPT }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of withUsage) if (chunk.usage) usage = chunk.usage;
    expect(usage).toMatchObject({ prompt_tokens: 20, completion_tokens: 2 });
  });

  it('emits exact OpenAI SSE framing, headers first and the cost at the end', async () => {
    premiumUp.script([{ ...behave.ok('alpha beta', { prompt: 100, completion: 10 }) }]);
    const res = await fetch(`${sidecar.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'auto',
        stream: true,
        messages: [{ role: 'user', content: COMPLEX_PROMPT }],
      }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('x-tiermesh-tier')).toBe('premium');
    expect(res.headers.get('x-tiermesh-provider')).toBe('premium-up');
    const body = await res.text();
    const events = body.split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    // 100 in at $10/M + 10 out at $30/M = 0.0013.
    expect(events.at(-2)).toBe(': x-tiermesh-cost-usd 0.0013');
    for (const e of events.slice(0, -2)) {
      expect(e.startsWith('data: ')).toBe(true);
      expect(JSON.parse(e.slice(6)).object).toBe('chat.completion.chunk');
    }
  });

  it('lists models, route names and auto', async () => {
    const ids: string[] = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toEqual(['auto', 'default', 'small-model', 'big-model']);
  });

  it('answers health and readiness with the config version', async () => {
    expect((await fetch(`${sidecar.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${sidecar.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { configVersion: string }).configVersion).toBe(
      sidecar.store.current!.snapshot.version,
    );
  });

  it('logs one line per request without prompt text or keys', () => {
    const lines = sidecar.logs.byMsg('request');
    expect(lines.length).toBeGreaterThanOrEqual(6);
    const first = lines[0]!;
    expect(first).toMatchObject({
      route: 'default',
      tier: 'cheap',
      model: 'small-model',
      provider: 'cheap-up',
      status: 200,
    });
    expect(first['requestId']).toEqual(expect.any(String));
    expect(first['inputTokens']).toBe(10);
    const all = sidecar.logs.raw.join('\n');
    expect(all).not.toContain('square root');
    expect(all).not.toContain('sk-cheap');
    expect(all).not.toContain('sk-premium');
  });
});
