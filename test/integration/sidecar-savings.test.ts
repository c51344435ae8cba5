/** tiermesh_cost_saved_usd_total: one saving per request, against everything the request spent. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fixture, startOpenAIFixture } from '../fixtures/providers/index.js';
import { routeConfig } from '../helpers/config.js';
import { metricValue, startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

let up: Fixture;
let sidecar: TestSidecar;

beforeAll(async () => {
  up = await startOpenAIFixture();
  up.script((req) => {
    const b = req.body as { model?: string; messages?: unknown };
    // The cheap model's empty answer fails the cascade's `empty` check: the request escalates to the premium tier.
    if (b.model === 'small' && JSON.stringify(b.messages).includes('EMPTY'))
      return { reply: '', usage: { prompt: 10, completion: 3 } };
    return { reply: 'good answer', usage: { prompt: 10, completion: 3 } };
  });
  sidecar = await startTestSidecar(
    routeConfig({
      upstreams: [{ name: 'upa', baseURL: up.baseURL }],
      baselineModel: 'big',
      cheap: [{ name: 'small', upstreams: ['upa'], inputPerMTok: 1, outputPerMTok: 2 }],
      premium: [{ name: 'big', upstreams: ['upa'], inputPerMTok: 10, outputPerMTok: 20 }],
    }),
  );
});
afterAll(async () => {
  await sidecar?.close();
  await up?.close();
});

const ask = (content: string) =>
  fetch(`${sidecar.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content }] }),
  });
const saved = async () =>
  metricValue((await sidecar.metrics.text()).body, 'tiermesh_cost_saved_usd_total', { route: 'default' }) ??
  0;

describe('savings against the baseline', () => {
  it('counts a cheap answer its saving, and an escalated request that cost more than the baseline nothing', async () => {
    const r = await ask('hello there');
    expect(r.headers.get('x-tiermesh-model')).toBe('small');
    await r.text();
    // Baseline for 10 + 3 tokens at $10/$20 per M: 160e-6; the cheap answer cost 16e-6.
    expect(await saved()).toBeCloseTo(144e-6, 12);

    const e = await ask('EMPTY please');
    expect(e.headers.get('x-tiermesh-model')).toBe('big');
    expect(Number(e.headers.get('x-tiermesh-cost-usd'))).toBeCloseTo(176e-6, 12);
    await e.text();
    // The request spent 176e-6 against a baseline of 160e-6 for its answer: no saving (its first answer alone
    // would have "saved" 144e-6).
    expect(await saved()).toBeCloseTo(144e-6, 12);
  });
});
