/** Budgets and per-user limits, as the OpenAI SDK sees them: 429s with OpenAI error bodies, and downgrades. */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estimateRequestTokens } from '../../src/routing/tokens.js';
import { behave, type Fixture, startOpenAIFixture } from '../fixtures/providers/index.js';
import { COMPLEX_PROMPT, routeConfig, SIMPLE_PROMPT } from '../helpers/config.js';
import { metricValue, startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

let up: Fixture;
const sidecars: TestSidecar[] = [];

beforeAll(async () => {
  up = await startOpenAIFixture();
  // 1000 + 1000 tokens at $1/M and $1/M: $0.002 per cheap answer; $0.02 per premium answer.
  up.fallback(behave.ok('answer', { prompt: 1000, completion: 1000 }));
});
afterAll(async () => {
  await Promise.all(sidecars.map((s) => s.close()));
  await up?.close();
});

async function sidecarWith(
  budget: Record<string, unknown> & { name: string },
): Promise<{ s: TestSidecar; client: OpenAI }> {
  const s = await startTestSidecar(
    routeConfig({
      upstreams: [{ name: 'up', baseURL: up.baseURL }],
      cheap: [{ name: 'small-model', upstreams: ['up'], inputPerMTok: 1, outputPerMTok: 1 }],
      premium: [{ name: 'big-model', upstreams: ['up'], inputPerMTok: 10, outputPerMTok: 10 }],
      baselineModel: 'big-model',
      budgets: [budget],
    }),
  );
  sidecars.push(s);
  return { s, client: new OpenAI({ baseURL: s.baseURL, apiKey: 'x', maxRetries: 0 }) };
}

const msg = (content: string) => [{ role: 'user' as const, content }];

describe('budgets', () => {
  it('rejects with 429 insufficient_quota once a reject budget is spent; the SDK throws RateLimitError', async () => {
    const { s, client } = await sidecarWith({
      name: 'tight',
      window: { period: 'daily', timezone: 'UTC' },
      limit: { usd: 0.003 },
      action: 'reject',
    });
    await client.chat.completions.create({ model: 'auto', messages: msg(SIMPLE_PROMPT) });
    await client.chat.completions.create({ model: 'auto', messages: msg(SIMPLE_PROMPT) });
    const err = await client.chat.completions
      .create({ model: 'auto', messages: msg(SIMPLE_PROMPT) })
      .catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const e = err as InstanceType<typeof OpenAI.RateLimitError>;
    expect(e.status).toBe(429);
    expect(e.code).toBe('TM_BUDGET_EXCEEDED');
    expect(e.type).toBe('insufficient_quota');
    expect(e.message).toContain('tight');
    // Retry-After points at the end of the day window.
    const retryAfter = Number(e.headers?.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(86_400);
    expect(e.headers?.get('x-tiermesh-tier')).toBe('cheap');
    expect(e.headers?.get('x-tiermesh-attempts')).toBe('0');

    const text = await (await fetch(`${s.url}/metrics`)).text();
    expect(metricValue(text, 'tiermesh_budget_remaining_usd', { budget: 'tight' })).toBeCloseTo(-0.001, 9);
    expect(metricValue(text, 'tiermesh_requests_total', { status: '429' })).toBe(1);
    // Two cheap answers against the big-model baseline: 2 * (0.02 - 0.002) saved.
    expect(metricValue(text, 'tiermesh_cost_saved_usd_total', { route: 'default' })).toBeCloseTo(0.036, 9);
    expect(
      metricValue(text, 'tiermesh_cost_usd_total', { route: 'default', model: 'small-model' }),
    ).toBeCloseTo(0.004, 9);
  });

  it('downgrades to the cheapest tier once a downgrade budget is spent', async () => {
    const { client } = await sidecarWith({
      name: 'soft',
      window: { period: 'monthly', timezone: 'UTC' },
      limit: { usd: 0.01 },
      action: 'downgrade',
    });
    const first = await client.chat.completions
      .create({ model: 'auto', messages: msg(COMPLEX_PROMPT) })
      .withResponse();
    expect(first.response.headers.get('x-tiermesh-tier')).toBe('premium');
    const second = await client.chat.completions
      .create({ model: 'auto', messages: msg(COMPLEX_PROMPT) })
      .withResponse();
    expect(second.response.headers.get('x-tiermesh-tier')).toBe('cheap');
    expect(second.response.headers.get('x-tiermesh-model')).toBe('small-model');
    // An explicitly named premium model is downgraded too: the budget wins.
    const named = await client.chat.completions
      .create({ model: 'big-model', messages: msg(SIMPLE_PROMPT) })
      .withResponse();
    expect(named.response.headers.get('x-tiermesh-tier')).toBe('cheap');
  });

  it('limits requests per minute per user (x-tiermesh-user or the body user), not across users', async () => {
    const { s, client } = await sidecarWith({
      name: 'rpm',
      window: { period: 'daily', timezone: 'UTC' },
      limit: { usd: 1000 },
      perUser: { rpm: 2 },
    });
    const as = (user: string) =>
      client.chat.completions.create(
        { model: 'auto', messages: msg(SIMPLE_PROMPT) },
        { headers: { 'x-tiermesh-user': user } },
      );
    await as('alice');
    await client.chat.completions.create({ model: 'auto', messages: msg(SIMPLE_PROMPT), user: 'alice' });
    const err = await as('alice').catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as InstanceType<typeof OpenAI.RateLimitError>).code).toBe('TM_RATE_LIMITED');
    expect(
      Number((err as InstanceType<typeof OpenAI.RateLimitError>).headers?.get('retry-after')),
    ).toBeGreaterThan(0);
    await expect(as('bob')).resolves.toBeDefined();
    // User ids never become metric labels.
    const text = await (await fetch(`${s.url}/metrics`)).text();
    expect(text).not.toContain('alice');
    expect(text).not.toContain('bob');
  });
});

