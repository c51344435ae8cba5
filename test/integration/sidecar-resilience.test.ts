/** Failover, circuit breakers, cascade escalation, broken streams and client disconnects, through the OpenAI SDK. */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  behave,
  type Fixture,
  startAnthropicFixture,
  startOpenAIFixture,
} from '../fixtures/providers/index.js';
import { COMPLEX_PROMPT, routeConfig, SIMPLE_PROMPT } from '../helpers/config.js';
import { metricSum, metricValue, startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

const fixtures: Fixture[] = [];
const sidecars: TestSidecar[] = [];
afterAll(async () => {
  await Promise.all(sidecars.map((s) => s.close()));
  await Promise.all(fixtures.map((f) => f.close()));
});

async function fixture(): Promise<Fixture> {
  const f = await startOpenAIFixture();
  fixtures.push(f);
  return f;
}

async function metrics(s: TestSidecar): Promise<string> {
  return (await fetch(`${s.url}/metrics`)).text();
}

/** Breaker timers and disconnect handling finish on their own schedule: wait for what they lead to. */
const WAIT = { timeout: 5_000, interval: 25 };

describe('failover and breakers', () => {
  let flaky: Fixture;
  let backup: Fixture;
  let premium: Fixture;
  let sidecar: TestSidecar;
  let client: OpenAI;

  beforeAll(async () => {
    flaky = await fixture();
    backup = await fixture();
    premium = await fixture();
    backup.fallback(behave.ok('from backup', { prompt: 5, completion: 5 }));
    sidecar = await startTestSidecar(
      routeConfig({
        upstreams: [
          { name: 'flaky', baseURL: flaky.baseURL },
          { name: 'backup', baseURL: backup.baseURL },
          { name: 'premium-up', baseURL: premium.baseURL },
        ],
        cheap: [{ name: 'small-model', upstreams: ['flaky', 'backup'] }],
        premium: [{ name: 'big-model', upstreams: ['premium-up'] }],
        breaker: {
          errorThresholdPercentage: 50,
          volumeThreshold: 3,
          resetTimeoutMs: 300,
          rollingWindowMs: 60_000,
        },
      }),
    );
    sidecars.push(sidecar);
    client = new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'x', maxRetries: 0 });
  });

  const ask = () =>
    client.chat.completions
      .create({ model: 'auto', messages: [{ role: 'user', content: SIMPLE_PROMPT }] })
      .withResponse();

  it('fails over to the next target when the first answers 500', async () => {
    flaky.script([behave.error(500)]);
    const r = await ask();
    expect(r.data.choices[0]!.message.content).toBe('from backup');
    expect(r.response.headers.get('x-tiermesh-provider')).toBe('backup');
    expect(r.response.headers.get('x-tiermesh-attempts')).toBe('2');
    const text = await metrics(sidecar);
    expect(
      metricValue(text, 'tiermesh_fallbacks_total', {
        route: 'default',
        from_provider: 'flaky',
        reason: 'server_error',
      }),
    ).toBe(1);
    const fallbackLog = sidecar.logs.byMsg('fallback').find((l) => l['from'] === 'flaky');
    expect(fallbackLog).toMatchObject({ reason: 'server_error', status: 500, action: 'next-target' });
    expect(fallbackLog!['latencyMs']).toEqual(expect.any(Number));
  });

  it('opens the breaker after repeated failures, skips the target, then recovers through half-open', async () => {
    flaky.script(() => behave.error(503));
    await ask();
    await ask();
    await vi.waitFor(
      async () =>
        expect(metricValue(await metrics(sidecar), 'tiermesh_breaker_state', { provider: 'flaky' })).toBe(2),
      WAIT,
    );
    const callsWhenOpen = flaky.calls.length;
    const r = await ask();
    expect(r.response.headers.get('x-tiermesh-provider')).toBe('backup');
    // Open breaker: the flaky upstream was not called at all, and the attempt is not counted.
    expect(flaky.calls.length).toBe(callsWhenOpen);
    expect(r.response.headers.get('x-tiermesh-attempts')).toBe('1');
    // A skip is no call: not a fallback, and its line is debug (every request says so while the breaker is open).
    expect(metricSum(await metrics(sidecar), 'tiermesh_fallbacks_total', { reason: 'breaker_open' })).toBe(0);
    const skip = sidecar.logs.byMsg('fallback').filter((l) => l['reason'] === 'breaker_open');
    expect(skip.length).toBeGreaterThanOrEqual(1);
    for (const l of skip) expect(l['level']).toBe(20); // debug

    flaky.script(() => behave.ok('flaky is back', { prompt: 5, completion: 5 }));
    await vi.waitFor(
      async () =>
        expect(metricValue(await metrics(sidecar), 'tiermesh_breaker_state', { provider: 'flaky' })).toBe(1),
      WAIT,
    );
    const probe = await ask();
    expect(probe.response.headers.get('x-tiermesh-provider')).toBe('flaky');
    expect(probe.data.choices[0]!.message.content).toBe('flaky is back');
    expect(metricValue(await metrics(sidecar), 'tiermesh_breaker_state', { provider: 'flaky' })).toBe(0);
  });

  it('answers 502 with the OpenAI error body and routing headers when every target fails', async () => {
    flaky.script(() => behave.error(500));
    backup.script([behave.error(500)]);
    // The cheap tier failing whole promotes the request to premium (spec.promotion defaults to up); it fails too.
    premium.script([behave.error(500)]);
    const err = await ask().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    const e = err as InstanceType<typeof OpenAI.APIError>;
    expect(e.status).toBe(502);
    expect(e.code).toBe('TM_ALL_TARGETS_FAILED');
    expect(e.headers?.get('x-tiermesh-tier')).toBe('premium');
    expect(e.headers?.get('x-tiermesh-promoted-from')).toBe('cheap');
    expect(e.headers?.get('x-tiermesh-attempts')).toBe('3');
    expect(e.headers?.get('x-tiermesh-cost-usd')).toBe('0');
    flaky.script(() => behave.ok());
  });
});

