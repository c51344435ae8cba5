import { describe, expect, it } from 'vitest';
import type { ChatCompletionRequest } from '../api/openai.js';
import type { Snapshot } from '../api/snapshot.js';
import { compileManifests, parseManifests } from '../config/manifests.js';
import { isTiermeshError, type TiermeshError } from '../errors.js';
import { decide, type LearnedScorer, resolveRoute, routingHeaders } from './decide.js';

const ROUTES = `
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default, namespace: team }
spec:
  providers: [{ name: sim, type: simulated }]
  models:
    - { name: tiny, targets: [{ provider: sim }], pricing: { inputPerMTok: 0.1, outputPerMTok: 0.4 }, contextWindow: 1000 }
    - { name: small, targets: [{ provider: sim }], pricing: { inputPerMTok: 0.15, outputPerMTok: 0.6 }, contextWindow: 16000 }
    - { name: mid, targets: [{ provider: sim }], pricing: { inputPerMTok: 1, outputPerMTok: 4 }, contextWindow: 32000, maxOutputTokens: 4000 }
    - { name: big, targets: [{ provider: sim }], pricing: { inputPerMTok: 3, outputPerMTok: 15 }, contextWindow: 200000 }
    - { name: canary, targets: [{ provider: sim }], pricing: { inputPerMTok: 0.2, outputPerMTok: 0.8 }, contextWindow: 16000 }
    - { name: outside, targets: [{ provider: sim }], pricing: { inputPerMTok: 5, outputPerMTok: 5 }, contextWindow: 16000 }
  tiers:
    - { name: cheap, models: [tiny, small] }
    - { name: standard, models: [mid] }
    - { name: premium, models: [big] }
  taskTypes: { extraction: cheap, reasoning: premium, summarization: standard }
  split: [{ model: canary, percent: 10 }]
  baselineModel: big
---
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: learned, namespace: team }
spec:
  providers: [{ name: sim, type: simulated }]
  models:
    - { name: l-small, targets: [{ provider: sim }], pricing: { inputPerMTok: 0.1, outputPerMTok: 0.4 }, contextWindow: 8000 }
    - { name: l-big, targets: [{ provider: sim }], pricing: { inputPerMTok: 3, outputPerMTok: 15 }, contextWindow: 8000 }
    - { name: small, targets: [{ provider: sim }], pricing: { inputPerMTok: 9, outputPerMTok: 9 }, contextWindow: 8000 }
  tiers:
    - { name: low, models: [l-small] }
    - { name: high, models: [l-big] }
  classifier: { mode: learned, threshold: 0.3, confidenceBand: 0.05 }
`;

const snapshot: Snapshot = compileManifests(parseManifests(ROUTES));

function withMode(mode: 'rules' | 'learned' | 'hybrid'): Snapshot {
  const s = structuredClone(snapshot);
  s.routes.find((r) => r.name === 'learned')!.spec.classifier.mode = mode;
  return s;
}

