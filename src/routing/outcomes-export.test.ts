import { describe, expect, it } from 'vitest';
import type { DecisionEntry, FeedbackEntry } from '../api/decision-log.js';
import { exportOutcomes } from './outcomes-export.js';

const at = '2026-12-01T10:00:00.000Z';
/** A v2 line of a request the rules sent to the cheapest tier, which answered (unchecked: no cascade above). */
function decision(id: string, extra: Partial<DecisionEntry> = {}): DecisionEntry {
  return {
    type: 'decision',
    v: 2,
    at,
    requestId: id,
    route: 'default',
    initialTier: 'cheap',
    tierIndex: 0,
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
    cascade: [{ tier: 'cheap', model: 'mini', ok: true, checked: false }],
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
      { tier: 'cheap', model: 'mini', ok: false, checked: true, check: 'refusal', to: 'premium' },
      { tier: 'premium', model: 'big', ok: true, checked: false },
    ],
  });
/** First sent to premium (tier 1) and served there unchecked: a request the router sent up, or a retry one tier up. */
const onPremium = (id: string, extra: Partial<DecisionEntry> = {}) =>
  decision(id, {
    initialTier: 'premium',
    tierIndex: 1,
    tier: 'premium',
    model: 'big',
    cascade: [{ tier: 'premium', model: 'big', ok: true, checked: false }],
    ...extra,
  });
