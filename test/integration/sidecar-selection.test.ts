/**
 * Selection before dispatch, through the sidecar over real sockets with the OpenAI SDK as client: capability checks,
 * priority classes from metadata, and the context-window policy. Every upstream is a loopback fixture.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  behave,
  type Fixture,
  startAnthropicFixture,
  startOpenAIFixture,
} from '../fixtures/providers/index.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

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

/** Status and OpenAI error body of a failed SDK call. */
async function apiError(
  p: Promise<unknown>,
): Promise<{ status: number | undefined; message: string; param: string | null; code: string | null }> {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof OpenAI.APIError)) throw e;
    const body = e.error as { message: string; param: string | null; code: string | null };
    return { status: e.status, message: body.message, param: body.param, code: body.code };
  }
  throw new Error('the call succeeded');
}

describe('selection before dispatch', () => {
  let textOnly: Fixture;
  let vision: Fixture;
  let premium: Fixture;
  let sidecar: TestSidecar;
  let client: OpenAI;

  beforeAll(async () => {
    textOnly = await fixture('from text-only');
    vision = await fixture('from vision');
    premium = await fixture('from premium');
    const provider = (name: string, f: Fixture) => ({ name, type: 'openai-compatible', baseURL: f.baseURL });
    const model = (name: string, provider: string, contextWindow: number, extra: object = {}) => ({
      name,
      targets: [{ provider }],
      pricing: { inputPerMTok: 1, outputPerMTok: 1 },
      contextWindow,
      ...extra,
    });
    const route = {
      apiVersion: 'tiermesh.dev/v1alpha1',
      kind: 'ModelRoute',
      metadata: { name: 'default', namespace: 'test' },
      spec: {
        providers: [
          provider('text-up', textOnly),
          provider('vision-up', vision),
          provider('premium-up', premium),
        ],
        models: [
          model('text-model', 'text-up', 2000, { capabilities: { vision: false } }),
          model('vision-model', 'vision-up', 2000),
          model('big-model', 'premium-up', 100_000),
        ],
        tiers: [
          { name: 'cheap', models: ['text-model', 'vision-model'] },
          { name: 'premium', models: ['big-model'] },
        ],
        classifier: { mode: 'rules', confidenceBand: 0.05 },
        cascade: { enabled: false, checks: ['empty'], maxEscalations: 0 },
        context: { policy: 'reject' },
        priority: {
          classes: { exec: { minTier: 'premium' }, batch: { maxTier: 'cheap' } },
          users: { ceo: 'exec' },
        },
      },
    };
    sidecar = await startTestSidecar(stringify(route));
    sidecars.push(sidecar);
    client = new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'x', maxRetries: 0 });
  });

  it('an image request skips the model that declares no vision, without calling it', async () => {
    const before = textOnly.calls.length;
    const r = await client.chat.completions
      .create({
        model: 'auto',
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'what is in this picture?' },
              { type: 'image_url', image_url: { url: 'https://example.invalid/cat.png' } },
            ],
          },
        ],
      })
      .withResponse();
    expect(r.data.choices[0]!.message.content).toBe('from vision');
    expect(r.response.headers.get('x-tiermesh-model')).toBe('vision-model');
    expect(r.response.headers.get('x-tiermesh-attempts')).toBe('1');
    expect(textOnly.calls.length).toBe(before);
    // A text request still goes to the first model of the tier.
    const t = await client.chat.completions.create({
      model: 'auto',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(t.choices[0]!.message.content).toBe('from text-only');
  });

  it('asking the text-only model for an image is a 400 naming the content part', async () => {
    const e = await apiError(
      client.chat.completions.create({
        model: 'text-model',
        messages: [
          { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.invalid/x' } }] },
        ],
      }),
    );
    expect(e.status).toBe(400);
    expect(e.param).toBe('messages[0].content[0]');
    expect(e.message).toContain('model "text-model" does not support image input');
  });

  it('a user mapped to an exec class is served by the premium tier, even for a greeting', async () => {
    const before = premium.calls.length;
    const r = await client.chat.completions
      .create(
        { model: 'auto', messages: [{ role: 'user', content: 'hi' }] },
        { headers: { 'x-tiermesh-user': 'ceo' } },
      )
      .withResponse();
    expect(r.response.headers.get('x-tiermesh-tier')).toBe('premium');
    expect(premium.calls.length).toBe(before + 1);
  });

  it('x-tiermesh-priority caps the tier, and an unknown value is a 400 naming the header', async () => {
    const r = await client.chat.completions
      .create(
        { model: 'auto', messages: [{ role: 'user', content: 'hi' }] },
        { headers: { 'x-tiermesh-user': 'ceo', 'x-tiermesh-priority': 'batch' } },
      )
      .withResponse();
    expect(r.response.headers.get('x-tiermesh-tier')).toBe('cheap');
    const calls = fixtures.reduce((n, f) => n + f.calls.length, 0);
    const e = await apiError(
      client.chat.completions.create(
        { model: 'auto', messages: [{ role: 'user', content: 'hi' }] },
        { headers: { 'x-tiermesh-priority': 'urgent' } },
      ),
    );
    expect(e.status).toBe(400);
    expect(e.param).toBe('x-tiermesh-priority');
    expect(e.message).toBe('x-tiermesh-priority must be one of "exec", "batch"');
    expect(fixtures.reduce((n, f) => n + f.calls.length, 0)).toBe(calls);
  });

  it('context policy reject: a prompt too long for the cheap tier is a 400 with the token counts', async () => {
    const calls = fixtures.reduce((n, f) => n + f.calls.length, 0);
    const long = Array.from({ length: 3000 }, (_, i) => `w${i}`).join(' ');
    const e = await apiError(
      client.chat.completions.create({
        model: 'auto',
        messages: [{ role: 'user', content: long }],
        max_tokens: 10,
      }),
    );
    expect(e.status).toBe(400);
    expect(e.code).toBe('TM_CONTEXT_TOO_LONG');
    expect(e.message).toMatch(
      /^about \d+ prompt tokens plus 10 completion tokens fit no model of tier "cheap" of route "default" \(largest context window: 2000 tokens\)/,
    );
    // No fragment of the prompt in the error.
    expect(e.message).not.toContain('w17');
    expect(fixtures.reduce((n, f) => n + f.calls.length, 0)).toBe(calls);
  });
});

