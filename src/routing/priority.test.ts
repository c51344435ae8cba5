import { describe, expect, it } from 'vitest';
import type { ChatCompletionRequest } from '../api/openai.js';
import { compileManifests, parseManifests } from '../config/manifests.js';
import { isTiermeshError, type TiermeshError } from '../errors.js';
import { decide, routingHeaders } from './decide.js';
import { explainDecision } from './explain.js';
import { priorityWindow } from './priority.js';

const ROUTE = `
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default }
spec:
  providers: [{ name: sim, type: simulated }]
  models:
    - { name: small, targets: [{ provider: sim }], pricing: { inputPerMTok: 0.1, outputPerMTok: 0.1 }, contextWindow: 100000 }
    - { name: mid, targets: [{ provider: sim }], pricing: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 100000 }
    - { name: big, targets: [{ provider: sim }], pricing: { inputPerMTok: 5, outputPerMTok: 5 }, contextWindow: 100000 }
  tiers:
    - { name: cheap, models: [small] }
    - { name: standard, models: [mid] }
    - { name: premium, models: [big] }
  classifier:
    rules: [{ name: hard, pattern: "\\\\bprove\\\\b", tier: premium, weight: 10 }]
  split: [{ model: big, percent: 100 }]
  priority:
    classes:
      exec: { minTier: premium }
      batch: { maxTier: cheap }
      normal: {}
    users: { ceo: exec }
    groups: { interns: batch, finance: exec }
    default: normal
`;
const snapshot = compileManifests(parseManifests(ROUTE));
const spec = snapshot.routes[0]!.spec;
const hello: ChatCompletionRequest = { model: 'auto', messages: [{ role: 'user', content: 'hello' }] };
const hard: ChatCompletionRequest = {
  model: 'auto',
  messages: [{ role: 'user', content: 'prove that there are infinitely many primes' }],
};

function thrown(f: () => unknown): TiermeshError {
  try {
    f();
  } catch (e) {
    if (isTiermeshError(e)) return e;
    throw e;
  }
  throw new Error('did not throw');
}

describe('priorityWindow', () => {
  it('takes the header first, then the user, then the group, then the default', () => {
    expect(priorityWindow(spec, { priority: 'batch', user: 'ceo', group: 'finance' })).toEqual({
      name: 'batch',
      source: 'header',
      lo: 0,
      hi: 0,
    });
    expect(priorityWindow(spec, { user: 'ceo', group: 'interns' })).toMatchObject({
      name: 'exec',
      source: 'user',
    });
    expect(priorityWindow(spec, { user: 'bob', group: 'interns' })).toMatchObject({
      name: 'batch',
      source: 'group',
    });
    expect(priorityWindow(spec, { user: 'bob' })).toEqual({
      name: 'normal',
      source: 'default',
      lo: 0,
      hi: 2,
    });
  });

  it('does not treat inherited object keys as classes or users', () => {
    expect(() => priorityWindow(spec, { priority: 'constructor' })).toThrow(/x-tiermesh-priority/);
    expect(priorityWindow(spec, { user: 'toString' })).toMatchObject({ source: 'default' });
  });

  it('answers an unknown header value with a 400 naming the header and the accepted values', () => {
    const e = thrown(() => priorityWindow(spec, { priority: 'urgent' }));
    expect(e.status).toBe(400);
    expect(e.param).toBe('x-tiermesh-priority');
    expect(e.message).toBe('x-tiermesh-priority must be one of "exec", "batch", "normal"');
    const none = compileManifests(parseManifests(ROUTE.replace(/ {2}priority:[\s\S]*$/, ''))).routes[0]!.spec;
    expect(priorityWindow(none, {})).toBeUndefined();
    expect(thrown(() => priorityWindow(none, { priority: 'exec' })).param).toBe('x-tiermesh-priority');
  });
});

describe('decide with priority', () => {
  it('routes a simple prompt from an exec to the premium tier without reading it', () => {
    const d = decide({ snapshot, request: hello, headers: { user: 'ceo' } });
    expect(d.tierName).toBe('premium');
    expect(explainDecision(d).priority).toEqual({
      class: 'exec',
      source: 'user',
      minTier: 'premium',
      maxTier: 'premium',
    });
  });

  it('caps a hard prompt at the class maxTier, cascade and split included', () => {
    const d = decide({ snapshot, request: hard, headers: { priority: 'batch' }, random: 0 });
    expect(d.tierName).toBe('cheap');
    expect(d.models.map((m) => m.name)).toEqual(['small']);
    expect(d.escalation).toEqual([]);
    const free = decide({ snapshot, request: hard, random: 0.5 });
    expect(free.tierName).toBe('premium');
  });

  it('lets a budget downgrade win over a minTier', () => {
    const d = decide({ snapshot, request: hello, headers: { user: 'ceo' }, downgrade: true });
    expect(d.tierName).toBe('cheap');
  });

  it('picks the headers out of Node header objects only when sent', () => {
    expect(routingHeaders({ 'x-tiermesh-priority': ' exec ', 'x-tiermesh-group': ['finance', 'x'] })).toEqual(
      {
        task: undefined,
        user: undefined,
        priority: 'exec',
        group: 'finance',
      },
    );
    expect(routingHeaders({})).toEqual({ task: undefined, user: undefined });
  });
});