describe('pre-call estimate', () => {
  it("reserves the requested max_tokens / max_completion_tokens, capped by the model's maxOutputTokens", async () => {
    const reserved: number[] = [];
    const allowance = {
      tryReserve: (_b: string, usd: number) => {
        reserved.push(usd);
        return true;
      },
      record: () => {},
    };
    // small-model: $1/M in and out, at most 3000 completion tokens; big-model: $10/M, at most 300.
    const yaml = routeConfig({
      upstreams: [{ name: 'up', baseURL: up.baseURL }],
      cheap: [{ name: 'small-model', upstreams: ['up'], inputPerMTok: 1, outputPerMTok: 1 }],
      premium: [{ name: 'big-model', upstreams: ['up'], inputPerMTok: 10, outputPerMTok: 10 }],
      budgets: [{ name: 'b', window: { period: 'daily', timezone: 'UTC' }, limit: { usd: 1000 } }],
    })
      .replace(/^( *)- name: small-model$/m, '$1- name: small-model\n$1  maxOutputTokens: 3000')
      .replace(/^( *)- name: big-model$/m, '$1- name: big-model\n$1  maxOutputTokens: 300');
    expect(yaml).toContain('maxOutputTokens: 3000');
    expect(yaml).toContain('maxOutputTokens: 300\n');
    const s = await startTestSidecar(yaml, { allowance });
    sidecars.push(s);
    const client = new OpenAI({ baseURL: s.baseURL, apiKey: 'x', maxRetries: 0 });
    const prompt = estimateRequestTokens({ model: 'auto', messages: msg(SIMPLE_PROMPT) });

    await client.chat.completions.create({ model: 'auto', messages: msg(SIMPLE_PROMPT), max_tokens: 2000 });
    await client.chat.completions.create({
      model: 'auto',
      messages: msg(SIMPLE_PROMPT),
      max_completion_tokens: 2500,
    });
    await client.chat.completions.create({ model: 'auto', messages: msg(SIMPLE_PROMPT) });
    await client.chat.completions.create({ model: 'big-model', messages: msg(SIMPLE_PROMPT) });
    expect(reserved).toHaveLength(4);
    expect(reserved[0]).toBeCloseTo((prompt + 2000) / 1e6, 12);
    expect(reserved[1]).toBeCloseTo((prompt + 2500) / 1e6, 12);
    // No max_tokens: the default completion estimate (512).
    expect(reserved[2]).toBeCloseTo((prompt + 512) / 1e6, 12);
    // The default is capped by what the model can emit.
    expect(reserved[3]).toBeCloseTo(((prompt + 300) * 10) / 1e6, 12);
  });
});
