/**
 * Busy providers through the real sidecar over real sockets, to the real SDKs. When every target says it is
 * overloaded (Anthropic's 529, a 503, Gemini's UNAVAILABLE) an Anthropic client gets what Anthropic would send, a 529
 * `overloaded_error` (the SDK's OverloadedError, which it retries) with the soonest Retry-After the providers gave;
 * an OpenAI client keeps the 502 with the code saying so. A stream that breaks after its first chunk with the
 * provider's overload or rate-limit error ends with an error event of that class, not a bare `api_error`.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  behave,
  type Fixture,
  startAnthropicFixture,
  startGeminiFixture,
  startOpenAIFixture,
} from '../fixtures/providers/index.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

const KEYS = { OA_KEY: 'sk-test-oa-0123456789', AN_KEY: 'sk-ant-test-0123456789', GE_KEY: 'AIzaSyTest0123' };

let anth: Fixture;
let anth2: Fixture;
let oa: Fixture;
let gem: Fixture;
let sidecar: TestSidecar;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  anth = await startAnthropicFixture({ apiKey: KEYS.AN_KEY });
  anth2 = await startAnthropicFixture({ apiKey: KEYS.AN_KEY });
  oa = await startOpenAIFixture({ apiKey: KEYS.OA_KEY });
  gem = await startGeminiFixture({ apiKey: KEYS.GE_KEY });
  sidecar = await startTestSidecar(
    `
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default, namespace: test }
spec:
  providers:
    - { name: anth, type: anthropic, baseURL: "${anth.baseURL}", apiKey: { env: AN_KEY } }
    - { name: anth2, type: anthropic, baseURL: "${anth2.baseURL}", apiKey: { env: AN_KEY } }
    - { name: oa, type: openai, baseURL: "${oa.baseURL}", apiKey: { env: OA_KEY } }
    - { name: gem, type: gemini, baseURL: "${gem.baseURL}", apiKey: { env: GE_KEY } }
  models:
    - { name: claude, targets: [{ provider: anth, model: claude-sonnet-4-5 }, { provider: anth2, model: claude-sonnet-4-5 }, { provider: oa, model: gpt-4o }], pricing: { inputPerMTok: 3, outputPerMTok: 15 }, contextWindow: 200000 }
    - { name: mini, targets: [{ provider: oa, model: gpt-4o-mini }], pricing: { inputPerMTok: 0.15, outputPerMTok: 0.6 }, contextWindow: 128000 }
    - { name: flash, targets: [{ provider: gem, model: gemini-2.5-flash }], pricing: { inputPerMTok: 0.3, outputPerMTok: 2.5 }, contextWindow: 1000000 }
  tiers:
    - { name: cheap, models: [mini] }
    - { name: standard, models: [claude] }
    - { name: premium, models: [flash] }
  classifier: { mode: rules }
  cascade: { enabled: false }
  resilience: { retries: { attempts: 0, backoffMs: 10, maxBackoffMs: 20 }, breaker: { volumeThreshold: 10000 } }
`,
    { env: KEYS },
  );
  openai = new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'unused', maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: sidecar.url, apiKey: 'unused', maxRetries: 0 });
});
afterAll(async () => {
  await sidecar.close();
  await Promise.all([anth, anth2, oa, gem].map((f) => f.close()));
});
beforeEach(() => {
  for (const f of [anth, anth2, oa, gem]) f.calls.length = 0;
});

const caught = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );
const create = (model: string) =>
  anthropic.messages.create({ model, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
const streamed = (model: string) =>
  anthropic.messages.stream({ model, max_tokens: 50, messages: [{ role: 'user', content: 'count' }] });

/** Every target of `claude` answers this status, each with its own Retry-After. */
function allAnswer(status: number, after: [string, string, string]): void {
  anth.script([behave.error(status, { headers: { 'retry-after': after[0] } })]);
  anth2.script([behave.error(status, { headers: { 'retry-after': after[1] } })]);
  oa.script([behave.error(503, { headers: { 'retry-after': after[2] } })]);
}