const req = (content: string, extra: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest => ({
  model: 'auto',
  messages: [{ role: 'user', content }],
  ...extra,
});

function thrown(f: () => unknown): TiermeshError {
  try {
    f();
  } catch (e) {
    if (isTiermeshError(e)) return e;
    throw e;
  }
  throw new Error('did not throw');
}

const names = (ms: Array<{ name: string }>) => ms.map((m) => m.name);

describe('route resolution', () => {
  it('"auto" takes the default route; a route name takes that route', () => {
    expect(decide({ snapshot, request: req('hi') }).route).toBe('default');
    const d = decide({ snapshot, request: req('hi', { model: 'learned' }) });
    expect(d.route).toBe('learned');
    expect(d.source).toBe('rules');
  });

  it('a concrete model is honoured, from the default route first', () => {
    const d = decide({
      snapshot,
      request: req('Prove the Riemann hypothesis step by step', { model: 'small' }),
    });
    expect(d.route).toBe('default');
    expect(d.source).toBe('explicit-model');
    expect(names(d.models)).toEqual(['small']);
    expect(d.tierName).toBe('cheap');
    expect(d.escalation).toEqual([]);
    const other = decide({ snapshot, request: req('hi', { model: 'l-big' }) });
    expect(other.route).toBe('learned');
    expect(names(other.models)).toEqual(['l-big']);
  });

  it('a model outside every tier is still honoured, with tier -1', () => {
    const d = decide({ snapshot, request: req('hi', { model: 'outside' }) });
    expect(names(d.models)).toEqual(['outside']);
    expect(d.tierIndex).toBe(-1);
    expect(d.tierName).toBe('');
  });

  it('an unknown model is TM_MODEL_NOT_FOUND on param "model"', () => {
    const e = thrown(() => decide({ snapshot, request: req('hi', { model: 'gpt-9' }) }));
    expect(e.code).toBe('TM_MODEL_NOT_FOUND');
    expect(e.status).toBe(404);
    expect(e.param).toBe('model');
    expect(e.toBody().error.message).toContain('gpt-9');
  });

  it('"auto" without routes is TM_MODEL_NOT_FOUND', () => {
    const empty = { ...snapshot, routes: [], defaultRoute: undefined };
    expect(thrown(() => resolveRoute(empty, 'auto')).code).toBe('TM_MODEL_NOT_FOUND');
  });
});

describe('classification to tier', () => {
  it('easy prompts go to the cheapest tier, in preference order, with the tiers above for the cascade', () => {
    const d = decide({ snapshot, request: req('hello!') });
    expect(d.tierName).toBe('cheap');
    expect(names(d.models)).toEqual(['tiny', 'small']);
    expect(d.escalation.map((s) => s.tierName)).toEqual(['standard', 'premium']);
    expect(d.escalation.map((s) => names(s.models))).toEqual([['mid'], ['big']]);
    expect(d.escalated).toBe(false);
  });

  it('hard prompts go to the premium tier, with nothing left to cascade to', () => {
    const d = decide({
      snapshot,
      request: req('Prove step by step that sqrt(2) is irrational and analyze the proof.'),
    });
    expect(d.tierName).toBe('premium');
    expect(d.escalation).toEqual([]);
  });

  it('learned mode: a percentile just under the threshold stays in the cheapest tier (premiumShare is kept exactly)', () => {
    // Threshold 0.3 maps to the boundary 0.5; with band 0.05 the old mapping escalated p = 0.29 as "too close to
    // call", which sent far more than the configured share upwards. Below the threshold now maps under the band.
    const d = decide({
      snapshot: withMode('learned'),
      request: req('x', { model: 'learned' }),
      learned: () => 0.29,
    });
    expect(d.classification.tierIndex).toBe(0);
    expect(d.tierName).toBe('low');
    expect(d.escalated).toBe(false);
    const far = decide({
      snapshot: withMode('learned'),
      request: req('x', { model: 'learned' }),
      learned: () => 0.1,
    });
    expect(far.tierName).toBe('low');
    expect(far.escalated).toBe(false);
  });

  it('a probability exactly at the threshold is on the boundary: the upper tier, without escalation', () => {
    const d = decide({
      snapshot: withMode('learned'),
      request: req('x', { model: 'learned' }),
      learned: () => 0.3,
    });
    expect(d.classification.tierIndex).toBe(1);
    expect(d.escalated).toBe(false);
  });
});

describe('task header', () => {
  it('maps via spec.taskTypes, overriding the classifier', () => {
    const d = decide({ snapshot, request: req('hello'), headers: { task: 'reasoning' } });
    expect(d.source).toBe('task');
    expect(d.tierName).toBe('premium');
    expect(d.task).toBe('reasoning');
    expect(d.classification.signals).toEqual(['task:reasoning']);
  });

  it('an unknown task classifies normally', () => {
    const d = decide({ snapshot, request: req('hello'), headers: { task: 'poetry' } });
    expect(d.source).toBe('rules');
    expect(d.tierName).toBe('cheap');
    expect(d.classification.signals).toContain('unknown-task');
  });

  it('routingHeaders reads the x-tiermesh headers from a Node header object', () => {
    expect(
      routingHeaders({ 'x-tiermesh-task': 'code', 'x-tiermesh-user': ['u1', 'u2'], other: 'x' }),
    ).toEqual({
      task: 'code',
      user: 'u1',
    });
    expect(routingHeaders({ 'x-tiermesh-task': '  ' })).toEqual({ task: undefined, user: undefined });
  });

  it('routingHeaders refuses an x-tiermesh-user longer than 253 characters, naming user', () => {
    expect(routingHeaders({ 'x-tiermesh-user': 'u'.repeat(253) }).user).toHaveLength(253);
    let err: unknown;
    try {
      routingHeaders({ 'x-tiermesh-user': 'u'.repeat(254) });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'TM_INVALID_REQUEST', status: 400, param: 'user' });
    expect((err as Error).message).toContain('x-tiermesh-user');
  });

  it('user comes from the header, else the OpenAI user field', () => {
    expect(decide({ snapshot, request: req('hi', { user: 'body-user' }) }).user).toBe('body-user');
    expect(decide({ snapshot, request: req('hi', { user: 'body-user' }), headers: { user: 'h' } }).user).toBe(
      'h',
    );
  });
});

