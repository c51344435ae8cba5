import { afterEach, describe, expect, it } from 'vitest';
import { modelRouteSpec } from '../api/modelroute.js';
import { BreakerBoard, type BreakerStateChange } from './breaker.js';
import { defaultKeyEnv } from './keys.js';
import { buildRouteProviders } from './registry.js';
import { ProviderError } from './types.js';

const spec = (breakerReset = 10_000) =>
  modelRouteSpec.parse({
    providers: [
      { name: 'openai', type: 'openai', apiKey: { env: 'OPENAI_API_KEY' } },
      { name: 'local', type: 'openai-compatible', baseURL: 'http://127.0.0.1:1/v1' },
      { name: 'sim', type: 'simulated' },
    ],
    models: [
      {
        name: 'a',
        targets: [{ provider: 'openai', model: 'gpt-a' }, { provider: 'sim' }],
        pricing: { inputPerMTok: 1, outputPerMTok: 1 },
        contextWindow: 1000,
      },
      {
        name: 'b',
        targets: [{ provider: 'local' }],
        pricing: { inputPerMTok: 1, outputPerMTok: 1 },
        contextWindow: 1000,
      },
    ],
    tiers: [{ name: 't', models: ['a', 'b'] }],
    resilience: {
      breaker: {
        errorThresholdPercentage: 50,
        volumeThreshold: 1,
        resetTimeoutMs: breakerReset,
        rollingWindowMs: 10_000,
      },
    },
  });

let board = new BreakerBoard();
afterEach(() => {
  board.shutdown();
  board = new BreakerBoard();
});

