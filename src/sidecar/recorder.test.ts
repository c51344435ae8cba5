import { describe, expect, it } from 'vitest';
import { decisionLogEntry } from '../api/decision-log.js';
import type { ChatCompletionRequest } from '../api/openai.js';
import { compileManifests, parseManifests } from '../config/manifests.js';
import { decide } from '../routing/decide.js';
import type { DecisionLog } from '../telemetry/decision-log.js';
import { SidecarMetrics } from '../telemetry/metrics.js';
import { DecisionRing } from './decisions.js';
import { DecisionRecorder, type FinishedRequest, MAX_KEPT_PROMPT_TOKENS } from './recorder.js';
import { RoutingTally } from './routing-tally.js';

const snapshot = compileManifests(
  parseManifests(`
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default, namespace: team }
spec:
  providers: [{ name: sim, type: simulated }]
  models:
    - { name: mini, targets: [{ provider: sim }], pricing: { inputPerMTok: 0.1, outputPerMTok: 0.4 }, contextWindow: 8000 }
    - { name: big, targets: [{ provider: sim }], pricing: { inputPerMTok: 3, outputPerMTok: 15 }, contextWindow: 8000 }
  tiers:
    - { name: cheap, models: [mini] }
    - { name: premium, models: [big] }
  taskTypes: { extraction: cheap }
  monitoring: { features: [search] }
`),
);
const SECRET = 'my secret prompt about project zebra';
const request: ChatCompletionRequest = { model: 'auto', messages: [{ role: 'user', content: SECRET }] };

function finished(extra: Partial<FinishedRequest> = {}): FinishedRequest {
  const decision = decide({ snapshot, request, headers: { task: 'extraction' } });
  return {
    requestId: 'req-1',
    decision,
    request,
    tier: 'premium',
    model: 'big',
    provider: 'sim',
    costUSD: 0.02,
    cascade: [
      { tier: 'cheap', model: 'mini', ok: false, checked: true, check: 'refusal', to: 'premium' },
      { tier: 'premium', model: 'big', ok: true, checked: false },
    ],
    status: 200,
    stream: false,
    feature: 'search',
    ...extra,
  };
}

function setup(logPrompts: boolean) {
  const lines: unknown[] = [];
  const log: DecisionLog = { write: (e) => lines.push(e), flush: () => {}, close: () => {} };
  const metrics = new SidecarMetrics();
  const ring = new DecisionRing({ size: 10, ttlMs: 60_000 });
  const tally = new RoutingTally(0);
  const rec = new DecisionRecorder({
    ring,
    metrics,
    log,
    tally,
    logPrompts,
    now: () => Date.UTC(2026, 11, 1),
  });
  return { lines, metrics, ring, rec, tally };
}

