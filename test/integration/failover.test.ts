/** Failover, retries, deadlines and circuit breakers, end to end against the vendor fixtures over loopback. */
import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type ModelRouteSpecInput, modelRouteSpec } from '../../src/api/modelroute.js';
import type { ChatCompletionChunk, ChatCompletionRequest } from '../../src/api/openai.js';
import { BreakerBoard, type BreakerStateChange } from '../../src/providers/breaker.js';
import {
  ExecutionError,
  type ExecutionPlan,
  executeCompletion,
  executeStream,
} from '../../src/providers/failover.js';
import { defaultKeyEnv } from '../../src/providers/keys.js';
import { buildRouteProviders } from '../../src/providers/registry.js';
import { ProviderError } from '../../src/providers/types.js';
import {
  behave,
  type Fixture,
  startAnthropicFixture,
  startOpenAIFixture,
} from '../fixtures/providers/index.js';

const KEY_A = 'sk-primary-0123456789abcdef';
const KEY_B = 'sk-secondary-0123456789abcdef';
const KEY_C = 'sk-ant-claude-0123456789abcdef';

let primary: Fixture;
let secondary: Fixture;
let claude: Fixture;
let board: BreakerBoard;
let changes: BreakerStateChange[];

beforeAll(async () => {
  [primary, secondary, claude] = await Promise.all([
    startOpenAIFixture({ apiKey: KEY_A }),
    startOpenAIFixture({ apiKey: KEY_B }),
    startAnthropicFixture({ apiKey: KEY_C }),
  ]);
});
afterAll(async () => {
  await Promise.all([primary.close(), secondary.close(), claude.close()]);
});
beforeEach(() => {
  for (const f of [primary, secondary, claude]) {
    f.script([]);
    f.fallback(behave.ok());
    f.requests.length = 0;
    f.calls.length = 0;
  }
  board = new BreakerBoard();
  changes = [];
  board.on('state', (c) => changes.push(c));
});
afterEach(() => board.shutdown());

type Resilience = NonNullable<ModelRouteSpecInput['resilience']>;

/** A route with model "chat" served by primary, then secondary (OpenAI wire), and "claude" by the Anthropic fixture. */
function plan(
  models: string[],
  resilience: Partial<Resilience> = {},
  env: Record<string, string> = {},
): ExecutionPlan {
  const spec = modelRouteSpec.parse({
    providers: [
      { name: 'primary', type: 'openai', baseURL: primary.baseURL, apiKey: { env: 'KEY_A' } },
      { name: 'secondary', type: 'openai-compatible', baseURL: secondary.baseURL, apiKey: { env: 'KEY_B' } },
      { name: 'claude', type: 'anthropic', baseURL: claude.baseURL, apiKey: { env: 'KEY_C' } },
      { name: 'nokey', type: 'openai', baseURL: primary.baseURL, apiKey: { env: 'UNSET_KEY' } },
      { name: 'sim', type: 'simulated', simulated: { latencyMs: 5, tokensPerSecond: 5000 } },
    ],
    models: [
      {
        name: 'chat',
        targets: [
          { provider: 'primary', model: 'gpt-4o-mini-2024-07-18' },
          { provider: 'secondary', model: 'meta-llama/Llama-3.1-8B-Instruct' },
        ],
        pricing: { inputPerMTok: 0.15, outputPerMTok: 0.6 },
        contextWindow: 128000,
      },
      {
        name: 'solo',
        targets: [{ provider: 'primary' }],
        pricing: { inputPerMTok: 1, outputPerMTok: 1 },
        contextWindow: 8192,
      },
      {
        name: 'claude',
        targets: [{ provider: 'claude', model: 'claude-3-5-haiku-20241022' }],
        pricing: { inputPerMTok: 0.8, outputPerMTok: 4 },
        contextWindow: 200000,
      },
      {
        name: 'demo',
        targets: [{ provider: 'nokey' }, { provider: 'sim' }],
        pricing: { inputPerMTok: 1, outputPerMTok: 1 },
        contextWindow: 8192,
      },
    ],
    tiers: [{ name: 'all', models: ['chat', 'solo', 'claude', 'demo'] }],
    resilience: {
      timeoutMs: 5000,
      firstByteTimeoutMs: 5000,
      retries: { attempts: 1, backoffMs: 10, maxBackoffMs: 2000 },
      breaker: {
        errorThresholdPercentage: 50,
        volumeThreshold: 50,
        resetTimeoutMs: 10_000,
        rollingWindowMs: 10_000,
      },
      ...resilience,
    },
  });
  const providers = buildRouteProviders(
    { name: 'default', spec },
    { breakers: board, keyEnv: defaultKeyEnv({ KEY_A, KEY_B, KEY_C, ...env }) },
  );
  return providers.plan(models.map((n) => spec.models.find((m) => m.name === n)!));
}