describe('cascade', () => {
  let cheap: Fixture;
  let premium: Fixture;
  let sidecar: TestSidecar;
  let client: OpenAI;

  beforeAll(async () => {
    cheap = await fixture();
    premium = await fixture();
    sidecar = await startTestSidecar(
      routeConfig({
        upstreams: [
          { name: 'cheap-up', baseURL: cheap.baseURL },
          { name: 'premium-up', baseURL: premium.baseURL },
        ],
        cheap: [{ name: 'small-model', upstreams: ['cheap-up'], inputPerMTok: 1, outputPerMTok: 1 }],
        premium: [{ name: 'big-model', upstreams: ['premium-up'], inputPerMTok: 10, outputPerMTok: 10 }],
      }),
    );
    sidecars.push(sidecar);
    client = new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'x', maxRetries: 0 });
  });

  const askJson = () =>
    client.chat.completions
      .create({
        model: 'auto',
        messages: [{ role: 'user', content: 'give me a json object with a key ok' }],
        response_format: { type: 'json_object' },
      })
      .withResponse();

  it('escalates to the next tier when the cheap answer is not the JSON asked for, and books both', async () => {
    cheap.script([behave.ok('sure! here it is: {ok: yes', { prompt: 100, completion: 100 })]);
    premium.script([behave.ok('{"ok": true}', { prompt: 100, completion: 100 })]);
    const r = await askJson();
    expect(r.data.choices[0]!.message.content).toBe('{"ok": true}');
    expect(r.response.headers.get('x-tiermesh-tier')).toBe('premium');
    expect(r.response.headers.get('x-tiermesh-model')).toBe('big-model');
    expect(r.response.headers.get('x-tiermesh-attempts')).toBe('2');
    // Both answers were paid for: 200 tokens at $1/M + 200 at $10/M.
    expect(Number(r.response.headers.get('x-tiermesh-cost-usd'))).toBeCloseTo(0.0022, 12);
    const text = await metrics(sidecar);
    // An escalation is counted (and logged) as one, not as a fallback too.
    expect(metricSum(text, 'tiermesh_fallbacks_total', { reason: 'quality' })).toBe(0);
    expect(
      metricValue(text, 'tiermesh_cascade_escalations_total', { tier: 'cheap', check: 'json' }),
    ).toBeGreaterThanOrEqual(1);
    expect(sidecar.logs.byMsg('fallback').filter((l) => l['reason'] === 'quality')).toEqual([]);
    expect(metricValue(text, 'tiermesh_tokens_total', { model: 'small-model', direction: 'output' })).toBe(
      100,
    );
    expect(metricValue(text, 'tiermesh_tokens_total', { model: 'big-model', direction: 'output' })).toBe(100);
    expect(sidecar.logs.byMsg('cascade').at(-1)).toMatchObject({ check: 'json', to: 'premium' });
  });

  it('keeps a good cheap answer', async () => {
    cheap.script([behave.ok('{"ok": 1}', { prompt: 10, completion: 10 })]);
    const before = premium.calls.length;
    const r = await askJson();
    expect(r.response.headers.get('x-tiermesh-tier')).toBe('cheap');
    expect(premium.calls.length).toBe(before);
  });

  it('serves the cheap answer when the escalation fails outright, rather than an error', async () => {
    cheap.script([behave.ok('not json at all', { prompt: 50, completion: 50 })]);
    premium.script([behave.error(500)]);
    const r = await askJson();
    expect(r.response.status).toBe(200);
    expect(r.data.choices[0]!.message.content).toBe('not json at all');
    expect(r.response.headers.get('x-tiermesh-tier')).toBe('cheap');
    expect(r.response.headers.get('x-tiermesh-model')).toBe('small-model');
    // The cheap answer was paid for: 100 tokens at $1/M.
    expect(Number(r.response.headers.get('x-tiermesh-cost-usd'))).toBeCloseTo(0.0001, 12);
    expect(sidecar.logs.byMsg('fallback').at(-1)).toMatchObject({
      from: 'premium-up',
      reason: 'server_error',
    });
    expect(sidecar.logs.byMsg('request').at(-1)).toMatchObject({
      status: 200,
      escalations: 1,
      tier: 'cheap',
    });
  });

  it('serves the last tier answer as is when it fails too (maxEscalations reached)', async () => {
    cheap.script([behave.ok('', { prompt: 10, completion: 0 })]);
    premium.script([behave.ok('', { prompt: 10, completion: 0 })]);
    const r = await client.chat.completions
      .create({ model: 'auto', messages: [{ role: 'user', content: SIMPLE_PROMPT }] })
      .withResponse();
    expect(r.response.headers.get('x-tiermesh-tier')).toBe('premium');
    expect(r.data.choices[0]!.message.content).toBe('');
  });
});