describe('context window fit', () => {
  const long = 'lorem ipsum dolor sit amet '.repeat(300); // ~1500 tokens: more than tiny's 1000 window

  it('skips models whose window is too small, keeping the rest of the tier', () => {
    const d = decide({ snapshot, request: req(long), headers: { task: 'extraction' } });
    expect(names(d.models)).toEqual(['small']);
    expect(d.contextBumped).toBe(false);
  });

  it('counts requested max tokens and maxOutputTokens', () => {
    const d = decide({
      snapshot,
      request: req('hi', { max_tokens: 20_000 }),
      headers: { task: 'extraction' },
    });
    // tiny (1000) and small (16000) cannot hold 20000 output tokens; mid caps output at 4000: premium.
    expect(d.tierName).toBe('premium');
    expect(d.contextBumped).toBe(true);
  });

  it('moves up to the next tier that fits', () => {
    const large = 'lorem ipsum dolor sit amet '.repeat(4000); // ~20000 tokens: over small, under mid
    const d = decide({ snapshot, request: req(large), headers: { task: 'extraction' } });
    expect(d.estimatedPromptTokens).toBeGreaterThan(16000);
    expect(d.tierName).toBe('standard');
    expect(d.contextBumped).toBe(true);
    expect(d.escalation.map((s) => s.tierName)).toEqual(['premium']);
    const huge = 'lorem ipsum dolor sit amet '.repeat(7000); // ~35000 tokens: over mid too
    const h = decide({ snapshot, request: req(huge), headers: { task: 'extraction' } });
    expect(h.tierName).toBe('premium');
    expect(h.escalation).toEqual([]);
  });

  it('TM_CONTEXT_TOO_LONG naming the max-tokens field when the prompt alone would fit', () => {
    const e = thrown(() => decide({ snapshot, request: req('hi', { max_tokens: 1e9 }) }));
    expect(e.code).toBe('TM_CONTEXT_TOO_LONG');
    expect(e.status).toBe(400);
    expect(e.param).toBe('max_tokens');
    expect(e.message).toContain('200000');
    const c = thrown(() => decide({ snapshot, request: req('hi', { max_completion_tokens: 500_000 }) }));
    expect(c.param).toBe('max_completion_tokens');
  });

  it('TM_CONTEXT_TOO_LONG naming messages when the prompt alone fits no model', () => {
    const e = thrown(() => decide({ snapshot, request: req('lorem ipsum '.repeat(200_000)) }));
    expect(e.code).toBe('TM_CONTEXT_TOO_LONG');
    expect(e.param).toBe('messages');
  });

  it('an explicit model that cannot hold the prompt is TM_CONTEXT_TOO_LONG, not a silent switch', () => {
    expect(thrown(() => decide({ snapshot, request: req(long, { model: 'tiny' }) })).code).toBe(
      'TM_CONTEXT_TOO_LONG',
    );
  });
});

describe('split', () => {
  it('sends the configured share to the split model, deterministically given the random number', () => {
    const pick = (random: number) => decide({ snapshot, request: req('hello'), random });
    expect(names(pick(0).models)).toEqual(['canary', 'tiny', 'small']);
    expect(pick(0).source).toBe('split');
    expect(names(pick(0.0999).models)[0]).toBe('canary');
    expect(names(pick(0.1).models)).toEqual(['tiny', 'small']);
    expect(pick(0.1).source).toBe('rules');
    expect(names(pick(0.05).models)).toEqual(names(pick(0.05).models));
  });

  it('is not applied without a random number, to explicit models, or when the split model does not fit', () => {
    expect(decide({ snapshot, request: req('hello') }).source).toBe('rules');
    expect(names(decide({ snapshot, request: req('hello', { model: 'small' }), random: 0 }).models)).toEqual([
      'small',
    ]);
    const d = decide({ snapshot, request: req('hi', { max_tokens: 17_000 }), random: 0 });
    expect(names(d.models)).not.toContain('canary');
  });

  it('over many draws the share is the configured percentage', () => {
    let hits = 0;
    for (let i = 0; i < 1000; i++) {
      if (decide({ snapshot, request: req('hello'), random: i / 1000 }).source === 'split') hits++;
    }
    expect(hits).toBe(100);
  });
});

