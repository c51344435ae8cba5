/** Learned classification inside the sidecar: the route's premiumShare moves real requests between tiers. */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { behave, type Fixture, startOpenAIFixture } from '../fixtures/providers/index.js';
import { routeConfig, SIMPLE_PROMPT } from '../helpers/config.js';
import { startTestSidecar } from '../helpers/sidecar.js';

let up: Fixture;

beforeAll(async () => {
  up = await startOpenAIFixture();
  up.fallback(behave.ok('ok', { prompt: 5, completion: 5 }));
});
afterAll(async () => up?.close());

function learnedConfig(premiumShare: number): string {
  const base = routeConfig({
    upstreams: [{ name: 'up', baseURL: up.baseURL }],
    cheap: [{ name: 'small-model', upstreams: ['up'] }],
    premium: [{ name: 'big-model', upstreams: ['up'] }],
  });
  return parseAllDocuments(base)
    .map((doc) => {
      const obj = doc.toJS();
      if (obj?.kind === 'ModelRoute')
        obj.spec.classifier = { mode: 'learned', premiumShare, confidenceBand: 0 };
      return stringify(obj);
    })
    .join('---\n');
}

async function tierFor(premiumShare: number): Promise<string | null> {
  const sidecar = await startTestSidecar(learnedConfig(premiumShare));
  try {
    const res = await fetch(`${sidecar.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: SIMPLE_PROMPT }] }),
    });
    expect(res.status).toBe(200);
    return res.headers.get('x-tiermesh-tier');
  } finally {
    await sidecar.close();
  }
}

describe('learned classifier mode', () => {
  it('keeps everything on the cheap tier at premiumShare 0 and sends it up at premiumShare 1', async () => {
    expect(await tierFor(0)).toBe('cheap');
    expect(await tierFor(1)).toBe('premium');
  });
});
