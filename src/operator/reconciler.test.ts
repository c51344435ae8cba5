import { describe, expect, it } from 'vitest';
import type { ModelRoute, ModelRouteStatus } from '../api/modelroute.js';
import { ConfigHub } from './hub.js';
import { reconcileNamespace } from './reconciler.js';

const routeObj = (name: string, ruleTier = 'small', status?: ModelRouteStatus) => ({
  apiVersion: 'tiermesh.dev/v1alpha1',
  kind: 'ModelRoute',
  metadata: { name, namespace: 'ns', generation: 1, uid: `uid-${name}` },
  spec: {
    providers: [{ name: 'sim', type: 'simulated' }],
    models: [
      {
        name: 'm',
        targets: [{ provider: 'sim' }],
        pricing: { inputPerMTok: 1, outputPerMTok: 1 },
        contextWindow: 1000,
      },
    ],
    tiers: [{ name: 'small', models: ['m'] }],
    classifier: { rules: [{ name: 'r', keywords: ['x'], tier: ruleTier }] },
  },
  ...(status ? { status } : {}),
});

function harness(routes: unknown[], leader = true) {
  const writes: Array<{ name: string; status: ModelRouteStatus }> = [];
  const events: string[] = [];
  const hub = new ConfigHub();
  const deps = {
    routes: () => routes,
    budgets: () => [],
    hub,
    isLeader: () => leader,
    writeRouteStatus: async (r: ModelRoute, status: ModelRouteStatus) => {
      writes.push({ name: r.metadata.name, status });
    },
    refreshBudget: async () => undefined,
    event: (_ref: unknown, type: string, reason: string) => events.push(`${type}/${reason}`),
    announced: new Set<string>(),
    now: () => new Date('2026-01-01T00:00:00Z'),
  };
  return { deps, writes, events, hub };
}

describe('reconcileNamespace', () => {
  it('publishes valid routes only, marks the invalid one by field, and announces it once', async () => {
    const h = harness([routeObj('good'), routeObj('bad', 'nope')]);
    const r = await reconcileNamespace('ns', h.deps);
    expect(h.hub.snapshot('ns')?.routes.map((x) => x.name)).toEqual(['good']);
    expect(r).toMatchObject({ routes: 2, invalid: 1, statusWrites: 2 });
    const bad = h.writes.find((w) => w.name === 'bad')!.status;
    expect(bad.conditions?.[0]).toMatchObject({ status: 'False', reason: 'Invalid' });
    expect(bad.conditions?.[0]?.message).toContain('spec.classifier.rules[0].tier');
    expect(h.events).toEqual(['Warning/InvalidConfig']);
  });

  it('writes nothing when the stored status already says it (the informer echo of its own write)', async () => {
    const first = harness([routeObj('good')]);
    await reconcileNamespace('ns', first.deps);
    const stored = first.writes[0]!.status;
    const again = harness([routeObj('good', 'small', stored)]);
    const r = await reconcileNamespace('ns', again.deps);
    expect(r.statusWrites).toBe(0);
    expect(again.events).toEqual([]);
  });

  it('a follower publishes config but never writes status', async () => {
    const h = harness([routeObj('good')], false);
    await reconcileNamespace('ns', h.deps);
    expect(h.hub.snapshot('ns')?.routes.length).toBe(1);
    expect(h.writes).toEqual([]);
  });

  it('an object the schema rejects is reported by field, once per generation', async () => {
    const broken = { ...routeObj('weird'), spec: { ...routeObj('weird').spec, tiers: [] } };
    const h = harness([broken, routeObj('good')]);
    const r = await reconcileNamespace('ns', h.deps);
    await reconcileNamespace('ns', h.deps);
    expect(r.invalid).toBe(1);
    expect(h.events).toEqual(['Warning/InvalidConfig']);
  });
});
