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

function learnedConfig(premiumShare: number, confidenceBand = 0): string {
  const base = routeConfig({
    upstreams: [{ name: 'up', baseURL: up.baseURL }],
    cheap: [{ name: 'small-model', upstreams: ['up'] }],
    premium: [{ name: 'big-model', upstreams: ['up'] }],
  });
  return parseAllDocuments(base)
    .map((doc) => {
      const obj = doc.toJS();
      if (obj?.kind === 'ModelRoute') obj.spec.classifier = { mode: 'learned', premiumShare, confidenceBand };
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

describe('learned classifier mode', { timeout: 120_000 }, () => {
  it('keeps everything on the cheap tier at premiumShare 0 and sends it up at premiumShare 1', async () => {
    expect(await tierFor(0)).toBe('cheap');
    expect(await tierFor(1)).toBe('premium');
  });

  it("premiumShare 0.3 sends about 30% of the route's requests above the cheapest tier, with the default band", async () => {
    const sidecar = await startTestSidecar(learnedConfig(0.3, 0.1));
    const subjects = [
      'kubernetes',
      'tax law',
      'sorting',
      'poetry',
      'chemistry',
      'football',
      'baking',
      'networks',
    ];
    try {
      let premium = 0;
      let counted = 0;
      for (let i = 0; i < 160; i++) {
        // Varied chat-like prompts (none from the training data): questions of different kinds and lengths.
        const s = subjects[i % subjects.length]!;
        const content = `${i % 3 === 0 ? 'Explain' : i % 3 === 1 ? 'Write a short note about' : 'What is'} ${s}${' and why it matters'.repeat(i % 7)}?`;
        const res = await fetch(`${sidecar.baseURL}/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content }] }),
        });
        expect(res.status).toBe(200);
        await res.arrayBuffer();
        // The first 50 requests calibrate the route's own scale.
        if (i >= 50) {
          counted++;
          if (res.headers.get('x-tiermesh-tier') === 'premium') premium++;
        }
      }
      expect(premium / counted).toBeGreaterThan(0.2);
      expect(premium / counted).toBeLessThan(0.4);
    } finally {
      await sidecar.close();
    }
  });
});
