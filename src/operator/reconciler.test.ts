import { describe, expect, it } from 'vitest';
import { modelBudget } from '../api/modelbudget.js';
import type { ModelRoute, ModelRouteStatus } from '../api/modelroute.js';
import { ConfigHub } from './hub.js';
import { TerminalError } from './reconcile-result.js';
import { budgetRolloverInMs, ROLLOVER_MARGIN_MS, reconcileNamespace } from './reconciler.js';
import { RoutingBook } from './routing-status.js';

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

  it('writes status.routing from the book, warns on the crossing once, and says when it is back', async () => {
    const book = new RoutingBook(86_400_000, 100, 0);
    const at = new Date('2026-01-01T00:00:00Z').getTime();
    const report = (sidecarId: string, from: number, escalations: number) =>
      book.add(
        'ns',
        {
          sidecarId,
          route: 'good',
          from,
          to: from + 1000,
          requests: { small: 20 },
          escalations,
          feedbackCount: 1,
          feedbackSum: 0.5,
        },
        at,
      );
    report('a', at - 60_000, 1);
    report('b', at - 60_000, 4);
    const h = harness([routeObj('good')]);
    const deps = { ...h.deps, routing: book.status.bind(book) };
    await reconcileNamespace('ns', deps);
    const written = h.writes[0]!.status.routing;
    expect(written).toMatchObject({
      requests: 40,
      sidecars: 2,
      shareByTier: { small: 1 },
      escalationRate: 0.125,
    });
    expect(written?.feedback).toEqual({ count: 2, mean: 0.5 });
    expect(h.events).toEqual(['Warning/EscalationRateHigh']);
    // The stored status already says it: no write, no second Event.
    const again = harness([routeObj('good', 'small', h.writes[0]!.status)]);
    await reconcileNamespace('ns', { ...again.deps, routing: book.status.bind(book) });
    expect(again.writes).toEqual([]);
    expect(again.events).toEqual([]);
    // Quiet traffic dilutes the rate under 10%.
    report('a', at - 50_000, 0);
    report('b', at - 50_000, 0);
    await reconcileNamespace('ns', { ...again.deps, routing: book.status.bind(book) });
    expect(again.writes[0]!.status.routing?.escalationRate).toBe(0.0625);
    expect(again.events).toEqual(['Normal/EscalationRateNormal']);
  });

  it('keeps the last status.routing when the book has nothing (a new leader)', async () => {
    const routing = {
      windowSeconds: 3600,
      from: '2026-01-01T00:00:00.000Z',
      to: '2026-01-01T00:00:01.000Z',
      requests: 3,
      sidecars: 1,
      shareByTier: { small: 1 },
      escalationRate: 0,
    };
    const first = harness([routeObj('good')]);
    await reconcileNamespace('ns', first.deps);
    const stored = { ...first.writes[0]!.status, routing };
    const h = harness([routeObj('good', 'small', stored)]);
    await reconcileNamespace('ns', { ...h.deps, routing: () => undefined });
    expect(h.writes).toEqual([]);
  });

  it('spec.classifier.adapt: a bounded move stored in status.calibration, announced, and compiled into the next config', async () => {
    const t0 = new Date('2026-01-01T00:00:00Z').getTime();
    const adapted = (status?: ModelRouteStatus, adapt: Record<string, unknown> = { enabled: true }) => {
      const r = routeObj('good', 'small', status);
      r.spec.tiers = [
        { name: 'small', models: ['m'] },
        { name: 'big', models: ['m'] },
      ];
      return {
        ...r,
        spec: {
          ...r.spec,
          classifier: {
            mode: 'learned',
            premiumShare: 0.2,
            adapt: { minSamples: 20, intervalSeconds: 60, step: 0.05, maxShift: 0.08, ...adapt },
          },
        },
      };
    };
    const book = new RoutingBook(86_400_000, 100, 0);
    const report = (from: number, escalations: number) =>
      book.add(
        'ns',
        {
          sidecarId: 'a',
          route: 'good',
          from,
          to: from + 1000,
          requests: { small: 16, big: 4 },
          escalations,
          feedbackCount: 0,
          feedbackSum: 0,
        },
        from + 1000,
      );
    const pass = async (
      status: ModelRouteStatus | undefined,
      at: number,
      adapt?: Record<string, unknown>,
    ) => {
      const h = harness([adapted(status, adapt)]);
      const deps = {
        ...h.deps,
        routing: book.status.bind(book),
        routingSince: book.totalsSince.bind(book),
        now: () => new Date(at),
      };
      await reconcileNamespace('ns', deps);
      return { ...h, status: h.writes[0]?.status ?? status! };
    };
    // First pass: observing from now on, offset 0.
    const first = await pass(undefined, t0);
    expect(first.status.calibration).toMatchObject({
      offset: 0,
      samples: 0,
      moves: 0,
      since: new Date(t0).toISOString(),
    });
    expect(first.hub.snapshot('ns')!.routes[0]).not.toHaveProperty('calibration');
    // 40 requests since, 12 escalated (30% > 10%), a minute later: one step up.
    report(t0 + 1000, 6);
    report(t0 + 2000, 6);
    const up = await pass(first.status, t0 + 60_000);
    expect(up.status.calibration).toMatchObject({
      offset: 0.05,
      samples: 0,
      moves: 1,
      lastMove: new Date(t0 + 60_000).toISOString(),
    });
    expect(up.status.calibration?.reason).toContain('escalation rate 30.0% over 40 requests is above 10.0%');
    expect(up.events).toEqual(['Warning/EscalationRateHigh', 'Normal/CalibrationMoved']);
    // The informer echo compiles the offset into the snapshot (a new version) and moves nothing again.
    const echo = await pass(up.status, t0 + 60_001);
    expect(echo.hub.snapshot('ns')!.routes[0]!.calibration).toEqual({ offset: 0.05 });
    expect(echo.hub.snapshot('ns')!.version).not.toBe(first.hub.snapshot('ns')!.version);
    expect(echo.events).toEqual([]);
    // Still high on traffic after the move: the next step stops at maxShift; reports from before it do not count.
    report(t0 + 61_000, 8);
    report(t0 + 62_000, 8);
    const capped = await pass(echo.status, t0 + 125_000);
    expect(capped.status.calibration).toMatchObject({ offset: 0.08, moves: 2 });
    report(t0 + 126_000, 8);
    report(t0 + 127_000, 8);
    const held = await pass(capped.status, t0 + 200_000);
    expect(held.status.calibration).toMatchObject({ offset: 0.08, moves: 2, samples: 40 });
    expect(held.status.calibration?.reason).toContain('at maxShift 8.0%');
    // Turned off: offset 0 in status and none in the snapshot.
    const off = await pass(held.status, t0 + 201_000, { enabled: false });
    expect(off.status.calibration).toMatchObject({ offset: 0, reason: 'spec.classifier.adapt is off' });
    expect(off.hub.snapshot('ns')!.routes[0]).not.toHaveProperty('calibration');
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

  it('a route the schema refuses after the apiserver stored it loses its stale Ready=True: Invalid, by field, for its generation', async () => {
    const stored: ModelRouteStatus = {
      observedGeneration: 1,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'Compiled',
          message: 'compiled into config abc',
          observedGeneration: 1,
          lastTransitionTime: '2025-12-01T00:00:00Z',
        },
      ],
      configVersion: 'abc',
      tiers: 1,
    };
    const base = routeObj('chat', 'small', stored);
    const edited = {
      ...base,
      metadata: { ...base.metadata, generation: 2 },
      spec: { ...base.spec, priority: { classes: { Gold: { minTier: 'small' } } } },
    };
    const h = harness([edited]);
    const r = await reconcileNamespace('ns', h.deps);
    expect(h.hub.snapshot('ns')?.routes).toEqual([]);
    expect(r).toMatchObject({ invalid: 1, statusWrites: 1 });
    expect(h.writes[0]!.name).toBe('chat');
    const written = h.writes[0]!.status;
    expect(written).toEqual({
      observedGeneration: 2,
      conditions: [
        {
          type: 'Ready',
          status: 'False',
          reason: 'Invalid',
          message: expect.stringContaining(
            'spec.priority.classes.Gold: invalid key: must be a DNS-1123 label',
          ),
          observedGeneration: 2,
          lastTransitionTime: '2026-01-01T00:00:00.000Z',
        },
      ],
    });
    expect(h.events).toEqual(['Warning/InvalidConfig']);
    // The informer's echo of that write: nothing more to say.
    const echo = harness([{ ...edited, status: { ...stored, ...written } }]);
    expect((await reconcileNamespace('ns', echo.deps)).statusWrites).toBe(0);
  });

  const budgetObj = (name: string, period: string, timezone = 'UTC') => ({
    apiVersion: 'tiermesh.dev/v1alpha1',
    kind: 'ModelBudget',
    metadata: { name, namespace: 'ns', generation: 1, uid: `uid-${name}` },
    spec: { window: { period, timezone }, limit: { usd: 10 } },
  });

  it('asks to run again when the soonest budget window ends (the leader)', async () => {
    const h = harness([routeObj('good')]);
    const deps = { ...h.deps, budgets: () => [budgetObj('day', 'daily'), budgetObj('month', 'monthly')] };
    deps.now = () => new Date('2026-01-01T18:00:00Z');
    const r = await reconcileNamespace('ns', deps);
    expect(r.requeueAfterMs).toBe(6 * 3_600_000 + ROLLOVER_MARGIN_MS);
    // A follower writes no budget status, so it has nothing to roll over.
    const follower = await reconcileNamespace('ns', { ...deps, isLeader: () => false });
    expect(follower.requeueAfterMs).toBeUndefined();
  });

  it('a budget whose time zone the schema refuses stays out of the snapshot, announced once by field', async () => {
    const h = harness([routeObj('good')]);
    const said: string[] = [];
    const refreshed: string[] = [];
    const deps = {
      ...h.deps,
      budgets: () => [budgetObj('typo', 'daily', 'Europe/Berln'), budgetObj('ok', 'daily')],
      refreshBudget: async (_ns: string, name: string) => {
        refreshed.push(name);
      },
      event: (ref: { kind: string }, type: string, reason: string, message: string) =>
        said.push(`${ref.kind} ${type}/${reason}: ${message}`),
    };
    await reconcileNamespace('ns', deps);
    await reconcileNamespace('ns', deps);
    expect(h.hub.snapshot('ns')?.budgets.map((b) => b.name)).toEqual(['ok']);
    expect(refreshed).toEqual(['ok', 'ok']);
    expect(said).toEqual([
      expect.stringMatching(/^ModelBudget Warning\/InvalidConfig: spec\.window\.timezone: /),
    ]);
  });

  it('a budget the schema or the ledger refuses is Ready=False Invalid for its generation, not left blank', async () => {
    const h = harness([routeObj('good')]);
    const budgetWrites: Array<{ name: string; status: unknown }> = [];
    const deps = {
      ...h.deps,
      budgets: () => [
        budgetObj('typo', 'daily', 'Europe/Berln'),
        // The schema takes it; the ledger cannot evaluate it.
        budgetObj('unknown', 'daily'),
        budgetObj('ok', 'daily'),
      ],
      refreshBudget: async (_ns: string, name: string) => {
        if (name === 'unknown') throw new TerminalError('spec.window.timezone: unknown time zone "UTC"');
      },
      writeBudgetStatus: async (b: { metadata: { name: string } }, status: unknown) => {
        budgetWrites.push({ name: b.metadata.name, status });
      },
    };
    await reconcileNamespace('ns', deps);
    const invalid = (message: unknown) => ({
      observedGeneration: 1,
      conditions: [
        {
          type: 'Ready',
          status: 'False',
          reason: 'Invalid',
          message,
          observedGeneration: 1,
          lastTransitionTime: '2026-01-01T00:00:00.000Z',
        },
      ],
    });
    expect(budgetWrites).toEqual([
      { name: 'typo', status: invalid(expect.stringMatching(/^spec\.window\.timezone: /)) },
      { name: 'unknown', status: invalid('spec.window.timezone: unknown time zone "UTC"') },
    ]);
    // The informer's echo of those writes: nothing more to write.
    const echoed = budgetWrites.map((w) => ({
      ...budgetObj(w.name, 'daily', w.name === 'typo' ? 'Europe/Berln' : 'UTC'),
      status: w.status,
    }));
    budgetWrites.length = 0;
    await reconcileNamespace('ns', { ...deps, budgets: () => [...echoed, budgetObj('ok', 'daily')] });
    expect(budgetWrites).toEqual([]);
  });

  it('a budget the ledger cannot evaluate is one Warning Event, and the reconcile succeeds', async () => {
    const h = harness([routeObj('good')]);
    const deps = {
      ...h.deps,
      budgets: () => [budgetObj('mars', 'daily', 'Mars/Olympus_Mons'), budgetObj('ok', 'daily')],
      refreshBudget: async (_ns: string, name: string) => {
        if (name === 'mars')
          throw new TerminalError('spec.window.timezone: unknown time zone "Mars/Olympus_Mons"');
      },
    };
    const r = await reconcileNamespace('ns', deps);
    await reconcileNamespace('ns', deps);
    expect(h.events).toEqual(['Warning/InvalidConfig']);
    expect(r.requeueAfterMs).toBeGreaterThan(0);
    // Any other failure still fails the reconcile, so the queue backs off and retries it.
    const failing = { ...deps, refreshBudget: async () => Promise.reject(new Error('apiserver: 500')) };
    await expect(reconcileNamespace('ns', failing)).rejects.toThrow('apiserver: 500');
  });
});