const body = (extra: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest => ({
  model: 'auto',
  messages: [{ role: 'user', content: 'hello' }],
  ...extra,
});

async function collect(it: AsyncIterable<ChatCompletionChunk>): Promise<string> {
  let s = '';
  for await (const c of it) s += c.choices[0]?.delta.content ?? '';
  return s;
}

async function executionError(p: Promise<unknown>): Promise<ExecutionError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ExecutionError);
    return e as ExecutionError;
  }
  throw new Error('expected an ExecutionError');
}

describe('executeCompletion / executeStream', () => {
  it('answers from the first target with the upstream model id mapped', async () => {
    primary.script([behave.ok('first!', { prompt: 3, completion: 1 })]);
    const r = await executeCompletion(plan(['chat']), body());
    expect(r.completion.choices[0]?.message.content).toBe('first!');
    expect(r.served).toEqual({ provider: 'primary', model: 'chat', upstreamModel: 'gpt-4o-mini-2024-07-18' });
    expect(r.attempts).toBe(1);
    expect(r.fallbacks).toEqual([]);
    expect(primary.calls[0]?.body).toMatchObject({ model: 'gpt-4o-mini-2024-07-18' });
    expect(primary.calls[0]?.headers.authorization).toBe(`Bearer ${KEY_A}`);
  });

  it('answers from Anthropic, JSON and streamed, in OpenAI shape', async () => {
    claude.script([behave.ok('json answer'), behave.ok('streamed answer', { prompt: 7, completion: 2 })]);
    const r = await executeCompletion(plan(['claude']), body());
    expect(r.completion.choices[0]?.message.content).toBe('json answer');
    expect(r.served.upstreamModel).toBe('claude-3-5-haiku-20241022');
    const s = await executeStream(plan(['claude']), body({ stream: true }));
    const chunks: ChatCompletionChunk[] = [];
    for await (const c of s.chunks) chunks.push(c);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('streamed answer');
    expect(chunks.at(-1)?.usage).toEqual({ prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 });
    expect(claude.calls[1]?.headers['x-api-key']).toBe(KEY_C);
  });

  it('retries a 429 after its Retry-After, on the same target', async () => {
    primary.script([behave.rateLimited('1'), behave.ok('after wait')]);
    const r = await executeCompletion(plan(['solo']), body());
    expect(r.completion.choices[0]?.message.content).toBe('after wait');
    expect(r.attempts).toBe(2);
    expect(r.fallbacks).toMatchObject([{ reason: 'rate_limited', action: 'retry', status: 429 }]);
    const gap = primary.calls[1]!.receivedAt - primary.calls[0]!.receivedAt;
    expect(gap).toBeGreaterThanOrEqual(950);
  });

  it('skips to the next target when Retry-After is longer than the backoff allows', async () => {
    primary.script([behave.rateLimited('30')]);
    const r = await executeCompletion(plan(['chat']), body());
    expect(r.served.provider).toBe('secondary');
    expect(primary.calls.length).toBe(1);
  });

  it('fails over a 500 to the second target after the configured retries', async () => {
    primary.fallback(behave.error(500));
    secondary.script([behave.ok('from secondary')]);
    const events: string[] = [];
    const r = await executeCompletion(plan(['chat']), body(), {
      onFallback: (e) => events.push(`${e.from.provider}:${e.reason}:${e.action}`),
    });
    expect(r.completion.choices[0]?.message.content).toBe('from secondary');
    expect(r.served).toMatchObject({
      provider: 'secondary',
      upstreamModel: 'meta-llama/Llama-3.1-8B-Instruct',
    });
    expect(r.attempts).toBe(3);
    expect(events).toEqual(['primary:server_error:retry', 'primary:server_error:next-target']);
    expect(primary.calls.length).toBe(2);
    expect(secondary.calls[0]?.body).toMatchObject({ model: 'meta-llama/Llama-3.1-8B-Instruct' });
    expect(secondary.calls[0]?.headers.authorization).toBe(`Bearer ${KEY_B}`);
  });

  it('times out a hung upstream and fails over without retrying it', async () => {
    primary.script([behave.hang()]);
    const r = await executeCompletion(plan(['chat'], { timeoutMs: 300 }), body());
    expect(r.served.provider).toBe('secondary');
    expect(r.fallbacks).toMatchObject([{ reason: 'timeout', action: 'next-target' }]);
    expect(r.fallbacks[0]!.latencyMs).toBeGreaterThanOrEqual(290);
    expect(primary.calls.length).toBe(1);
  });

  it('fails over on a slow first byte', async () => {
    primary.script([behave.slowFirstByte(3000)]);
    const r = await executeCompletion(
      plan(['chat'], { firstByteTimeoutMs: 200, retries: { attempts: 0, backoffMs: 0, maxBackoffMs: 0 } }),
      body(),
    );
    expect(r.served.provider).toBe('secondary');
    expect(r.fallbacks).toMatchObject([{ reason: 'timeout' }]);
  });

  it('fails over malformed JSON as bad_response', async () => {
    primary.fallback(behave.malformed());
    const r = await executeCompletion(plan(['chat']), body());
    expect(r.served.provider).toBe('secondary');
    expect(r.fallbacks.map((f) => f.reason)).toEqual(['bad_response', 'bad_response']);
  });

  it('does not fail over a client error', async () => {
    primary.script([behave.error(400)]);
    const e = await executionError(executeCompletion(plan(['chat']), body()));
    expect(e.code).toBe('TM_UPSTREAM_REJECTED');
    expect(e.status).toBe(400);
    expect(e.message).toContain("Invalid value for 'temperature'");
    // The provider's own code, and who it was.
    expect(e.toBody().error.code).toBe('invalid_value');
    expect(e.rejected?.by.provider).toBe('primary');
    expect(secondary.calls.length).toBe(0);
  });

  describe('an account out of credit or quota', () => {
    // One counted failure opens a breaker here: "the breaker counted it" is a sharp assertion.
    const breaker = {
      errorThresholdPercentage: 1,
      volumeThreshold: 1,
      resetTimeoutMs: 60_000,
      rollingWindowMs: 60_000,
    };

    it("moves on from Anthropic's 400 credit balance too low, and counts it against the breaker", async () => {
      claude.script([
        behave.error(400, {
          errorMessage:
            'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.',
        }),
      ]);
      primary.script([behave.ok('served elsewhere')]);
      const r = await executeCompletion(plan(['claude', 'chat'], { breaker }), body());
      expect(r.completion.choices[0]?.message.content).toBe('served elsewhere');
      expect(r.fallbacks).toMatchObject([
        { from: { provider: 'claude' }, reason: 'auth', status: 400, action: 'next-target' },
      ]);
      expect(claude.calls.length).toBe(1);
      expect(changes).toEqual([
        { route: 'default', provider: 'claude', model: 'claude-3-5-haiku-20241022', state: 'open' },
      ]);
    });

    it("moves on at once from OpenAI's 429 insufficient_quota, without retrying it, and counts it", async () => {
      primary.script([
        behave.error(429, {
          errorType: 'insufficient_quota',
          errorCode: 'insufficient_quota',
          errorMessage: 'You exceeded your current quota, please check your plan and billing details.',
        }),
      ]);
      secondary.script([behave.ok('served elsewhere')]);
      // plan() allows one retry per target: a rate limit would be retried on primary, a dead account is not.
      const r = await executeCompletion(plan(['chat'], { breaker }), body());
      expect(r.completion.choices[0]?.message.content).toBe('served elsewhere');
      expect(r.fallbacks).toMatchObject([
        { from: { provider: 'primary' }, reason: 'auth', status: 429, action: 'next-target' },
      ]);
      expect(primary.calls.length).toBe(1);
      expect(changes).toEqual([
        { route: 'default', provider: 'primary', model: 'gpt-4o-mini-2024-07-18', state: 'open' },
      ]);
    });
  });

  it('reports every failure when no target answers', async () => {
    primary.fallback(behave.error(500));
    secondary.fallback(behave.error(503));
    const e = await executionError(executeCompletion(plan(['chat']), body()));
    expect(e.code).toBe('TM_ALL_TARGETS_FAILED');
    expect(e.toBody().error.type).toBe('api_error');
    expect(e.fallbacks.map((f) => `${f.from.provider}:${f.status}`)).toEqual([
      'primary:500',
      'primary:500',
      'secondary:503',
      'secondary:503',
    ]);
    expect(e.attempts).toBe(4);
  });

  it('fails over a stream that breaks before its first chunk', async () => {
    primary.script([behave.breakAfter(0)]);
    secondary.script([behave.ok('clean stream')]);
    const s = await executeStream(
      plan(['chat'], { retries: { attempts: 0, backoffMs: 0, maxBackoffMs: 0 } }),
      body({ stream: true }),
    );
    expect(s.served.provider).toBe('secondary');
    expect(s.fallbacks).toMatchObject([
      { from: { provider: 'primary' }, reason: 'connection', action: 'next-target' },
    ]);
    expect(await collect(s.chunks)).toBe('clean stream');
  });

  it('fails over an Anthropic stream that sends overloaded_error right after message_start', async () => {
    // message_start only names the role: the client has been sent nothing yet, so the error can still fail over.
    claude.script([{ ...behave.ok('never sent'), breakAfterChunks: 1, streamErrorType: 'overloaded_error' }]);
    primary.script([behave.ok('fallback answer')]);
    const s = await executeStream(
      plan(['claude', 'chat'], { retries: { attempts: 0, backoffMs: 0, maxBackoffMs: 0 } }),
      body({ stream: true }),
    );
    expect(s.served.provider).toBe('primary');
    expect(s.fallbacks).toMatchObject([
      { from: { provider: 'claude' }, reason: 'server_error', action: 'next-target' },
    ]);
    expect(await collect(s.chunks)).toBe('fallback answer');
    expect(claude.calls.length).toBe(1);
  });

  it('fails over an OpenAI stream that dies after its role-only chunk', async () => {
    primary.script([behave.breakAfter(1)]);
    secondary.script([behave.ok('clean stream')]);
    const s = await executeStream(
      plan(['chat'], { retries: { attempts: 0, backoffMs: 0, maxBackoffMs: 0 } }),
      body({ stream: true }),
    );
    expect(s.served.provider).toBe('secondary');
    expect(s.fallbacks).toMatchObject([
      { from: { provider: 'primary' }, reason: 'connection', action: 'next-target' },
    ]);
    const chunks: ChatCompletionChunk[] = [];
    for await (const c of s.chunks) chunks.push(c);
    // The held role chunk still goes out, ahead of the first one with text.
    expect(chunks[0]?.choices[0]?.delta).toMatchObject({ role: 'assistant' });
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('clean stream');
  });

  it('keeps the first-byte deadline armed past message_start until the first token', async () => {
    // message_start at once, the first text only three chunk delays later: past the first-byte deadline.
    claude.script([{ ...behave.ok('late words'), chunkDelayMs: 700 }]);
    primary.script([behave.ok('in time')]);
    const s = await executeStream(
      plan(['claude', 'chat'], {
        firstByteTimeoutMs: 300,
        retries: { attempts: 0, backoffMs: 0, maxBackoffMs: 0 },
      }),
      body({ stream: true }),
    );
    expect(s.served.provider).toBe('primary');
    expect(s.fallbacks).toMatchObject([
      { from: { provider: 'claude' }, reason: 'timeout', action: 'next-target' },
    ]);
    expect(await collect(s.chunks)).toBe('in time');
  });

  it('surfaces a stream that breaks after its first chunk, without failing over', async () => {
    primary.script([{ ...behave.ok('one two three four five'), breakAfterChunks: 3 }]);
    const s = await executeStream(plan(['chat']), body({ stream: true }));
    expect(s.served.provider).toBe('primary');
    let got = '';
    let err: unknown;
    try {
      for await (const c of s.chunks) got += c.choices[0]?.delta.content ?? '';
    } catch (e) {
      err = e;
    }
    expect(got).toBe('one two');
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).reason).toBe('stream_broken');
    expect((err as ProviderError).message).toMatch(/stream broke after the first chunk \(connection/);
    expect(secondary.calls.length).toBe(0);
  });

  it('closes the upstream when the consumer stops reading early', async () => {
    primary.script([{ ...behave.ok('a b c d e f g h'), chunkDelayMs: 20 }]);
    const s = await executeStream(plan(['solo']), body({ stream: true }));
    for await (const _ of s.chunks) break;
    // The next call reuses or opens a connection normally: nothing is left hanging on our side.
    primary.script([behave.ok('next')]);
    const r = await executeCompletion(plan(['solo']), body());
    expect(r.completion.choices[0]?.message.content).toBe('next');
  });

  it('skips a provider whose key is unset and serves from the simulated provider', async () => {
    const r = await executeCompletion(plan(['demo']), body());
    expect(r.served).toMatchObject({ provider: 'sim', model: 'demo' });
    expect(r.fallbacks).toEqual([
      {
        route: 'default',
        from: { provider: 'nokey', model: 'demo', upstreamModel: 'demo' },
        reason: 'unavailable',
        latencyMs: 0,
        action: 'next-target',
        detail: 'provider "nokey" has no API key: environment variable UNSET_KEY is not set',
      },
    ]);
    expect(r.completion.choices[0]?.message.content).toMatch(/simulated/);
    expect(primary.requests.length).toBe(0);
  });

  it('declines requests Anthropic cannot express (legacy functions) and fails over without calling or blaming it', async () => {
    const functions = [{ name: 'lookup', parameters: { type: 'object' } }];
    const r = await executeCompletion(plan(['claude', 'chat']), body({ functions }));
    expect(r.served.provider).toBe('primary');
    expect(r.fallbacks).toMatchObject([
      { from: { provider: 'claude' }, reason: 'unavailable', action: 'next-target' },
    ]);
    expect(claude.calls.length).toBe(0);
    expect(primary.calls[0]?.body).toMatchObject({ functions });
  });

  it('keeps keys out of errors, even when upstreams echo them', async () => {
    primary.fallback(behave.error(401, { errorMessage: `Incorrect API key provided: ${KEY_A}` }));
    secondary.fallback(behave.error(500, { errorMessage: `upstream saw Authorization: Bearer ${KEY_B}` }));
    const e = await executionError(executeCompletion(plan(['chat']), body()));
    const everything = JSON.stringify({ message: e.message, body: e.toBody(), fallbacks: e.fallbacks });
    expect(everything).not.toContain(KEY_A);
    expect(everything).not.toContain(KEY_B);
    expect(everything).not.toContain('0123456789abcdef');
  });

  it('stops at once when the client goes away', async () => {
    primary.script([behave.hang()]);
    const ac = new AbortController();
    const before = primary.calls.length;
    const p = executeCompletion(plan(['chat']), body(), { signal: ac.signal });
    // Abort while the primary is hanging on it, not before the call went out.
    await vi.waitFor(() => expect(primary.calls.length).toBe(before + 1), { timeout: 10_000, interval: 10 });
    ac.abort();
    const e = await executionError(p);
    expect(e.aborted).toBe(true);
    expect(secondary.calls.length).toBe(0);
  });
});