describe('buildRouteProviders', () => {
  it('plans every target of every model in order, with upstream ids', () => {
    const s = spec();
    const rp = buildRouteProviders({ name: 'r', spec: s }, { breakers: board, keyEnv: defaultKeyEnv({}) });
    const plan = rp.plan([s.models[1]!, s.models[0]!]);
    expect(plan.targets.map((t) => `${t.model}@${t.provider}:${t.upstreamModel}`)).toEqual([
      'b@local:b',
      'a@openai:gpt-a',
      'a@sim:a',
    ]);
    expect(plan.resilience).toBe(s.resilience);
    expect([...rp.adapters.keys()]).toEqual(['openai', 'local', 'sim']);
  });

  it('marks a provider whose key is missing unavailable, and a keyless openai-compatible one available', () => {
    const rp = buildRouteProviders(
      { name: 'r', spec: spec() },
      { breakers: board, keyEnv: defaultKeyEnv({}) },
    );
    expect(rp.adapters.get('openai')?.unavailable?.()).toContain('OPENAI_API_KEY');
    expect(rp.adapters.get('local')?.unavailable?.()).toBeUndefined();
    const withKey = buildRouteProviders(
      { name: 'r', spec: spec() },
      { breakers: board, keyEnv: defaultKeyEnv({ OPENAI_API_KEY: 'sk-x' }) },
    );
    expect(withKey.adapters.get('openai')?.unavailable?.()).toBeUndefined();
  });

  it('keeps breakers (and their state) across config versions with the same settings, replaces them on change', async () => {
    const changes: BreakerStateChange[] = [];
    board.on('state', (c) => changes.push(c));
    const s = spec();
    const v1 = buildRouteProviders(
      { name: 'r', spec: s },
      { breakers: board, keyEnv: defaultKeyEnv({}) },
    ).plan([s.models[1]!]);
    const b1 = v1.targets[0]!.breaker;
    await expect(b1.run(() => Promise.reject(new ProviderError('server_error', 'boom')))).rejects.toThrow(
      'boom',
    );
    expect(b1.state).toBe('open');
    await expect(b1.run(() => Promise.resolve(1))).rejects.toMatchObject({ reason: 'breaker_open' });

    const v2 = buildRouteProviders(
      { name: 'r', spec: spec() },
      { breakers: board, keyEnv: defaultKeyEnv({}) },
    ).plan([s.models[1]!]);
    expect(v2.targets[0]!.breaker).toBe(b1);

    const s3 = spec(20_000);
    const v3 = buildRouteProviders(
      { name: 'r', spec: s3 },
      { breakers: board, keyEnv: defaultKeyEnv({}) },
    ).plan([s3.models[1]!]);
    expect(v3.targets[0]!.breaker).not.toBe(b1);
    expect(v3.targets[0]!.breaker.state).toBe('closed');
    expect(changes.map((c) => `${c.route}/${c.provider}/${c.model}:${c.state}`)).toEqual([
      'r/local/b:open',
      'r/local/b:closed',
    ]);
    expect(board.states()).toEqual([{ route: 'r', provider: 'local', model: 'b', state: 'closed' }]);
  });

  it("gives each route its own breakers: another route's provider of the same name is another upstream", async () => {
    const s = spec();
    const planOf = (route: string, sp = s) =>
      buildRouteProviders({ name: route, spec: sp }, { breakers: board, keyEnv: defaultKeyEnv({}) }).plan([
        sp.models[1]!,
      ]);
    const a = planOf('a').targets[0]!.breaker;
    const b = planOf('b').targets[0]!.breaker;
    expect(a).not.toBe(b);
    await expect(a.run(() => Promise.reject(new ProviderError('server_error', 'boom')))).rejects.toThrow(
      'boom',
    );
    expect(a.state).toBe('open');
    await expect(b.run(() => Promise.resolve('served'))).resolves.toBe('served');

    // Route b's new settings replace b's breaker only: a's stays, open.
    const b2 = planOf('b', spec(20_000)).targets[0]!.breaker;
    expect(b2).not.toBe(b);
    expect(planOf('a').targets[0]!.breaker).toBe(a);
    expect(a.retired).toBe(false);
    expect(a.state).toBe('open');
    expect(board.states().map((x) => `${x.route}/${x.provider}/${x.model}:${x.state}`)).toEqual([
      'a/local/b:open',
      'b/local/b:closed',
    ]);
  });

  it('does not count client errors or client disconnects against the breaker', async () => {
    const s = spec();
    const b = buildRouteProviders(
      { name: 'r', spec: s },
      { breakers: board, keyEnv: defaultKeyEnv({}) },
    ).plan([s.models[1]!]).targets[0]!.breaker;
    await expect(
      b.run(() => Promise.reject(new ProviderError('client_error', 'bad request'))),
    ).rejects.toThrow('bad request');
    await expect(
      b.run(
        () => Promise.reject(new Error('socket hang up')),
        () => true,
      ),
    ).rejects.toThrow('socket hang up');
    expect(b.state).toBe('closed');
  });
});

describe('plans', () => {
  it("resolve each model's breakers once per config version, not on every request", () => {
    const s = spec();
    let lookups = 0;
    const counting = new Proxy(board, {
      get(target, prop, receiver) {
        if (prop !== 'get') return Reflect.get(target, prop, receiver);
        return (...a: Parameters<BreakerBoard['get']>) => {
          lookups++;
          return target.get(...a);
        };
      },
    });
    const rp = buildRouteProviders({ name: 'r', spec: s }, { breakers: counting, keyEnv: defaultKeyEnv({}) });
    const first = rp.plan([s.models[0]!]);
    expect(lookups).toBe(2);
    for (let i = 0; i < 5; i++) expect(rp.plan([s.models[0]!])).toBe(first);
    const both = rp.plan([s.models[1]!, s.models[0]!]);
    expect(lookups).toBe(3);
    expect(both.targets.map((t) => t.provider)).toEqual(['local', 'openai', 'sim']);
    expect(both.targets[1]!.breaker).toBe(first.targets[0]!.breaker);
    // An entry that is not the route's own (a copy) is planned afresh and not remembered.
    const copy = { ...s.models[0]! };
    expect(rp.plan([copy]).targets.map((t) => t.upstreamModel)).toEqual(['gpt-a', 'a']);
    rp.plan([copy]);
    expect(lookups).toBe(7);
  });
});