describe('streams that break or are abandoned', () => {
  let up: Fixture;
  let up2: Fixture;
  let sidecar: TestSidecar;
  let client: OpenAI;

  beforeAll(async () => {
    up = await fixture();
    up2 = await fixture();
    up2.fallback(behave.ok('second target works'));
    sidecar = await startTestSidecar(
      routeConfig({
        upstreams: [
          { name: 'up', baseURL: up.baseURL },
          { name: 'up2', baseURL: up2.baseURL },
        ],
        cheap: [{ name: 'small-model', upstreams: ['up', 'up2'] }],
        premium: [{ name: 'big-model', upstreams: ['up'] }],
      }),
    );
    sidecars.push(sidecar);
    client = new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'x', maxRetries: 0 });
  });

  it('sends an SSE error event when the upstream dies after the first chunk; the SDK throws', async () => {
    up.script([{ ...behave.ok('one two three four five six'), breakAfterChunks: 2 }]);
    const stream = await client.chat.completions.create({
      model: 'auto',
      messages: [{ role: 'user', content: SIMPLE_PROMPT }],
      stream: true,
    });
    let text = '';
    const err = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(String((err as Error).message)).toMatch(/stream/);
    expect(text.length).toBeGreaterThan(0);
  });

  it('fails over before the first byte of a stream', async () => {
    up.script([behave.error(500)]);
    const r = await client.chat.completions
      .create({ model: 'auto', messages: [{ role: 'user', content: SIMPLE_PROMPT }], stream: true })
      .withResponse();
    let text = '';
    for await (const chunk of r.data) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('second target works');
    expect(r.response.headers.get('x-tiermesh-provider')).toBe('up2');
    expect(r.response.headers.get('x-tiermesh-attempts')).toBe('2');
  });

  it('aborts the upstream when the client disconnects, and still books what was streamed', async () => {
    const words = Array.from({ length: 200 }, (_, i) => `word${i}`).join(' ');
    up.script([{ ...behave.ok(words), chunkDelayMs: 50 }]);
    const ac = new AbortController();
    const stream = await client.chat.completions.create(
      { model: 'auto', messages: [{ role: 'user', content: COMPLEX_PROMPT }], stream: true },
      { signal: ac.signal },
    );
    let chunks = 0;
    await (async () => {
      for await (const _ of stream) if (++chunks === 3) ac.abort();
    })().catch(() => {});
    // The request is only finished (499 counted) once the upstream read loop ends; the upstream would keep sending
    // for 10 s, longer than WAIT allows, so seeing it means the upstream call was aborted.
    await vi.waitFor(
      async () =>
        expect(metricValue(await metrics(sidecar), 'tiermesh_requests_total', { status: '499' })).toBe(1),
      WAIT,
    );
    const text = await metrics(sidecar);
    // No usage chunk ever came (the upstream was cut off); the streamed words were estimated and booked.
    expect(metricSum(text, 'tiermesh_tokens_total', { direction: 'output' })).toBeGreaterThan(0);
    const line = sidecar.logs.byMsg('request').find((l) => l['status'] === 499);
    expect(line).toBeDefined();
    expect(line!['outputTokens']).toBeGreaterThan(0);
  });
});