describe('every target overloaded', () => {
  for (const stream of [false, true]) {
    it(`an Anthropic client gets 529 overloaded_error (OverloadedError) with the soonest Retry-After${stream ? ' (stream)' : ''}`, async () => {
      allAnswer(529, ['7', '3', '12']);
      const e = await caught(stream ? streamed('claude').finalMessage() : create('claude'));
      expect(e).toBeInstanceOf(Anthropic.OverloadedError);
      const err = e as InstanceType<typeof Anthropic.APIError>;
      expect(err.status).toBe(529);
      expect(err.type).toBe('overloaded_error');
      expect(err.headers?.get('retry-after')).toBe('3');
      // Each target was tried: an overload fails over like any provider failure.
      expect([anth.calls.length, anth2.calls.length, oa.calls.length]).toEqual([1, 1, 1]);
    });
  }

  it('503s everywhere are an overload too; an OpenAI client keeps the 502, its code says so, Retry-After along', async () => {
    allAnswer(503, ['9', '4', '6']);
    const a = (await caught(create('claude'))) as InstanceType<typeof Anthropic.APIError>;
    expect(a).toBeInstanceOf(Anthropic.OverloadedError);
    expect(a.headers?.get('retry-after')).toBe('4');
    allAnswer(529, ['9', '4', '6']);
    const o = (await caught(
      openai.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'hi' }] }),
    )) as InstanceType<typeof OpenAI.APIError>;
    expect(o).toBeInstanceOf(OpenAI.InternalServerError);
    expect(o.status).toBe(502);
    expect(o.code).toBe('TM_UPSTREAM_OVERLOADED');
    expect(o.type).toBe('api_error');
    expect(o.headers?.get('retry-after')).toBe('4');
  });

  it("Gemini's 503 UNAVAILABLE is an overload for an Anthropic client", async () => {
    gem.script([behave.error(503)]);
    const e = (await caught(create('flash'))) as InstanceType<typeof Anthropic.APIError>;
    expect(e).toBeInstanceOf(Anthropic.OverloadedError);
    expect(e.type).toBe('overloaded_error');
  });

  it('one target broken rather than busy: 502 api_error, no Retry-After', async () => {
    anth.script([behave.error(529, { headers: { 'retry-after': '7' } })]);
    anth2.script([behave.error(500)]);
    oa.script([behave.error(503, { headers: { 'retry-after': '7' } })]);
    const e = (await caught(create('claude'))) as InstanceType<typeof Anthropic.APIError>;
    expect(e).toBeInstanceOf(Anthropic.InternalServerError);
    expect(e).not.toBeInstanceOf(Anthropic.OverloadedError);
    expect(e.status).toBe(502);
    expect(e.type).toBe('api_error');
    expect(e.headers?.get('retry-after')).toBeNull();
  });
});

describe('a stream that breaks after its first chunk', () => {
  const cases = [
    {
      name: "Anthropic's overloaded_error",
      model: 'claude',
      up: () => anth,
      type: 'overloaded_error',
      after: 5,
    },
    {
      name: "Anthropic's rate_limit_error",
      model: 'claude',
      up: () => anth,
      type: 'rate_limit_error',
      after: 5,
    },
    {
      name: "Gemini's RESOURCE_EXHAUSTED",
      model: 'flash',
      up: () => gem,
      type: 'RESOURCE_EXHAUSTED',
      after: 2,
    },
    { name: "Gemini's UNAVAILABLE", model: 'flash', up: () => gem, type: 'UNAVAILABLE', after: 2 },
    { name: "OpenAI's rate limit", model: 'mini', up: () => oa, type: 'rate_limit_exceeded', after: 2 },
    { name: "OpenAI's overload", model: 'mini', up: () => oa, type: 'overloaded', after: 2 },
    { name: "OpenAI's server error", model: 'mini', up: () => oa, type: 'server_error', after: 2 },
  ];
  const anthropicType: Record<string, string> = {
    overloaded_error: 'overloaded_error',
    rate_limit_error: 'rate_limit_error',
    RESOURCE_EXHAUSTED: 'rate_limit_error',
    UNAVAILABLE: 'overloaded_error',
    rate_limit_exceeded: 'rate_limit_error',
    overloaded: 'overloaded_error',
    server_error: 'api_error',
  };
  for (const c of cases)
    it(`ends the Messages stream with an error event of its class: ${c.name}`, async () => {
      c.up().script([
        { ...behave.ok('one two three four five six'), breakAfterChunks: c.after, streamErrorType: c.type },
      ]);
      const s = streamed(c.model);
      let text = '';
      s.on('text', (t) => {
        text += t;
      });
      const e = (await caught(s.finalMessage())) as InstanceType<typeof Anthropic.APIError>;
      expect(text.length).toBeGreaterThan(0); // it broke after output, where no failover can help
      expect(e).toBeInstanceOf(Anthropic.APIError);
      expect(e.type).toBe(anthropicType[c.type]);
      expect(e.error).toMatchObject({ type: 'error', error: { type: anthropicType[c.type] } });
    });

  const openAICode: Record<string, [string, string]> = {
    overloaded_error: ['TM_UPSTREAM_OVERLOADED', 'api_error'],
    RESOURCE_EXHAUSTED: ['TM_RATE_LIMITED', 'rate_limit_exceeded'],
    rate_limit_exceeded: ['TM_RATE_LIMITED', 'rate_limit_exceeded'],
    server_error: ['TM_UPSTREAM_ERROR', 'api_error'],
  };
  for (const c of cases.filter((x) => openAICode[x.type]))
    it(`ends a Chat Completions stream with an error chunk of its class: ${c.name}`, async () => {
      c.up().script([
        { ...behave.ok('one two three four five six'), breakAfterChunks: c.after, streamErrorType: c.type },
      ]);
      const s = await openai.chat.completions.create({
        model: c.model,
        messages: [{ role: 'user', content: 'count' }],
        stream: true,
      });
      let text = '';
      const e = (await caught(
        (async () => {
          for await (const chunk of s) text += chunk.choices[0]?.delta.content ?? '';
        })(),
      )) as InstanceType<typeof OpenAI.APIError>;
      expect(text.length).toBeGreaterThan(0);
      expect(e).toBeInstanceOf(OpenAI.APIError);
      const [code, type] = openAICode[c.type] ?? [];
      expect(e.code).toBe(code);
      expect(e.type).toBe(type);
    });
});