describe('a ModelBudget whose routeRef names no route', () => {
  const capped = (routeRef: string, status?: unknown) => ({
    apiVersion: 'tiermesh.dev/v1alpha1',
    kind: 'ModelBudget',
    metadata: { name: 'cap', namespace: 'ns', generation: 3, uid: 'uid-cap' },
    spec: { routeRef, window: { period: 'daily' }, limit: { usd: 5 } },
    ...(status ? { status } : {}),
  });

  function run(budgets: unknown[], routes: unknown[] = [routeObj('chat')]) {
    const h = harness(routes);
    const budgetWrites: Array<{ name: string; status: unknown }> = [];
    const refreshed: string[] = [];
    const deps = {
      ...h.deps,
      budgets: () => budgets,
      refreshBudget: async (_ns: string, name: string) => {
        refreshed.push(name);
      },
      writeBudgetStatus: async (b: { metadata: { name: string } }, status: unknown) => {
        budgetWrites.push({ name: b.metadata.name, status });
      },
    };
    return { h, deps, budgetWrites, refreshed };
  }

  it('is Ready=False RouteNotFound for its generation, with one Event, and is not handed to the ledger', async () => {
    const t = run([capped('chatt')]);
    await reconcileNamespace('ns', t.deps);
    expect(t.refreshed).toEqual([]);
    expect(t.budgetWrites).toEqual([
      {
        name: 'cap',
        status: {
          observedGeneration: 3,
          conditions: [
            {
              type: 'Ready',
              status: 'False',
              reason: 'RouteNotFound',
              message: 'spec.routeRef: no ModelRoute "chatt" in namespace ns, so this budget limits nothing',
              observedGeneration: 3,
              lastTransitionTime: '2026-01-01T00:00:00.000Z',
            },
          ],
        },
      },
    ]);
    expect(t.h.events).toEqual(['Warning/RouteNotFound']);
    // The echo of that write: no second write, no second Event.
    const written = t.budgetWrites[0]!.status;
    const echo = run([capped('chatt', written)]);
    echo.deps.announced = t.h.deps.announced;
    await reconcileNamespace('ns', echo.deps);
    expect(echo.budgetWrites).toEqual([]);
    expect(echo.h.events).toEqual([]);
  });

  it('says so when the route exists but is invalid, and goes back to the ledger once the route is there', async () => {
    const t = run([capped('chat')], [routeObj('chat', 'nope')]);
    await reconcileNamespace('ns', t.deps);
    expect(JSON.stringify(t.budgetWrites[0]?.status)).toContain('ModelRoute \\"chat\\" is invalid');
    const fixed = run([capped('chat')]);
    await reconcileNamespace('ns', fixed.deps);
    expect(fixed.refreshed).toEqual(['cap']);
    expect(fixed.budgetWrites).toEqual([]);
  });
});