describe('failover across vendors', () => {
  let openaiUp: Fixture;
  let anthropicUp: Fixture;
  let sidecar: TestSidecar;
  let client: OpenAI;

  beforeAll(async () => {
    openaiUp = await fixture();
    anthropicUp = await startAnthropicFixture({ apiKey: 'sk-ant-test' });
    fixtures.push(anthropicUp);
    anthropicUp.fallback(behave.ok('claude says hi', { prompt: 11, completion: 4 }));
    const yaml = routeConfig({
      upstreams: [{ name: 'oai', baseURL: openaiUp.baseURL }],
      cheap: [{ name: 'small-model', upstreams: ['oai', 'claude'] }],
      premium: [{ name: 'big-model', upstreams: ['oai'] }],
    }).replace(
      'providers:\n',
      `providers:\n    - name: claude\n      type: anthropic\n      baseURL: ${anthropicUp.baseURL}\n      apiKey: { env: ANT_KEY }\n`,
    );
    sidecar = await startTestSidecar(yaml, { env: { ANT_KEY: 'sk-ant-test' } });
    sidecars.push(sidecar);
    client = new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'x', maxRetries: 0 });
  });

  it('answers in OpenAI shape from an Anthropic upstream when the OpenAI one fails, JSON and streamed', async () => {
    openaiUp.script([behave.error(500), behave.error(503)]);
    const r = await client.chat.completions
      .create({ model: 'auto', messages: [{ role: 'user', content: SIMPLE_PROMPT }] })
      .withResponse();
    expect(r.data.choices[0]!.message.content).toBe('claude says hi');
    expect(r.data.usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 4 });
    expect(r.response.headers.get('x-tiermesh-provider')).toBe('claude');
    expect(anthropicUp.calls.at(-1)!.headers['x-api-key']).toBe('sk-ant-test');

    const s = await client.chat.completions.create({
      model: 'auto',
      messages: [{ role: 'user', content: SIMPLE_PROMPT }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const c of s) {
      text += c.choices[0]?.delta.content ?? '';
      if (c.usage) usage = c.usage;
    }
    expect(text).toBe('claude says hi');
    expect(usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 4 });
  });
});