/** The same request as a sidecar from before decision-log v2 logged it: no tierIndex, no checked flags. */
function v1(e: DecisionEntry): DecisionEntry {
  const { v: _v, tierIndex: _t, ...rest } = e;
  return { ...rest, cascade: e.cascade.map(({ checked: _c, ...c }) => c) };
}

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
      onPremium('a-retry', { retryOf: 'a' }),
      fb('a-retry', 0.9, { tier: 'premium' }),
    ];
    const r = exportOutcomes(entries);
    expect(r.outcomes).toEqual([{ prompt: 'prompt of a', weak: 0, strong: 0.9, group: 'default' }]);
    expect(r.stats).toMatchObject({ decisions: 1, retries: 1, feedback: 2, outcomes: 1 });
  });

  it('a served weak answer with feedback but nothing about the strong tier: skipped unless assumed', () => {
    const entries = [decision('a'), fb('a', 1)];
    expect(exportOutcomes(entries).outcomes).toEqual([]);
    expect(exportOutcomes(entries).stats.skipped['strong-unknown']).toBe(1);
    expect(exportOutcomes(entries, { assumeStrong: 1 }).outcomes).toEqual([
      { prompt: 'prompt of a', weak: 1, strong: 1, group: 'default' },
    ]);
  });

  it('no feedback and no escalation says nothing about the weak tier', () => {
    const r = exportOutcomes([decision('a')], { assumeStrong: 1 });
    expect(r.outcomes).toEqual([]);
    expect(r.stats.skipped['weak-unknown']).toBe(1);
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
      onPremium('a-retry', { retryOf: 'a', status: 502, cascade: [] }),
    ];
    expect(exportOutcomes(entries).outcomes).toEqual([]);
  });

  it('a request routed straight to the strong tier is no weak outcome, whatever its feedback', () => {
    // The rules sent it to premium: the cheap tier was never asked, so a bad rating is premium's, not a weak failure.
    const r = exportOutcomes([onPremium('a'), fb('a', 0, { tier: 'premium', initialTier: 'premium' })], {
      assumeStrong: 1,
    });
    expect(r.outcomes).toEqual([]);
    expect(r.stats.skipped['not-cheapest']).toBe(1);
    expect(r.features[0]).not.toHaveProperty('weak');
  });

  it('a middle tier that escalated to the top is no cheap-versus-strong outcome', () => {
    const middle = decision('a', {
      initialTier: 'standard',
      tierIndex: 1,
      tier: 'premium',
      model: 'big',
      cascade: [
        { tier: 'standard', model: 'mid', ok: false, checked: true, check: 'empty', to: 'premium' },
        { tier: 'premium', model: 'big', ok: true, checked: false },
      ],
    });
    const r = exportOutcomes([middle]);
    expect(r.outcomes).toEqual([]);
    expect(r.features[0]).not.toHaveProperty('weak');
    expect(r.features[0]).not.toHaveProperty('strong');
  });

  it('tier promotion off the cheap tier (it gave no answer) tells neither quality', () => {
    // Every cheap target failed and promotion served premium: the answer is not one served after a weak failure.
    const promoted = decision('a', {
      promotedFrom: 'cheap',
      tier: 'premium',
      model: 'big',
      cascade: [{ tier: 'premium', model: 'big', ok: true, checked: false }],
    });
    const r = exportOutcomes([promoted, fb('a', 1, { tier: 'premium' })], { assumeStrong: 1 });
    expect(r.outcomes).toEqual([]);
    expect(r.stats.skipped.promoted).toBe(1);
    expect(r.features[0]).not.toHaveProperty('strong');
    // Promoted down from premium to the cheap tier: first sent above it, so not a cheap outcome either.
    const down = decision('b', { initialTier: 'premium', tierIndex: 1, promotedFrom: 'premium' });
    const d = exportOutcomes([down, fb('b', 0)], { assumeStrong: 1 });
    expect(d.outcomes).toEqual([]);
    expect(d.stats.skipped['not-cheapest']).toBe(1);
  });

  it('a cascade escalation is the comparison it is: the strong tier failing its check too is 0, not 1', () => {
    const twice = decision('a', {
      tier: 'top',
      model: 'huge',
      escalations: 2,
      cascade: [
        { tier: 'cheap', model: 'mini', ok: false, checked: true, check: 'refusal', to: 'premium' },
        { tier: 'premium', model: 'big', ok: false, checked: true, check: 'empty', to: 'top' },
        { tier: 'top', model: 'huge', ok: true, checked: false },
      ],
    });
    expect(exportOutcomes([twice]).outcomes).toEqual([
      { prompt: 'prompt of a', weak: 0, strong: 0, group: 'default' },
    ]);
  });

  it("a strict retry's answer on the cheap tier is that tier's answer: its feedback, not the failed first try", () => {
    const strict = decision('a', {
      cascade: [
        { tier: 'cheap', model: 'mini', ok: false, checked: true, check: 'json', to: 'cheap' },
        { tier: 'cheap', model: 'mini', ok: true, checked: true },
      ],
    });
    expect(exportOutcomes([strict, fb('a', 0.8)], { assumeStrong: 1 }).outcomes).toEqual([
      { prompt: 'prompt of a', weak: 0.8, strong: 1, group: 'default' },
    ]);
  });

  it('the escalated call failed: the cheap answer served is still weak 0, and nothing tells strong', () => {
    const served = decision('a', {
      escalations: 1,
      cascade: [{ tier: 'cheap', model: 'mini', ok: false, checked: true, check: 'refusal', to: 'premium' }],
    });
    const r = exportOutcomes([served]);
    expect(r.outcomes).toEqual([]);
    expect(r.features[0]).toMatchObject({ weak: 0 });
    expect(r.stats.skipped['strong-unknown']).toBe(1);
  });

  it('lines from before decision-log v2 are skipped and counted, never labelled', () => {
    const entries = [v1(escalated('a')), v1(decision('b')), fb('b', 1), v1(decision('c'))];
    const r = exportOutcomes(entries, { assumeStrong: 1 });
    expect(r.outcomes).toEqual([]);
    expect(r.stats).toMatchObject({ decisions: 3, outcomes: 0 });
    expect(r.stats.skipped['old-format']).toBe(3);
    // Still a features line each (the score distribution needs every request), with no outcome figures.
    expect(r.features.map((f) => [f.requestId, f.weak, f.strong])).toEqual([
      ['a', undefined, undefined],
      ['b', undefined, undefined],
      ['c', undefined, undefined],
    ]);
  });

  it('counts each skipped request once, under the first reason that applies', () => {
    const r = exportOutcomes([
      escalated('ok'),
      { ...escalated('no-prompt'), prompt: undefined },
      decision('weak'),
      { ...decision('strong'), prompt: undefined },
      fb('strong', 1),
    ]);
    expect(r.stats.outcomes).toBe(1);
    expect(r.stats.skipped).toEqual({
      'old-format': 0,
      'not-cheapest': 0,
      promoted: 0,
      'weak-unknown': 1,
      'strong-unknown': 1,
      'no-prompt': 1,
    });
  });

  it('a retry logged before v2, or promoted off its tier, tells nothing about the strong tier', () => {
    const base = [decision('a'), fb('a', 0, { retry: true })];
    expect(exportOutcomes([...base, onPremium('r', { retryOf: 'a' })]).outcomes).toHaveLength(1);
    expect(exportOutcomes([...base, v1(onPremium('r', { retryOf: 'a' }))]).outcomes).toEqual([]);
    // Premium was down and promotion served the retry from the cheap tier again: no strong answer at all.
    const promoted = onPremium('r', {
      retryOf: 'a',
      promotedFrom: 'premium',
      tier: 'cheap',
      model: 'mini',
      cascade: [{ tier: 'cheap', model: 'mini', ok: true, checked: false }],
    });
    expect(exportOutcomes([...base, promoted]).outcomes).toEqual([]);
  });

  it('a reused x-request-id: each feedback and retry labels the latest decision with that id before it', () => {
    // A client sent one trace id on two requests, then rated (and retried) the second one, which the ring held.
    const entries = [
      decision('t', { prompt: 'first' }),
      decision('t', { prompt: 'second' }),
      fb('t', 0, { retry: true }),
      onPremium('t-retry', { retryOf: 't' }),
    ];
    const r = exportOutcomes(entries);
    expect(r.outcomes).toEqual([{ prompt: 'second', weak: 0, strong: 1, group: 'default' }]);
    expect(r.stats.skipped['weak-unknown']).toBe(1);
    expect(r.features.map((f) => [f.weak, f.strong])).toEqual([
      [undefined, undefined],
      [0, 1],
    ]);
    // Feedback between the two requests rates the first; the second has none.
    const between = exportOutcomes(
      [decision('t', { prompt: 'first' }), fb('t', 1), decision('t', { prompt: 'second' })],
      { assumeStrong: 1 },
    );
    expect(between.outcomes).toEqual([{ prompt: 'first', weak: 1, strong: 1, group: 'default' }]);
    // Feedback naming no decision before it (its decision rotated away) labels nothing.
    expect(exportOutcomes([fb('t', 0), decision('t')], { assumeStrong: 1 }).outcomes).toEqual([]);
  });

  it('of several retries, a later one that failed (502) does not hide a served one before it', () => {
    const retried = [decision('a'), fb('a', 0, { retry: true })];
    const good = onPremium('r1', { retryOf: 'a' });
    const failed = onPremium('r2', { retryOf: 'a', status: 502, cascade: [] });
    expect(exportOutcomes([...retried, good, fb('a', 0, { retry: true }), failed]).outcomes).toEqual([
      { prompt: 'prompt of a', weak: 0, strong: 1, group: 'default' },
    ]);
    expect(exportOutcomes([...retried, failed, good]).outcomes).toEqual([
      { prompt: 'prompt of a', weak: 0, strong: 1, group: 'default' },
    ]);
    // Two served retries: the latest is the answer the user saw last, and its feedback speaks.
    const rated = exportOutcomes([
      ...retried,
      good,
      fb('r1', 0.2, { tier: 'premium' }),
      onPremium('r2', { retryOf: 'a' }),
      fb('r2', 0.9, { tier: 'premium' }),
    ]);
    expect(rated.outcomes).toEqual([{ prompt: 'prompt of a', weak: 0, strong: 0.9, group: 'default' }]);
  });

  it("the user's rating of the answer served outranks a failed check on it, which outranks an assumption", () => {
    // The cheap answer failed the refusal check, the premium call failed, the cheap answer was served: rated up.
    const served = decision('a', {
      escalations: 1,
      cascade: [{ tier: 'cheap', model: 'mini', ok: false, checked: true, check: 'refusal', to: 'premium' }],
    });
    expect(exportOutcomes([served, fb('a', 1)], { assumeStrong: 1 }).outcomes).toEqual([
      { prompt: 'prompt of a', weak: 1, strong: 1, group: 'default' },
    ]);
    expect(exportOutcomes([served], { assumeStrong: 1 }).outcomes).toEqual([
      { prompt: 'prompt of a', weak: 0, strong: 1, group: 'default' },
    ]);
    // The same on the tier above: premium failed its check, the top tier's call failed, premium was served.
    const above = decision('b', {
      tier: 'premium',
      model: 'big',
      escalations: 2,
      cascade: [
        { tier: 'cheap', model: 'mini', ok: false, checked: true, check: 'refusal', to: 'premium' },
        { tier: 'premium', model: 'big', ok: false, checked: true, check: 'empty', to: 'top' },
      ],
    });
    expect(exportOutcomes([above, fb('b', 0.7, { tier: 'premium' })]).outcomes).toEqual([
      { prompt: 'prompt of b', weak: 0, strong: 0.7, group: 'default' },
    ]);
    expect(exportOutcomes([above]).outcomes).toEqual([
      { prompt: 'prompt of b', weak: 0, strong: 0, group: 'default' },
    ]);
  });
});
