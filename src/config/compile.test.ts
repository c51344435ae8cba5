import { describe, expect, it } from 'vitest';
import { type ModelRoute, modelRoute } from '../api/modelroute.js';
import { compileNamespace, routeProblems } from './compile.js';

function route(name: string, spec: Record<string, unknown> = {}): ModelRoute {
  return modelRoute.parse({
    apiVersion: 'tiermesh.dev/v1alpha1',
    kind: 'ModelRoute',
    metadata: { name, namespace: 'ns' },
    spec: {
      providers: [{ name: 'sim', type: 'simulated' }],
      models: [
        {
          name: 'small',
          targets: [{ provider: 'sim' }],
          pricing: { inputPerMTok: 0.1, outputPerMTok: 0.2 },
          contextWindow: 8000,
        },
        {
          name: 'big',
          targets: [{ provider: 'sim' }],
          pricing: { inputPerMTok: 3, outputPerMTok: 15 },
          contextWindow: 200000,
        },
      ],
      tiers: [
        { name: 'cheap', models: ['small'] },
        { name: 'premium', models: ['big'] },
      ],
      ...spec,
    },
  });
}

describe('routeProblems', () => {
  it('accepts a consistent route', () => {
    expect(routeProblems(route('a').spec)).toEqual([]);
  });

  it('allows request.api responses on openai and openai-compatible targets only, naming the entry', () => {
    const models = (provider: string) => [
      {
        name: 'small',
        targets: [{ provider }],
        pricing: { inputPerMTok: 1, outputPerMTok: 1 },
        contextWindow: 8000,
        request: { api: 'responses' },
      },
      {
        name: 'big',
        targets: [{ provider: 'sim' }],
        pricing: { inputPerMTok: 1, outputPerMTok: 1 },
        contextWindow: 8000,
      },
    ];
    const providers = [
      { name: 'sim', type: 'simulated' },
      { name: 'oa', type: 'openai', apiKey: { env: 'K' } },
      { name: 'vllm', type: 'openai-compatible', baseURL: 'http://vllm:8000/v1' },
      { name: 'claude', type: 'anthropic', apiKey: { env: 'K' } },
    ];
    expect(routeProblems(route('a', { providers, models: models('oa') }).spec)).toEqual([]);
    expect(routeProblems(route('a', { providers, models: models('vllm') }).spec)).toEqual([]);
    expect(routeProblems(route('a', { providers, models: models('claude') }).spec)).toEqual([
      'spec.models[0].request.api: responses is for openai and openai-compatible providers; target 0 is on anthropic provider "claude"',
    ]);
  });

  it('names each broken cross-reference by field path', () => {
    const r = route('a', {
      providers: [{ name: 'oa', type: 'openai' }],
      tiers: [{ name: 'cheap', models: ['missing'] }],
      baselineModel: 'nope',
      taskTypes: { code: 'gold' },
      classifier: { rules: [{ name: 'r', pattern: '(', tier: 'cheap' }] },
    });
    expect(routeProblems(r.spec)).toEqual([
      'spec.providers[0].apiKey: openai providers need apiKey',
      'spec.models[0].targets[0].provider: "sim" is not in spec.providers',
      'spec.models[1].targets[0].provider: "sim" is not in spec.providers',
      'spec.tiers[0].models[0]: "missing" is not in spec.models',
      'spec.baselineModel: "nope" is not in spec.models',
      'spec.taskTypes.code: "gold" is not a tier',
      'spec.classifier.rules[0].pattern: not a valid regular expression (Unterminated group)',
    ]);
  });

  it('checks priority classes name tiers, and mappings name classes', () => {
    const r = route('a', {
      priority: {
        classes: { exec: { minTier: 'gold' }, odd: { minTier: 'premium', maxTier: 'cheap' } },
        users: { ceo: 'exec', bob: 'vip' },
        groups: { interns: 'batch' },
        default: 'none',
      },
    });
    expect(routeProblems(r.spec)).toEqual([
      'spec.priority.classes.exec.minTier: "gold" is not a tier',
      'spec.priority.classes.odd: minTier "premium" is above maxTier "cheap"',
      'spec.priority.users.bob: "vip" is not a priority class',
      'spec.priority.groups.interns: "batch" is not a priority class',
      'spec.priority.default: "none" is not a priority class',
    ]);
  });

  it('checks review task types are declared task types', () => {
    const r = route('a', {
      taskTypes: { legal: 'premium' },
      review: { taskTypes: { legal: { requireHumanReview: true }, medical: { requireHumanReview: true } } },
    });
    expect(routeProblems(r.spec)).toEqual([
      'spec.review.taskTypes.medical: "medical" is not a spec.taskTypes key',
    ]);
  });

  it('checks queue limits name a model and one of its target providers', () => {
    const r = route('a', {
      queue: {
        limits: [
          { provider: 'sim', model: 'ghost', maxInFlight: 1 },
          { provider: 'other', model: 'small', maxInFlight: 1 },
        ],
      },
    });
    expect(routeProblems(r.spec)).toEqual([
      'spec.queue.limits[0].model: "ghost" is not in spec.models',
      'spec.queue.limits[1].provider: "other" is not a target of model "small"',
    ]);
  });

  it('rejects duplicate names', () => {
    const r = route('a', {
      tiers: [
        { name: 'cheap', models: ['small'] },
        { name: 'cheap', models: ['big'] },
      ],
    });
    expect(routeProblems(r.spec)).toEqual(['spec.tiers[1].name: duplicate name "cheap"']);
  });
});

