/** tiermesh_budget_remaining_usd is there for every budget from the start and current at each scrape, traffic or not. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fixture, startOpenAIFixture } from '../fixtures/providers/index.js';
import { routeConfig } from '../helpers/config.js';
import { metricValue, startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

let up: Fixture;
let sidecar: TestSidecar;

beforeAll(async () => {
  up = await startOpenAIFixture();
  up.fallback({ reply: 'ok', usage: { prompt: 1000, completion: 0 } });
  sidecar = await startTestSidecar(
    routeConfig({
      upstreams: [{ name: 'upa', baseURL: up.baseURL }],
      cheap: [{ name: 'small', upstreams: ['upa'], inputPerMTok: 1000, outputPerMTok: 1000 }],
      premium: [{ name: 'big', upstreams: ['upa'] }],
      budgets: [
        { name: 'team', window: { period: 'daily', timezone: 'UTC' }, limit: { usd: 10 }, action: 'reject' },
        { name: 'idle', window: { period: 'monthly', timezone: 'UTC' }, limit: { usd: 3 }, action: 'reject' },
      ],
    }),
  );
});
afterAll(async () => {
  await sidecar?.close();
  await up?.close();
});

const scrape = async () => (await fetch(`${sidecar.url}/metrics`)).text();

describe('tiermesh_budget_remaining_usd', () => {
  it('has a series for each budget before any request, and follows spending at the next scrape', async () => {
    const before = await scrape();
    expect(metricValue(before, 'tiermesh_budget_remaining_usd', { budget: 'team' })).toBe(10);
    expect(metricValue(before, 'tiermesh_budget_remaining_usd', { budget: 'idle' })).toBe(3);
    const r = await fetch(`${sidecar.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'small', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(r.status).toBe(200);
    await r.text();
    // 1000 prompt tokens at $1000 per M: $1 from each budget that applies (both: neither names a route).
    const after = await scrape();
    expect(metricValue(after, 'tiermesh_budget_remaining_usd', { budget: 'team' })).toBeCloseTo(9, 9);
    expect(metricValue(after, 'tiermesh_budget_remaining_usd', { budget: 'idle' })).toBeCloseTo(2, 9);
  });
});