describe('what a provider cannot translate is a capability', () => {
  it('legacy functions skip a model served only by Anthropic, without calling it or failing over', async () => {
    const claude = await startAnthropicFixture();
    claude.fallback(behave.ok('from claude', { prompt: 10, completion: 3 }));
    fixtures.push(claude);
    const gpt = await fixture('from gpt');
    const sidecar = await startTestSidecar(
      stringify({
        apiVersion: 'tiermesh.dev/v1alpha1',
        kind: 'ModelRoute',
        metadata: { name: 'default', namespace: 'test' },
        spec: {
          providers: [
            { name: 'claude-up', type: 'anthropic', baseURL: claude.baseURL, apiKey: { env: 'KEY_C' } },
            { name: 'gpt-up', type: 'openai-compatible', baseURL: gpt.baseURL },
          ],
          models: [
            {
              name: 'claude-model',
              targets: [{ provider: 'claude-up' }],
              pricing: { inputPerMTok: 1, outputPerMTok: 1 },
              contextWindow: 100_000,
            },
            {
              name: 'gpt-model',
              targets: [{ provider: 'gpt-up' }],
              pricing: { inputPerMTok: 1, outputPerMTok: 1 },
              contextWindow: 100_000,
            },
          ],
          tiers: [{ name: 'cheap', models: ['claude-model', 'gpt-model'] }],
          classifier: { mode: 'rules' },
          cascade: { enabled: false, checks: ['empty'], maxEscalations: 0 },
        },
      }),
      { env: { KEY_C: 'sk-ant-test' } },
    );
    sidecars.push(sidecar);
    const client = new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'x', maxRetries: 0 });
    // A plain request goes to the tier's first model, Claude.
    const plain = await client.chat.completions.create({
      model: 'auto',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(plain.choices[0]!.message.content).toBe('from claude');
    const before = claude.calls.length;
    const r = await client.chat.completions
      .create({
        model: 'auto',
        messages: [{ role: 'user', content: 'hi' }],
        functions: [{ name: 'lookup', parameters: { type: 'object', properties: {} } }],
      })
      .withResponse();
    expect(r.data.choices[0]!.message.content).toBe('from gpt');
    expect(r.response.headers.get('x-tiermesh-model')).toBe('gpt-model');
    expect(r.response.headers.get('x-tiermesh-attempts')).toBe('1');
    expect(claude.calls.length).toBe(before);
    expect(sidecar.logs.byMsg('fallback')).toEqual([]);
    expect((gpt.calls.at(-1)!.body as { functions?: unknown[] }).functions).toHaveLength(1);
  });
});