describe('compileNamespace', () => {
  it('gives equal content equal versions whatever the input order', () => {
    const a = compileNamespace('ns', [route('x'), route('default')], []);
    const b = compileNamespace('ns', [route('default'), route('x')], []);
    expect(a.snapshot.version).toBe(b.snapshot.version);
    expect(a.snapshot.defaultRoute).toBe('default');
    expect(a.snapshot.routes.map((r) => r.name)).toEqual(['default', 'x']);
  });

  it('changes the version when a route changes', () => {
    const a = compileNamespace('ns', [route('x')], []);
    const b = compileNamespace('ns', [route('x', { baselineModel: 'big' })], []);
    expect(a.snapshot.version).not.toBe(b.snapshot.version);
  });

  it("carries status.calibration's offset into the snapshot while adapt is on, bounded by maxShift", () => {
    const calibrated = (adapt: Record<string, unknown> | undefined, offset: number) => ({
      ...route('x', { classifier: { mode: 'learned', premiumShare: 0.2, ...(adapt ? { adapt } : {}) } }),
      status: {
        calibration: { offset, since: '2026-12-01T00:00:00Z', samples: 0, moves: 1, reason: 'r' },
      },
    });
    const on = compileNamespace('ns', [calibrated({ enabled: true }, 0.04)], []).snapshot;
    expect(on.routes[0]!.calibration).toEqual({ offset: 0.04 });
    const moved = compileNamespace('ns', [calibrated({ enabled: true }, 0.06)], []).snapshot;
    expect(moved.version).not.toBe(on.version);
    expect(
      compileNamespace('ns', [calibrated({ enabled: true, maxShift: 0.05 }, 0.08)], []).snapshot.routes[0]!
        .calibration,
    ).toEqual({ offset: 0.05 });
    // Off (or never on), or offset 0: the same snapshot as a route without a status.
    const plain = compileNamespace(
      'ns',
      [route('x', { classifier: { mode: 'learned', premiumShare: 0.2 } })],
      [],
    );
    expect(compileNamespace('ns', [calibrated(undefined, 0.04)], []).snapshot.version).toBe(
      plain.snapshot.version,
    );
    expect(
      compileNamespace('ns', [calibrated({ enabled: false }, 0.04)], []).snapshot.routes[0],
    ).not.toHaveProperty('calibration');
  });

  it('refuses adapt in rules mode: there is no threshold to move', () => {
    const r = route('x', { classifier: { mode: 'rules', adapt: { enabled: true } } });
    expect(routeProblems(r.spec)).toEqual([
      'spec.classifier.adapt: needs mode learned or hybrid (rules mode has no threshold to move)',
    ]);
  });

  it('leaves invalid routes out and reports them', () => {
    const { snapshot, invalid } = compileNamespace(
      'ns',
      [route('good'), route('bad', { baselineModel: 'nope' })],
      [],
    );
    expect(snapshot.routes.map((r) => r.name)).toEqual(['good']);
    expect(invalid).toEqual([
      { name: 'bad', problems: ['spec.baselineModel: "nope" is not in spec.models'] },
    ]);
  });
});