describe('DecisionRecorder', () => {
  it('puts the decision in the ring and the log without prompt text by default', async () => {
    const { lines, ring, rec, metrics } = setup(false);
    rec.finished(finished());
    const r = ring.get('req-1', Date.UTC(2026, 11, 1))!;
    expect(r).toMatchObject({
      route: 'default',
      initialTier: 'cheap',
      tier: 'premium',
      model: 'big',
      task: 'extraction',
    });
    expect(r.request).toBeUndefined();
    expect(r.fingerprint).toBe('');
    const entry = decisionLogEntry.parse(lines[0]);
    expect(entry).toMatchObject({
      type: 'decision',
      escalations: 1,
      feature: 'search',
      at: '2026-12-01T00:00:00.000Z',
    });
    expect(JSON.stringify(lines)).not.toContain('zebra');
    const { body } = await metrics.text();
    expect(body).toContain(
      'tiermesh_escalations_total{route="default",from_tier="cheap",to_tier="premium",reason="refusal"} 1',
    );
    expect(body).toContain('tiermesh_task_cost_usd_total{route="default",task="extraction"} 0.02');
    expect(body).toContain('tiermesh_feature_cost_usd_total{route="default",feature="search"} 0.02');
  });

  it('counts an escalation whose higher tier then failed from and to the right tiers', async () => {
    const { rec, metrics } = setup(false);
    rec.finished(
      finished({
        tier: 'cheap',
        model: 'mini',
        cascade: [{ tier: 'cheap', model: 'mini', ok: false, checked: true, check: 'empty', to: 'premium' }],
      }),
    );
    expect((await metrics.text()).body).toContain(
      'tiermesh_escalations_total{route="default",from_tier="cheap",to_tier="premium",reason="empty"} 1',
    );
  });

  it('a failed check recorded on the answer served last is logged but counted as no escalation', async () => {
    const { lines, rec, metrics, tally } = setup(false);
    rec.finished(
      finished({
        cascade: [
          { tier: 'cheap', model: 'mini', ok: false, checked: true, check: 'refusal', to: 'premium' },
          { tier: 'premium', model: 'big', ok: false, checked: true, check: 'refusal' },
        ],
      }),
    );
    expect(decisionLogEntry.parse(lines[0])).toMatchObject({
      escalations: 1,
      cascade: [
        { tier: 'cheap', ok: false, check: 'refusal', to: 'premium' },
        { tier: 'premium', ok: false, checked: true, check: 'refusal' },
      ],
    });
    expect(tally.drain('me', 1)).toEqual([expect.objectContaining({ escalations: 1 })]);
    const { body } = await metrics.text();
    expect(body).toContain(
      'tiermesh_escalations_total{route="default",from_tier="cheap",to_tier="premium",reason="refusal"} 1',
    );
    expect(body).not.toContain('from_tier="premium"');
  });

  it('logs a v2 line: where the first tier sits, the promotion, and whether each answer was checked', () => {
    const { lines, rec } = setup(false);
    rec.finished(finished());
    expect(decisionLogEntry.parse(lines[0])).toMatchObject({
      v: 2,
      initialTier: 'cheap',
      tierIndex: 0,
      cascade: [
        { tier: 'cheap', ok: false, checked: true, check: 'refusal', to: 'premium' },
        { tier: 'premium', ok: true, checked: false },
      ],
    });
    expect(lines[0]).not.toHaveProperty('promotedFrom');
    // Sent to premium, whose every target failed: tier promotion served it from the cheap tier.
    const hard = decide({ snapshot, request: { model: 'auto', messages: [{ role: 'user', content: 'x' }] } });
    const premium = { ...hard, tierIndex: 1, tierName: 'premium' };
    rec.finished(
      finished({
        requestId: 'req-2',
        decision: premium,
        tier: 'cheap',
        model: 'mini',
        promotedFrom: 'premium',
        cascade: [{ tier: 'cheap', model: 'mini', ok: true, checked: false }],
      }),
    );
    expect(decisionLogEntry.parse(lines[1])).toMatchObject({
      v: 2,
      initialTier: 'premium',
      tierIndex: 1,
      promotedFrom: 'premium',
      tier: 'cheap',
    });
  });

  it('keeps the prompt and the body only with logPrompts', () => {
    const { lines, ring, rec } = setup(true);
    rec.finished(finished());
    expect(ring.get('req-1', Date.UTC(2026, 11, 1))?.request).toEqual(request);
    expect(
      decisionLogEntry.parse(lines[0]).type === 'decision' && (lines[0] as { prompt: string }).prompt,
    ).toBe(SECRET);
  });

  it('does not keep a huge body even with logPrompts', () => {
    const { ring, rec } = setup(true);
    const d = decide({ snapshot, request });
    rec.finished(finished({ decision: { ...d, estimatedPromptTokens: MAX_KEPT_PROMPT_TOKENS + 1 } }));
    expect(ring.get('req-1', Date.UTC(2026, 11, 1))?.request).toBeUndefined();
    rec.finished(finished({ decision: { ...d, estimatedPromptTokens: MAX_KEPT_PROMPT_TOKENS } }));
    expect(ring.get('req-1', Date.UTC(2026, 11, 1))?.request).toEqual(request);
  });

  it("logs a learned classification's own model score, its percentile and the tie it was placed in", () => {
    const { lines, ring, rec } = setup(false);
    const d = decide({ snapshot, request });
    const learned = { gain: 0.125, percentile: 0.42, tie: { lo: 0.2, hi: 0.6 } };
    const decision = { ...d, classification: { ...d.classification, source: 'learned' as const, learned } };
    rec.finished(finished({ decision }));
    expect(ring.get('req-1', Date.UTC(2026, 11, 1))?.learned).toEqual(learned);
    const entry = decisionLogEntry.parse(lines[0]);
    expect(entry).toMatchObject({ learned });
    // The line holds copies: the classification's objects are not shared with what the log writer keeps.
    expect((lines[0] as { learned: unknown }).learned).not.toBe(learned);
    // A rules decision has none, and a line without it still parses.
    rec.finished(finished({ requestId: 'req-2', decision: d }));
    expect(lines[1]).not.toHaveProperty('learned');
    expect(decisionLogEntry.parse(lines[1]).type).toBe('decision');
  });

  it('the classifier features and their fingerprint, when the classifier ran', () => {
    const { ring, rec } = setup(false);
    rec.finished(finished({ decision: decide({ snapshot, request }) }));
    const r = ring.get('req-1', Date.UTC(2026, 11, 1))!;
    expect(r.fingerprint).toMatch(/^[0-9a-f]{12}$/);
    expect(r.features?.chars).toBe(SECRET.length);
  });

  it('folds undeclared features into "other" and does not count a retry as a cascade escalation', async () => {
    const { rec, metrics, tally } = setup(false);
    rec.finished(finished());
    rec.finished(finished({ feature: 'user-1234', retryOf: 'req-0', requestId: 'req-2' }));
    rec.retried('default', 'cheap', 'premium');
    // The tally sees the original request (one cascade escalation) and the retry's escalation, not the retry itself.
    expect(tally.drain('me', 1)).toEqual([
      expect.objectContaining({ route: 'default', requests: { cheap: 1 }, escalations: 2 }),
    ]);
    const { body } = await metrics.text();
    expect(body).toContain('feature="other"');
    expect(body).toContain('reason="refusal"} 1');
    expect(body).toContain('reason="feedback-retry"} 1');
  });

  it('counts and logs feedback, with the comment only when the event carries it', async () => {
    const { rec, metrics, lines } = setup(false);
    rec.feedback({
      requestId: 'req-1',
      at: 0,
      route: 'default',
      tier: 'cheap',
      initialTier: 'cheap',
      model: 'mini',
      score: 0,
      rating: 'down',
      retry: false,
    });
    expect(decisionLogEntry.parse(lines[0])).toMatchObject({ type: 'feedback', rating: 'down', score: 0 });
    expect(lines[0]).not.toHaveProperty('comment');
    expect((await metrics.text()).body).toContain(
      'tiermesh_feedback_total{route="default",tier="cheap",model="mini",kind="down"} 1',
    );
  });
});
