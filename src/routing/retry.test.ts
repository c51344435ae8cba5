import { describe, expect, it } from 'vitest';
import type { ChatCompletionRequest } from '../api/openai.js';
import { compileManifests, parseManifests } from '../config/manifests.js';
import { decide } from './decide.js';
import { oneTierUp } from './retry.js';

const snapshot = compileManifests(
  parseManifests(`
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default, namespace: team }
spec:
  providers: [{ name: sim, type: simulated }]
  models:
    - { name: tiny, targets: [{ provider: sim }], pricing: { inputPerMTok: 0.1, outputPerMTok: 0.4 }, contextWindow: 1000 }
    - { name: mid, targets: [{ provider: sim }], pricing: { inputPerMTok: 1, outputPerMTok: 4 }, contextWindow: 32000 }
    - { name: big, targets: [{ provider: sim }], pricing: { inputPerMTok: 3, outputPerMTok: 15 }, contextWindow: 200000 }
  tiers:
    - { name: cheap, models: [tiny] }
    - { name: standard, models: [mid] }
    - { name: premium, models: [big] }
  taskTypes: { extraction: cheap }
`),
);
const req: ChatCompletionRequest = { model: 'auto', messages: [{ role: 'user', content: 'hi there' }] };

describe('oneTierUp', () => {
  it('moves a cheap-tier answer to the next tier, keeping the rest as escalation', () => {
    const d = decide({ snapshot, request: req, headers: { task: 'extraction' } });
    expect(d.tierName).toBe('cheap');
    const up = oneTierUp(d, 'cheap')!;
    expect(up.tierName).toBe('standard');
    expect(up.models.map((m) => m.name)).toEqual(['mid']);
    expect(up.escalation.map((s) => s.tierName)).toEqual(['premium']);
  });

  it('goes above the tier that served, not above the fresh decision', () => {
    // The cascade had already moved the first answer to standard: a retry must go to premium.
    const d = decide({ snapshot, request: req, headers: { task: 'extraction' } });
    expect(oneTierUp(d, 'standard')?.tierName).toBe('premium');
  });

  it('has nowhere to go from the top tier', () => {
    const d = decide({ snapshot, request: req, headers: { task: 'extraction' } });
    expect(oneTierUp(d, 'premium')).toBeUndefined();
  });
});
