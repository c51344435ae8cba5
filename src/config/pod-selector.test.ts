import { describe, expect, it } from 'vitest';
import { compileManifests, parseManifests } from './manifests.js';
import { POD_LABELS_ENV, podLabelsFromEnv, routesForPod, selectorMatches } from './pod-selector.js';

const route = (name: string, selector = '') => `apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name}, namespace: team }
spec:
${selector}
  providers: [{ name: sim, type: simulated }]
  models: [{ name: m-${name}, targets: [{ provider: sim }], pricing: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 1000 }]
  tiers: [{ name: t, models: [m-${name}] }]
`;
const namespace = compileManifests(
  parseManifests(
    [
      route('billing', '  podSelector: { matchLabels: { app: billing } }'),
      route('default', '  podSelector: { matchLabels: { app: billing } }'),
      route(
        'frontend',
        '  podSelector: { matchExpressions: [{ key: app, operator: In, values: [frontend] }] }',
      ),
      route('shared'),
    ].join('---\n'),
  ),
);

describe('routesForPod', () => {
  it('keeps only the routes whose podSelector selects the pod, and picks the default among them', () => {
    expect(namespace.defaultRoute).toBe('default');
    const frontend = routesForPod(namespace, { app: 'frontend', 'pod-template-hash': 'abc' });
    expect(frontend.routes.map((r) => r.name)).toEqual(['frontend', 'shared']);
    // "auto" must not land on billing's route named default: the first selecting route by name instead.
    expect(frontend.defaultRoute).toBe('frontend');
    const billing = routesForPod(namespace, { app: 'billing' });
    expect(billing.routes.map((r) => r.name)).toEqual(['billing', 'default', 'shared']);
    expect(billing.defaultRoute).toBe('default');
  });

  it('keeps the operator version, so the ACK names what was pushed', () => {
    expect(routesForPod(namespace, { app: 'frontend' }).version).toBe(namespace.version);
  });

  it('leaves only unselective routes to a pod without labels, and none when nothing selects it', () => {
    expect(routesForPod(namespace, {}).routes.map((r) => r.name)).toEqual(['shared']);
    const onlyBilling = { ...namespace, routes: namespace.routes.filter((r) => r.name === 'billing') };
    const none = routesForPod(onlyBilling, { app: 'web' });
    expect(none.routes).toEqual([]);
    expect(none.defaultRoute).toBeUndefined();
  });

  it('keeps every route when the sidecar was told no labels (standalone)', () => {
    expect(routesForPod(namespace, undefined)).toBe(namespace);
  });
});

describe('podLabelsFromEnv', () => {
  it('reads the JSON labels the injector sets, and nothing when unset', () => {
    expect(podLabelsFromEnv({ [POD_LABELS_ENV]: '{"app":"web","tier":"1"}' })).toEqual({
      app: 'web',
      tier: '1',
    });
    expect(podLabelsFromEnv({ [POD_LABELS_ENV]: '{}' })).toEqual({});
    expect(podLabelsFromEnv({})).toBeUndefined();
  });

  it('refuses what is not a JSON object of strings, naming the variable', () => {
    for (const bad of ['app=web', '["app"]', '{"app":1}', 'null'])
      expect(() => podLabelsFromEnv({ [POD_LABELS_ENV]: bad }), bad).toThrow(POD_LABELS_ENV);
  });
});

describe('selectorMatches', () => {
  it('implements every matchExpressions operator', () => {
    const labels = { tier: 'web', env: 'prod' };
    expect(selectorMatches(undefined, labels)).toBe(true);
    expect(selectorMatches({}, labels)).toBe(true);
    expect(
      selectorMatches(
        { matchExpressions: [{ key: 'tier', operator: 'In', values: ['web', 'api'] }] },
        labels,
      ),
    ).toBe(true);
    expect(
      selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['web'] }] }, labels),
    ).toBe(false);
    expect(
      selectorMatches({ matchExpressions: [{ key: 'missing', operator: 'NotIn', values: ['x'] }] }, labels),
    ).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'env', operator: 'Exists' }] }, labels)).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'env', operator: 'DoesNotExist' }] }, labels)).toBe(
      false,
    );
    expect(
      selectorMatches(
        { matchLabels: { tier: 'web' }, matchExpressions: [{ key: 'x', operator: 'Exists' }] },
        labels,
      ),
    ).toBe(false);
  });
});