describe('circuit breaker', () => {
  const breaker = {
    errorThresholdPercentage: 50,
    volumeThreshold: 2,
    resetTimeoutMs: 400,
    rollingWindowMs: 10_000,
  };
  const noRetry = { attempts: 0, backoffMs: 0, maxBackoffMs: 0 };

  it('opens after repeated failures, skips the target without calling it, and recovers half-open', async () => {
    const p = () => plan(['chat'], { breaker, retries: noRetry });
    primary.fallback(behave.error(500));
    await executeCompletion(p(), body());
    await executeCompletion(p(), body());
    expect(primary.calls.length).toBe(2);
    expect(changes).toEqual([
      { route: 'default', provider: 'primary', model: 'gpt-4o-mini-2024-07-18', state: 'open' },
    ]);

    const halfOpen = once(board, 'state');
    const skipped = await executeCompletion(p(), body());
    expect(primary.calls.length).toBe(2);
    expect(skipped.served.provider).toBe('secondary');
    expect(skipped.fallbacks).toMatchObject([{ reason: 'breaker_open', latencyMs: 0 }]);

    await halfOpen;
    expect(changes.at(-1)?.state).toBe('half_open');
    primary.fallback(behave.ok('recovered'));
    const probe = await executeCompletion(p(), body());
    expect(probe.served.provider).toBe('primary');
    expect(primary.calls.length).toBe(3);
    expect(changes.at(-1)?.state).toBe('closed');
    expect(board.states()).toContainEqual({
      route: 'default',
      provider: 'primary',
      model: 'gpt-4o-mini-2024-07-18',
      state: 'closed',
    });
  });

  it('re-opens when the half-open probe fails', async () => {
    const p = () => plan(['chat'], { breaker, retries: noRetry });
    primary.fallback(behave.error(500));
    await executeCompletion(p(), body());
    await executeCompletion(p(), body());
    await once(board, 'state');
    await executeCompletion(p(), body());
    expect(primary.calls.length).toBe(3);
    expect(changes.map((c) => c.state)).toEqual(['open', 'half_open', 'open']);
  });

  it('a half-open stream probe closes the breaker at its first chunk: a call meanwhile reaches the recovered target', async () => {
    const p = () => plan(['chat'], { breaker, retries: noRetry });
    primary.fallback(behave.error(500));
    await executeCompletion(p(), body());
    await executeCompletion(p(), body());
    await once(board, 'state');
    expect(changes.map((c) => c.state)).toEqual(['open', 'half_open']);
    // The probe: a stream still open (no terminator yet, its end held) while the next call is made.
    let release = () => {};
    const holdEnd = new Promise<void>((r) => (release = r));
    primary.fallback({ ...behave.ok('one two three'), endWithoutDone: true, holdEnd });
    const probe = await executeStream(p(), body({ stream: true }));
    expect(probe.served.provider).toBe('primary');
    let probeEnded = false;
    const probeDone = collect(probe.chunks).finally(() => (probeEnded = true));
    await vi.waitFor(() => expect(changes.at(-1)?.state).toBe('closed'));
    primary.fallback(behave.ok('recovered'));
    const meanwhile = await executeCompletion(p(), body());
    expect(meanwhile.served.provider).toBe('primary');
    expect(meanwhile.fallbacks).toEqual([]);
    expect(probeEnded).toBe(false);
    release();
    await expect(probeDone).resolves.toBe('one two three');
    expect(changes.map((c) => c.state)).toEqual(['open', 'half_open', 'closed']);
  });

  it('counts streams that break after their first chunk', async () => {
    const p = () => plan(['chat'], { breaker, retries: noRetry });
    primary.fallback({ ...behave.ok('one two three'), breakAfterChunks: 2 });
    for (let i = 0; i < 2; i++) {
      const s = await executeStream(p(), body({ stream: true }));
      expect(s.served.provider).toBe('primary');
      await expect(collect(s.chunks)).rejects.toMatchObject({ reason: 'stream_broken' });
    }
    await new Promise((r) => setImmediate(r));
    expect(changes.map((c) => c.state)).toEqual(['open']);
    const s = await executeStream(p(), body({ stream: true }));
    expect(s.served.provider).toBe('secondary');
    expect(primary.calls.length).toBe(2);
  });

  it('does not count client errors', async () => {
    const p = () => plan(['chat'], { breaker, retries: noRetry });
    primary.fallback(behave.error(400));
    for (let i = 0; i < 4; i++) await executionError(executeCompletion(p(), body()));
    expect(primary.calls.length).toBe(4);
    expect(changes).toEqual([]);
  });

  it('answers 503 TM_BREAKER_OPEN when every target is open', async () => {
    const p = () => plan(['solo'], { breaker, retries: noRetry });
    primary.fallback(behave.error(500));
    await executionError(executeCompletion(p(), body()));
    await executionError(executeCompletion(p(), body()));
    const e = await executionError(executeCompletion(p(), body()));
    expect(e.code).toBe('TM_BREAKER_OPEN');
    expect(e.status).toBe(503);
    expect(primary.calls.length).toBe(2);
  });
});