describe('budgetRolloverInMs', () => {
  // Parsed in UTC, then given the zone: one the runtime does not know no longer passes the schema.
  const b = (period: string, timezone: string) => {
    const parsed = modelBudget.parse(budgetObj(period, 'UTC'));
    return { ...parsed, spec: { ...parsed.spec, window: { ...parsed.spec.window, timezone } } };
  };
  function budgetObj(period: string, timezone: string) {
    return {
      apiVersion: 'tiermesh.dev/v1alpha1',
      kind: 'ModelBudget',
      metadata: { name: 'b', namespace: 'ns' },
      spec: { window: { period, timezone }, limit: { usd: 1 } },
    };
  }
  it("is the time to the soonest window end, in each budget's own time zone", () => {
    const now = new Date('2026-03-10T22:30:00Z'); // 23:30 in Berlin, 18:30 in New York
    expect(budgetRolloverInMs([b('daily', 'Europe/Berlin')], now)).toBe(30 * 60_000 + ROLLOVER_MARGIN_MS);
    expect(budgetRolloverInMs([b('daily', 'America/New_York'), b('daily', 'Europe/Berlin')], now)).toBe(
      30 * 60_000 + ROLLOVER_MARGIN_MS,
    );
    expect(budgetRolloverInMs([b('daily', 'Mars/Olympus_Mons')], now)).toBeUndefined();
    expect(budgetRolloverInMs([], now)).toBeUndefined();
  });
});
