import { describe, expect, it } from 'vitest';
import type { DecisionEntry, FeedbackEntry } from '../api/decision-log.js';
import { exportOutcomes } from './outcomes-export.js';

const at = '2026-12-01T10:00:00.000Z';
function decision(id: string, extra: Partial<DecisionEntry> = {}): DecisionEntry {
  return {
    type: 'decision',
    at,
    requestId: id,
    route: 'default',
    initialTier: 'cheap',
    tier: 'cheap',
    model: 'mini',
    provider: 'sim',
    source: 'rules',
    score: 0.2,
    confidence: 0.9,
    signals: [],
    fingerprint: 'f00',
    features: { chars: 5, greeting: true },
    costUSD: 0.001,
    cascade: [{ tier: 'cheap', model: 'mini', ok: true }],
    escalations: 0,
    bandEscalated: false,
    status: 200,
    stream: false,
    prompt: `prompt of ${id}`,
    ...extra,
  };
}
function fb(id: string, score: number, extra: Partial<FeedbackEntry> = {}): FeedbackEntry {
  return {
    type: 'feedback',
    at,
    requestId: id,
    route: 'default',
    tier: 'cheap',
    initialTier: 'cheap',
    model: 'mini',
    score,
    retry: false,
    ...extra,
  };
}
const escalated = (id: string) =>
  decision(id, {
    tier: 'premium',
    model: 'big',
    escalations: 1,
    cascade: [
      { tier: 'cheap', model: 'mini', ok: false, check: 'refusal' },
      { tier: 'premium', model: 'big', ok: true },
    ],
  });

describe('exportOutcomes', () => {
  it('a cascade escalation: weak 0 (check failed), strong 1 (served after it)', () => {
    const r = exportOutcomes([escalated('a')]);
    expect(r.outcomes).toEqual([{ prompt: 'prompt of a', weak: 0, strong: 1, group: 'default' }]);
  });

  it('feedback on an escalated answer scores the strong tier', () => {
    const r = exportOutcomes([
      escalated('a'),
      fb('a', 0.4, { tier: 'premium' }),
      fb('a', 0.6, { tier: 'premium' }),
    ]);
    expect(r.outcomes[0]).toMatchObject({ weak: 0, strong: 0.5 });
  });

  it('feedback then a retry one tier up: weak from the feedback, strong from the retried answer', () => {
    const entries = [
      decision('a'),
      fb('a', 0, { retry: true }),
      decision('a-retry', { retryOf: 'a', tier: 'premium', initialTier: 'premium', model: 'big' }),
      fb('a-retry', 0.9, { tier: 'premium' }),
    ];
    const r = exportOutcomes(entries);
    expect(r.outcomes).toEqual([{ prompt: 'prompt of a', weak: 0, strong: 0.9, group: 'default' }]);
    expect(r.stats).toMatchObject({ decisions: 1, retries: 1, feedback: 2, outcomes: 1 });
  });

  it('a served weak answer with feedback but nothing about the strong tier: skipped unless assumed', () => {
    const entries = [decision('a'), fb('a', 1)];
    expect(exportOutcomes(entries).outcomes).toEqual([]);
    expect(exportOutcomes(entries).stats.unknownStrong).toBe(1);
    expect(exportOutcomes(entries, { assumeStrong: 1 }).outcomes).toEqual([
      { prompt: 'prompt of a', weak: 1, strong: 1, group: 'default' },
    ]);
  });

  it('no feedback and no escalation says nothing about the weak tier', () => {
    const r = exportOutcomes([decision('a')], { assumeStrong: 1 });
    expect(r.outcomes).toEqual([]);
    expect(r.stats.unknownWeak).toBe(1);
  });

  it('without prompt text: no outcome lines, but features with what is known', () => {
    const r = exportOutcomes([{ ...escalated('a'), prompt: undefined }]);
    expect(r.outcomes).toEqual([]);
    expect(r.stats.withPrompt).toBe(0);
    expect(r.features).toEqual([
      expect.objectContaining({
        requestId: 'a',
        fingerprint: 'f00',
        features: { chars: 5, greeting: true },
        weak: 0,
        strong: 1,
      }),
    ]);
    expect(JSON.stringify(r.features)).not.toContain('prompt');
  });

  it('skips an empty prompt', () => {
    expect(exportOutcomes([{ ...escalated('a'), prompt: '' }]).outcomes).toEqual([]);
  });

  it('a failed retry (not 200) tells nothing about the strong tier', () => {
    const entries = [
      decision('a'),
      fb('a', 0, { retry: true }),
      decision('a-retry', { retryOf: 'a', tier: 'premium', status: 502 }),
    ];
    expect(exportOutcomes(entries).outcomes).toEqual([]);
  });
});