describe('budget downgrade', () => {
  it('serves the cheapest tier that fits, with no cascade, even for hard prompts and explicit models', () => {
    const d = decide({
      snapshot,
      request: req('Prove step by step and analyze the trade-offs'),
      downgrade: true,
      random: 0,
    });
    expect(d.source).toBe('budget-downgrade');
    expect(d.tierName).toBe('cheap');
    expect(names(d.models)).toEqual(['tiny', 'small']);
    expect(d.escalation).toEqual([]);
    const e = decide({ snapshot, request: req('hi', { model: 'big' }), downgrade: true });
    expect(e.tierName).toBe('cheap');
  });
});

describe('learned and hybrid modes', () => {
  const request = req('anything', { model: 'learned' });

  it('learned mode uses the injected percentile and hands it the prompt text and the route', () => {
    let seen: { text: string; route: string } | undefined;
    const learned: LearnedScorer = (text, route) => {
      seen = { text, route };
      return 0.9;
    };
    const d = decide({ snapshot: withMode('learned'), request, learned });
    expect(seen).toEqual({ text: 'anything', route: d.route });
    expect(d.source).toBe('learned');
    expect(d.tierName).toBe('high');
  });

  it('falls back to the rules when the learned classifier is absent, throws or returns garbage', () => {
    for (const learned of [
      undefined,
      () => Number.NaN,
      () => {
        throw new Error('boom');
      },
    ] as Array<LearnedScorer | undefined>) {
      const d = decide({ snapshot: withMode('learned'), request, ...(learned ? { learned } : {}) });
      expect(d.source).toBe('rules');
      expect(d.classification.signals).toContain('learned-unavailable');
    }
  });

  it('hybrid averages rules and learned, losing confidence when they disagree', () => {
    const agree = decide({
      snapshot: withMode('hybrid'),
      request: req('hello', { model: 'learned' }),
      learned: () => 0.0,
    });
    const disagree = decide({
      snapshot: withMode('hybrid'),
      request: req('hello', { model: 'learned' }),
      learned: () => 1,
    });
    expect(agree.source).toBe('hybrid');
    expect(disagree.classification.score).toBeGreaterThan(agree.classification.score);
    expect(disagree.classification.confidence).toBeLessThan(agree.classification.confidence);
  });

  it("a tied score says so (learned-tie) and is only as sure as its tie's middle; the tier still follows the percentile", () => {
    /** A scorer reporting a tie over percentiles [lo, hi], the prompt placed at p. */
    const tied = (p: number, lo: number, hi: number): LearnedScorer =>
      Object.assign(() => p, { tie: { lo, hi } });
    const m = { model: 'learned' };
    const up = decide({ snapshot: withMode('learned'), request: req('x', m), learned: tied(0.9, 0, 1) });
    expect(up.tierName).toBe('high');
    expect(up.classification.signals).toContain('learned-tie');
    expect(up.classification.confidence).toBe(0.5);
    const down = decide({ snapshot: withMode('learned'), request: req('x', m), learned: tied(0.1, 0, 1) });
    expect(down.tierName).toBe('low');
    expect(down.classification.confidence).toBe(0.5);
    // A tie near the top is near-certain; untied (lo = hi) or no `tie` at all: the percentile's own confidence.
    const top = decide({ snapshot: withMode('learned'), request: req('x', m), learned: tied(0.95, 0.9, 1) });
    expect(top.classification.confidence).toBeCloseTo(0.95, 9);
    for (const learned of [tied(0.9, 0.9, 0.9), () => 0.9]) {
      const d = decide({ snapshot: withMode('learned'), request: req('x', m), learned });
      expect(d.classification.signals).not.toContain('learned-tie');
      expect(d.classification.confidence).toBeCloseTo(0.9, 9);
    }
    const hybrid = decide({ snapshot: withMode('hybrid'), request: req('x', m), learned: tied(0.9, 0, 1) });
    expect(hybrid.classification.signals).toEqual(expect.arrayContaining(['learned', 'learned-tie']));
  });

  it('rules mode never calls the learned classifier', () => {
    let called = false;
    decide({
      snapshot: withMode('rules'),
      request,
      learned: () => {
        called = true;
        return 1;
      },
    });
    expect(called).toBe(false);
  });
});
