import { describe, expect, it } from 'vitest';
import type { ChatCompletionRequest } from '../api/openai.js';
import { compileManifests, parseManifests } from '../config/manifests.js';
import { decide } from './decide.js';
import { explainDecision } from './explain.js';
import { conversationKey, inToolLoop, StickyMap, stickyTier } from './sticky.js';

const req = (messages: ChatCompletionRequest['messages']): ChatCompletionRequest => ({
  model: 'auto',
  messages,
});

describe('conversationKey', () => {
  it('uses the session header when sent', () => {
    expect(conversationKey(req([{ role: 'user', content: 'a' }]), 'sess-1', 'u')).toBe('s:sess-1');
  });

  it('fingerprints user + the opening turns, so later turns of the same conversation match', () => {
    const first = req([
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'plan my trip' },
    ]);
    const later = req([
      ...first.messages,
      { role: 'assistant', content: 'where to?' },
      { role: 'user', content: 'Lisbon' },
    ]);
    const k = conversationKey(first, undefined, 'alice');
    expect(k).toMatch(/^f:[\w-]{22}$/);
    expect(conversationKey(later, undefined, 'alice')).toBe(k);
    expect(conversationKey(first, undefined, 'bob')).not.toBe(k);
    expect(conversationKey(req([{ role: 'user', content: 'plan my trip!' }]), undefined, 'alice')).not.toBe(
      k,
    );
    // The key holds no prompt text.
    expect(k).not.toContain('trip');
  });

  it('has no key for a request without a user turn', () => {
    expect(conversationKey(req([{ role: 'system', content: 'x' }]), undefined, undefined)).toBeUndefined();
  });
});

describe('inToolLoop', () => {
  it('is true when the request carries tool results for the model', () => {
    expect(
      inToolLoop(
        req([
          { role: 'user', content: 'weather?' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'c' }] },
          { role: 'tool', tool_call_id: 'c', content: '20C' },
        ]),
      ),
    ).toBe(true);
    expect(inToolLoop(req([{ role: 'user', content: 'hi' }]))).toBe(false);
  });
});

describe('stickyTier', () => {
  const prev = { tierIndex: 0, model: 'small' };
  it('keeps the tier while the new score is within the margin past the boundary', () => {
    // Two tiers: the boundary is 0.5.
    expect(stickyTier(prev, 0.55, 2, 0.1, false)).toEqual({ keep: true, reason: 'within-margin' });
    expect(stickyTier(prev, 0.2, 2, 0.1, false)).toEqual({ keep: true, reason: 'within-margin' });
    expect(stickyTier(prev, 0.65, 2, 0.1, false)).toEqual({ keep: false, reason: 'past-margin' });
    expect(stickyTier({ tierIndex: 1, model: 'big' }, 0.45, 2, 0.1, false)).toEqual({
      keep: true,
      reason: 'within-margin',
    });
    expect(stickyTier({ tierIndex: 1, model: 'big' }, 0.3, 2, 0.1, false).keep).toBe(false);
  });
  it('always keeps in a tool loop, and has nothing to keep without history', () => {
    expect(stickyTier(prev, 0.99, 2, 0.1, true)).toEqual({ keep: true, reason: 'tool-loop' });
    expect(stickyTier(undefined, 0.99, 2, 0.1, true)).toEqual({ keep: false, reason: 'no-history' });
  });
});

describe('StickyMap', () => {
  it('forgets entries after their TTL and holds at most maxEntries', () => {
    const m = new StickyMap<number>({ ttlMs: 100, maxEntries: 2 });
    m.set('a', 1, 0);
    expect(m.get('a', 99)).toBe(1);
    expect(m.get('a', 100)).toBeUndefined();
    m.set('a', 1, 200);
    m.set('b', 2, 200);
    m.set('a', 3, 201); // refreshed: b is now the oldest
    m.set('c', 4, 202);
    expect(m.size).toBe(2);
    expect(m.get('b', 202)).toBeUndefined();
    expect(m.get('a', 202)).toBe(3);
  });
});

describe('decide with stickiness', () => {
  const snapshot = compileManifests(
    parseManifests(`
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default }
spec:
  providers: [{ name: sim, type: simulated }]
  models:
    - { name: small, targets: [{ provider: sim }], pricing: { inputPerMTok: 0.1, outputPerMTok: 0.1 }, contextWindow: 100000 }
    - { name: small-b, targets: [{ provider: sim }], pricing: { inputPerMTok: 0.1, outputPerMTok: 0.1 }, contextWindow: 100000 }
    - { name: big, targets: [{ provider: sim }], pricing: { inputPerMTok: 5, outputPerMTok: 5 }, contextWindow: 100000 }
  tiers: [{ name: cheap, models: [small, small-b] }, { name: premium, models: [big] }]
  classifier:
    rules: [{ name: hard, pattern: "\\\\bprove\\\\b", tier: premium, weight: 10 }]
  stickiness: { enabled: true, margin: 0.1 }
`),
  );
  const hard = (extra: ChatCompletionRequest['messages'] = []) =>
    req([{ role: 'user', content: 'prove the theorem' }, ...extra]);

  it('a tool loop stays on the model that asked for the tools, whatever the classifier says', () => {
    const loop = hard([
      { role: 'assistant', content: null, tool_calls: [{ id: 'c' }] },
      { role: 'tool', tool_call_id: 'c', content: 'result' },
    ]);
    expect(decide({ snapshot, request: loop }).tierName).toBe('premium');
    const d = decide({ snapshot, request: loop, sticky: { tierIndex: 0, model: 'small-b' } });
    expect(d.tierName).toBe('cheap');
    expect(d.models.map((m) => m.name)).toEqual(['small-b', 'small']);
    expect(explainDecision(d).sticky).toEqual({
      kept: true,
      reason: 'tool-loop',
      tier: 'cheap',
      model: 'small-b',
    });
  });

  it('a turn whose score is far past the boundary leaves the remembered tier', () => {
    const d = decide({ snapshot, request: hard(), sticky: { tierIndex: 0, model: 'small' } });
    expect(d.tierName).toBe('premium');
    expect(d.sticky).toMatchObject({ kept: false, reason: 'past-margin' });
  });

  it('does nothing when the route has stickiness off', () => {
    const route = snapshot.routes[0]!;
    const off = { ...snapshot, routes: [{ ...route, spec: { ...route.spec, stickiness: undefined } }] };
    const loop = hard([{ role: 'tool', tool_call_id: 'c', content: 'result' }]);
    const d = decide({ snapshot: off, request: loop, sticky: { tierIndex: 0, model: 'small' } });
    expect(d.sticky).toBeUndefined();
    expect(d.tierName).toBe('premium');
  });
});
