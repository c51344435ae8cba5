/**
 * A provider that refuses a request as invalid, through the real sidecar over real sockets, to the real SDKs: the
 * OpenAI SDK raises the class the provider's status calls for with the provider's `code` and `param` (a trim-and-retry
 * loop branching on `err.code === 'context_length_exceeded'` works through tiermesh), the Anthropic SDK its own error
 * type with the code in `errorCode`; the headers name the provider that refused and carry its rate limits; nothing
 * fails over. A refusal of the provider's key is not the client's fault and still fails over.
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

let oa: Fixture;
let backup: Fixture;
let anth: Fixture;
let gem: Fixture;
let sidecar: TestSidecar;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  oa = await startOpenAIFixture({ apiKey: KEYS.OA_KEY });
  backup = await startOpenAIFixture({ apiKey: KEYS.OA_KEY });
  anth = await startAnthropicFixture({ apiKey: KEYS.AN_KEY });
  gem = await startGeminiFixture({ apiKey: KEYS.GE_KEY });
  backup.fallback(behave.ok('from backup'));
  sidecar = await startTestSidecar(
    `
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default, namespace: test }
spec:
  providers:
    - { name: oa, type: openai, baseURL: "${oa.baseURL}", apiKey: { env: OA_KEY } }
    - { name: backup, type: openai, baseURL: "${backup.baseURL}", apiKey: { env: OA_KEY } }
    - { name: anth, type: anthropic, baseURL: "${anth.baseURL}", apiKey: { env: AN_KEY } }
    - { name: gem, type: gemini, baseURL: "${gem.baseURL}", apiKey: { env: GE_KEY } }
  models:
    - { name: mini, targets: [{ provider: oa, model: gpt-4o-mini }, { provider: backup, model: gpt-4o-mini }], pricing: { inputPerMTok: 0.15, outputPerMTok: 0.6 }, contextWindow: 128000 }
    - { name: haiku, targets: [{ provider: anth, model: claude-3-5-haiku-latest }], pricing: { inputPerMTok: 0.8, outputPerMTok: 4 }, contextWindow: 200000 }
    - { name: flash, targets: [{ provider: gem, model: gemini-2.5-flash }], pricing: { inputPerMTok: 0.3, outputPerMTok: 2.5 }, contextWindow: 1000000 }
  tiers:
    - { name: cheap, models: [mini] }
    - { name: standard, models: [haiku] }
    - { name: premium, models: [flash] }
  classifier: { mode: rules }
  cascade: { enabled: false }
  resilience: { retries: { attempts: 0, backoffMs: 10, maxBackoffMs: 20 } }
`,
    { env: KEYS },
  );
  openai = new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'unused', maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: sidecar.url, apiKey: 'unused', maxRetries: 0 });
});
afterAll(async () => {
  await sidecar.close();
  await Promise.all([oa, backup, anth, gem].map((f) => f.close()));
});
beforeEach(() => {
  for (const f of [oa, backup, anth, gem]) f.calls.length = 0;
});

const messages = [{ role: 'user' as const, content: 'hi' }];
const ask = (model: string, stream = false) =>
  openai.chat.completions.create({ model, messages, ...(stream ? { stream: true as const } : {}) });
const caught = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

const contextLength = behave.error(400, {
  errorType: 'invalid_request_error',
  errorCode: 'context_length_exceeded',
  errorParam: 'messages',
  errorMessage: "This model's maximum context length is 128000 tokens.",
  headers: { 'x-ratelimit-remaining-tokens': '12345', 'x-ratelimit-reset-tokens': '6m0s' },
});

describe('the OpenAI SDK', () => {
  for (const stream of [false, true]) {
    it(`gets an OpenAI upstream's 400 with its code, param, rate limits and name, without failover${stream ? ' (stream)' : ''}`, async () => {
      oa.script([contextLength]);
      const e = await caught(ask('mini', stream));
      expect(e).toBeInstanceOf(OpenAI.BadRequestError);
      const err = e as InstanceType<typeof OpenAI.BadRequestError>;
      expect(err.status).toBe(400);
      expect(err.code).toBe('context_length_exceeded');
      expect(err.param).toBe('messages');
      expect(err.type).toBe('invalid_request_error');
      expect(err.message).toContain('maximum context length is 128000 tokens');
      expect(err.headers.get('x-tiermesh-provider')).toBe('oa');
      expect(err.headers.get('x-tiermesh-model')).toBe('mini');
      expect(err.headers.get('x-ratelimit-remaining-tokens')).toBe('12345');
      expect(err.headers.get('x-ratelimit-reset-tokens')).toBe('6m0s');
      expect(oa.calls.length).toBe(1);
      expect(backup.calls.length).toBe(0);
    });
  }

  it("keeps the upstream's 422 and 413: UnprocessableEntityError, and an APIError that is no BadRequestError", async () => {
    oa.script([behave.error(422, { errorType: 'invalid_request_error', errorMessage: 'unprocessable' })]);
    const e422 = await caught(ask('mini'));
    expect(e422).toBeInstanceOf(OpenAI.UnprocessableEntityError);
    expect((e422 as InstanceType<typeof OpenAI.APIError>).status).toBe(422);
    expect((e422 as InstanceType<typeof OpenAI.APIError>).code).toBe('TM_UPSTREAM_REJECTED');
    oa.script([behave.error(413, { errorType: 'invalid_request_error', errorMessage: 'too large' })]);
    const e413 = await caught(ask('mini'));
    expect(e413).toBeInstanceOf(OpenAI.APIError);
    expect(e413).not.toBeInstanceOf(OpenAI.BadRequestError);
    expect((e413 as InstanceType<typeof OpenAI.APIError>).status).toBe(413);
    expect(backup.calls.length).toBe(0);
  });

  it("gets Anthropic's and Gemini's context-length refusals as context_length_exceeded, naming who refused", async () => {
    anth.script([behave.error(400, { errorMessage: 'prompt is too long: 208310 tokens > 200000 maximum' })]);
    const a = (await caught(ask('haiku'))) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(a).toBeInstanceOf(OpenAI.BadRequestError);
    expect(a.code).toBe('context_length_exceeded');
    expect(a.headers.get('x-tiermesh-provider')).toBe('anth');
    gem.script([
      behave.error(400, {
        errorMessage:
          'The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).',
      }),
    ]);
    const g = (await caught(ask('flash'))) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(g).toBeInstanceOf(OpenAI.BadRequestError);
    expect(g.code).toBe('context_length_exceeded');
    expect(g.headers.get('x-tiermesh-provider')).toBe('gem');
  });

  it("a refused key is not the client's fault: it fails over, and with no target left is a 502", async () => {
    oa.script([behave.error(401)]);
    const r = await openai.chat.completions.create({ model: 'mini', messages }).withResponse();
    expect(r.data.choices[0]?.message.content).toBe('from backup');
    expect(r.response.headers.get('x-tiermesh-provider')).toBe('backup');
    anth.script([behave.error(401)]);
    const e = (await caught(ask('haiku'))) as InstanceType<typeof OpenAI.APIError>;
    expect(e).toBeInstanceOf(OpenAI.InternalServerError);
    expect(e.status).toBe(502);
    expect(e.code).toBe('TM_ALL_TARGETS_FAILED');
    expect(e.headers?.get('x-tiermesh-provider')).toBe('none');
  });
});

describe("an upstream's rate limits on an answer", () => {
  it('come along with a whole answer under their own names, through either API', async () => {
    const limits = { 'x-ratelimit-remaining-requests': '499', 'x-ratelimit-reset-tokens': '6m0s' };
    oa.script([{ ...behave.ok('hello'), headers: limits }]);
    const r = await openai.chat.completions.create({ model: 'mini', messages }).withResponse();
    expect(r.data.choices[0]?.message.content).toBe('hello');
    expect(r.response.headers.get('x-ratelimit-remaining-requests')).toBe('499');
    expect(r.response.headers.get('x-ratelimit-reset-tokens')).toBe('6m0s');
    oa.script([{ ...behave.ok('hello'), headers: limits }]);
    const a = await anthropic.messages
      .create({ model: 'mini', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    expect(a.response.headers.get('x-ratelimit-remaining-requests')).toBe('499');
  });

  it('come along with a stream, in its head, through either API', async () => {
    const limits = { 'x-ratelimit-remaining-requests': '498', 'x-ratelimit-reset-tokens': '5m0s' };
    oa.script([{ ...behave.ok('hello there'), headers: limits }]);
    const { data: stream, response } = await openai.chat.completions
      .create({ model: 'mini', messages, stream: true })
      .withResponse();
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe('hello there');
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('498');
    expect(response.headers.get('x-ratelimit-reset-tokens')).toBe('5m0s');
    oa.script([{ ...behave.ok('hello there'), headers: limits }]);
    const a = await anthropic.messages
      .stream({ model: 'mini', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    expect(a.response.headers.get('x-ratelimit-remaining-requests')).toBe('498');
    // An upstream that sends none adds none.
    oa.script([behave.ok('hello there')]);
    const plain = await openai.chat.completions
      .create({ model: 'mini', messages, stream: true })
      .withResponse();
    for await (const _ of plain.data);
    expect(plain.response.headers.get('x-ratelimit-remaining-requests')).toBeNull();
  });
});

describe('the Anthropic SDK on /v1/messages', () => {
  const create = (model: string) =>
    anthropic.messages.create({ model, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });

  it("gets the refusal as its own error type, the provider's code in errorCode and its param in details", async () => {
    oa.script([contextLength]);
    const e = await caught(create('mini'));
    expect(e).toBeInstanceOf(Anthropic.BadRequestError);
    const err = e as InstanceType<typeof Anthropic.BadRequestError>;
    expect(err.status).toBe(400);
    expect(err.type).toBe('invalid_request_error');
    expect(err.errorCode).toBe('context_length_exceeded');
    expect(err.details).toEqual({ error_code: 'context_length_exceeded', param: 'messages' });
    expect(err.headers?.get('x-tiermesh-provider')).toBe('oa');
    expect(err.headers?.get('x-ratelimit-remaining-tokens')).toBe('12345');
    expect(backup.calls.length).toBe(0);
  });

  it("gets an Anthropic upstream's 413 as ContentTooLargeError (request_too_large) and its prompt-too-long as context_length_exceeded", async () => {
    anth.script([behave.error(413, { errorType: 'request_too_large', errorMessage: 'Request too large.' })]);
    const big = await caught(create('haiku'));
    expect(big).toBeInstanceOf(Anthropic.ContentTooLargeError);
    expect((big as InstanceType<typeof Anthropic.APIError>).type).toBe('request_too_large');
    anth.script([behave.error(400, { errorMessage: 'prompt is too long: 208310 tokens > 200000 maximum' })]);
    const long = (await caught(create('haiku'))) as InstanceType<typeof Anthropic.APIError>;
    expect(long).toBeInstanceOf(Anthropic.BadRequestError);
    expect(long.errorCode).toBe('context_length_exceeded');
    expect(long.headers?.get('x-tiermesh-provider')).toBe('anth');
  });
});
