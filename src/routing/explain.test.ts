import { describe, expect, it } from 'vitest';
import { compileManifests, parseManifests } from '../config/manifests.js';
import { decide } from './decide.js';
import { explainDecision } from './explain.js';
import { LatencyBoard } from './latency.js';

const SPEC = `
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default }
spec:
  providers: [{ name: sim, type: simulated }]
  models:
    - { name: small, targets: [{ provider: sim }], pricing: { inputPerMTok: 1, outputPerMTok: 2 }, contextWindow: 100000 }
    - { name: small-b, targets: [{ provider: sim }], pricing: { inputPerMTok: 1, outputPerMTok: 2 }, contextWindow: 100000 }
    - { name: big, targets: [{ provider: sim }], pricing: { inputPerMTok: 10, outputPerMTok: 30 }, contextWindow: 100000 }
  tiers:
    - { name: cheap, models: [small, small-b] }
    - { name: premium, models: [big] }
  classifier: { mode: rules }
  baselineModel: big
`;
const snapshot = compileManifests(parseManifests(SPEC));

describe('explainDecision', () => {
  it('reports route, tier, model, classification, escalation, tokens and cost', () => {
    const d = decide({
      snapshot,
      request: { model: 'auto', messages: [{ role: 'user', content: 'hello' }], max_tokens: 1000 },
    });
    const x = explainDecision(d);
    expect(x).toMatchObject({
      route: 'default',
      source: 'rules',
      tier: { index: 0, name: 'cheap' },
      model: 'small',
      fallbacks: ['small-b'],
      classification: { source: 'rules', tier: { index: 0, name: 'cheap' }, signals: ['greeting'] },
      escalated: false,
      cascade: ['premium'],
      task: null,
      tokens: { estimatedPrompt: d.estimatedPromptTokens, requestedMax: 1000, assumedOutput: 1000 },
    });
    const p = d.estimatedPromptTokens;
    expect(x.cost.estimatedUSD).toBeCloseTo((p * 1 + 1000 * 2) / 1e6, 9);
    expect(x.cost.baselineUSD).toBeCloseTo((p * 10 + 1000 * 30) / 1e6, 9);
    expect(x.cost.estimatedSavingsUSD).toBeCloseTo(x.cost.baselineUSD! - x.cost.estimatedUSD, 9);
  });

  it('is plain JSON and holds no prompt text', () => {
    const d = decide({
      snapshot,
      request: { model: 'auto', messages: [{ role: 'user', content: 'my SSN is 078-05-1120' }] },
    });
    const json = JSON.stringify(explainDecision(d));
    expect(JSON.parse(json)).toEqual(explainDecision(d));
    expect(json).not.toContain('078-05');
    expect(JSON.parse(json).tokens.assumedOutput).toBe(512);
  });

  it('shows the SLO that applies and the observations of the chosen targets', () => {
    const withSlo = compileManifests(
      parseManifests(
        `${SPEC}  slo: { maxTTFTMs: 800, policy: cheapest, taskTypes: { chat: { maxLatencyMs: 2000 } } }\n`,
      ),
    );
    const request = { model: 'auto', messages: [{ role: 'user' as const, content: 'hello' }] };
    const board = new LatencyBoard({ halfLifeMs: 1e12 });
    for (let i = 0; i < 10; i++)
      board.observe('sim/small', { ttftMs: 100, totalMs: 400, outputTokens: 30 }, 0);
    const d = decide({ snapshot: withSlo, request });
    const x = explainDecision(d, { latency: (k) => board.view(k, 0) });
    expect(x.slo).toEqual({ maxTTFTMs: 800, maxLatencyMs: null, policy: 'cheapest' });
    expect(x.observations).toHaveLength(1);
    expect(x.observations[0]).toMatchObject({ model: 'small', provider: 'sim', samples: 10 });
    expect(x.observations[0]!.totalP95Ms).toBeGreaterThanOrEqual(400);
    const chat = explainDecision(decide({ snapshot: withSlo, request, headers: { task: 'chat' } }));
    expect(chat.slo).toEqual({ maxTTFTMs: null, maxLatencyMs: 2000, policy: 'cheapest' });
    expect(chat.observations).toEqual([]);
    expect(explainDecision(decide({ snapshot, request })).slo).toBeNull();
  });

  it('shows the queue class, the limits of the chosen targets and, given a live view, their occupancy', () => {
    const queued = compileManifests(
      parseManifests(
        `${SPEC}  priority: { classes: { batch: {}, normal: {} }, groups: { etl: batch }, default: normal }
  queue:
    limits: [{ provider: sim, model: small, maxInFlight: 2 }, { provider: sim, model: big, maxInFlight: 1 }]
    waitMs: 1000
    batchWaitMs: 60000
    batchClasses: [batch]
`,
      ),
    );
    const request = { model: 'auto', messages: [{ role: 'user' as const, content: 'hello' }] };
    const batch = decide({ snapshot: queued, request, headers: { group: 'etl' } });
    const offline = explainDecision(batch);
    expect(offline.queue).toEqual({
      class: 'batch',
      waitMs: 60000,
      limits: [{ model: 'small', provider: 'sim', maxInFlight: 2, inFlight: null, waiting: null }],
    });
    expect(offline.live).toBe(false);
    expect(offline.notes).toEqual([expect.stringContaining('queue occupancy is live-only')]);
    const live = explainDecision(decide({ snapshot: queued, request }), {
      queue: (provider, model) =>
        provider === 'sim' && model === 'small'
          ? { inFlight: 2, waiting: { interactive: 3, batch: 1 } }
          : undefined,
    });
    expect(live.queue).toEqual({
      class: 'interactive',
      waitMs: 1000,
      limits: [
        {
          model: 'small',
          provider: 'sim',
          maxInFlight: 2,
          inFlight: 2,
          waiting: { interactive: 3, batch: 1 },
        },
      ],
    });
    expect(live).toMatchObject({ live: true, notes: [] });
    expect(explainDecision(decide({ snapshot, request })).queue).toBeNull();
  });

  it('shows the review flag of a task marked requireHumanReview, and none for other tasks', () => {
    const reviewed = compileManifests(
      parseManifests(
        `${SPEC}  taskTypes: { legal: premium, chat: cheap }
  review: { taskTypes: { legal: { requireHumanReview: true } } }
`,
      ),
    );
    const request = { model: 'auto', messages: [{ role: 'user' as const, content: 'hello' }] };
    const legal = explainDecision(decide({ snapshot: reviewed, request, headers: { task: 'legal' } }));
    expect(legal.review).toEqual({ required: true, task: 'legal' });
    expect(
      explainDecision(decide({ snapshot: reviewed, request, headers: { task: 'chat' } })).review,
    ).toBeNull();
    expect(explainDecision(decide({ snapshot: reviewed, request })).review).toBeNull();
  });

  it('says offline that latency observations are live-only when the route has an SLO', () => {
    const withSlo = compileManifests(
      parseManifests(`${SPEC}  slo: { maxTTFTMs: 800 }
`),
    );
    const request = { model: 'auto', messages: [{ role: 'user' as const, content: 'hello' }] };
    expect(explainDecision(decide({ snapshot: withSlo, request })).notes).toEqual([
      expect.stringContaining('latency observations are live-only'),
    ]);
    expect(explainDecision(decide({ snapshot, request })).notes).toEqual([]);
  });

  it('shows where promotion may go, and none under policy none', () => {
    const request = { model: 'auto', messages: [{ role: 'user' as const, content: 'hello' }] };
    expect(explainDecision(decide({ snapshot, request })).promotion).toEqual({
      policy: 'up',
      maxSteps: 1,
      candidates: ['premium'],
    });
    const none = compileManifests(parseManifests(`${SPEC}  promotion: { policy: none }\n`));
    expect(explainDecision(decide({ snapshot: none, request })).promotion).toEqual({
      policy: 'none',
      maxSteps: 1,
      candidates: [],
    });
  });

  it('shows the hedge delay that applies: fixed, or the live p95 of the first target (first byte for streams)', () => {
    const hedged = compileManifests(
      parseManifests(
        `${SPEC}  slo: { maxLatencyMs: 60000 }\n  hedge: { enabled: true, delay: p95, delayMs: 300, minDelayMs: 50, taskTypes: [critical] }\n`,
      ),
    );
    const request = { model: 'auto', messages: [{ role: 'user' as const, content: 'hello' }] };
    const headers = { task: 'critical' };
    // The route has no taskTypes mapping for 'critical': the classifier still picks the cheap tier.
    expect(explainDecision(decide({ snapshot: hedged, request })).hedge).toBeNull();
    const offline = explainDecision(decide({ snapshot: hedged, request, headers }));
    expect(offline.hedge).toEqual({ delayMs: 300, from: 'fixed', firstTarget: 'sim/small', stream: false });
    const board = new LatencyBoard({ halfLifeMs: 1e12 });
    for (let i = 0; i < 10; i++)
      board.observe('sim/small', { ttftMs: 100, totalMs: 900, outputTokens: 30 }, 0);
    const latency = (k: string) => board.view(k, 0);
    const json = explainDecision(decide({ snapshot: hedged, request, headers }), { latency });
    expect(json.hedge).toMatchObject({ from: 'p95', stream: false });
    expect(json.hedge!.delayMs).toBeGreaterThanOrEqual(900);
    const streamed = explainDecision(
      decide({ snapshot: hedged, request: { ...request, stream: true }, headers }),
      { latency },
    );
    expect(streamed.hedge).toMatchObject({ from: 'p95', stream: true });
    expect(streamed.hedge!.delayMs).toBeGreaterThanOrEqual(100);
    expect(streamed.hedge!.delayMs).toBeLessThan(900);
    // One target only (premium's single model): nothing to hedge with.
    const big = explainDecision(decide({ snapshot: hedged, request: { ...request, model: 'big' }, headers }));
    expect(big.hedge).toBeNull();
  });
});
