import { afterEach, describe, expect, it } from 'vitest';
import { compileManifests, parseManifests } from '../config/manifests.js';
import { BreakerBoard } from '../providers/breaker.js';
import { defaultKeyEnv } from '../providers/keys.js';
import { ConfigStore } from './config-store.js';
import { runtimeBuilder, type SidecarRuntime } from './runtime.js';

/** One route whose cheap model is served by `providers`, in order, each under the upstream id `up-<provider>`. */
const config = (providers: string[]) =>
  compileManifests(
    parseManifests(`
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: r, namespace: t }
spec:
  providers: [${providers.map((p) => `{ name: ${p}, type: simulated }`).join(', ')}]
  models:
    - name: small
      targets: [${providers.map((p) => `{ provider: ${p}, model: up-${p} }`).join(', ')}]
      pricing: { inputPerMTok: 1, outputPerMTok: 1 }
      contextWindow: 1000
  tiers: [{ name: cheap, models: [small] }]
`),
  );

let board = new BreakerBoard();
afterEach(() => {
  board.shutdown();
  board = new BreakerBoard();
});

describe('runtimeBuilder', () => {
  it('drops the breakers of providers a newly applied version no longer names, keeps the others', () => {
    const store = new ConfigStore<SidecarRuntime>(
      runtimeBuilder({ breakers: board, keyEnv: defaultKeyEnv({}) }),
    );
    const plan = (rt: SidecarRuntime) => rt.providers.get('r')!.plan(rt.snapshot.routes[0]!.spec.models);
    expect(store.apply(config(['a', 'b'])).ok).toBe(true);
    const v1 = plan(store.current!);
    expect(board.states().map((s) => `${s.provider}/${s.model}`)).toEqual(['a/up-a', 'b/up-b']);

    expect(store.apply(config(['a', 'c'])).ok).toBe(true);
    expect(board.states().map((s) => `${s.provider}/${s.model}`)).toEqual(['a/up-a']);
    const v2 = plan(store.current!);
    expect(v2.targets[0]!.breaker).toBe(v1.targets[0]!.breaker);
    expect(v1.targets[1]!.breaker.retired).toBe(true);
    expect(board.states().map((s) => `${s.provider}/${s.model}`)).toEqual(['a/up-a', 'c/up-c']);
  });

  it("drops a removed route's breakers, not another route's breaker of the same provider and model", () => {
    const route = (name: string) => `
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name}, namespace: t }
spec:
  providers: [{ name: up, type: simulated }]
  models: [{ name: small, targets: [{ provider: up }], pricing: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 1000 }]
  tiers: [{ name: cheap, models: [small] }]
`;
    const store = new ConfigStore<SidecarRuntime>(
      runtimeBuilder({ breakers: board, keyEnv: defaultKeyEnv({}) }),
    );
    const breakerOf = (rt: SidecarRuntime, r: string) =>
      rt.providers.get(r)!.plan(rt.snapshot.routes.find((x) => x.name === r)!.spec.models).targets[0]!
        .breaker;
    expect(store.apply(compileManifests(parseManifests(`${route('a')}---\n${route('b')}`))).ok).toBe(true);
    const a = breakerOf(store.current!, 'a');
    const b = breakerOf(store.current!, 'b');
    expect(a).not.toBe(b);
    expect(board.states().map((s) => `${s.route}/${s.provider}/${s.model}`)).toEqual([
      'a/up/small',
      'b/up/small',
    ]);

    expect(store.apply(compileManifests(parseManifests(route('a')))).ok).toBe(true);
    expect(board.states().map((s) => `${s.route}/${s.provider}/${s.model}`)).toEqual(['a/up/small']);
    expect(b.retired).toBe(true);
    expect(a.retired).toBe(false);
    expect(breakerOf(store.current!, 'a')).toBe(a);
  });

  it('prunes nothing when a version is refused', () => {
    const store = new ConfigStore<SidecarRuntime>(
      runtimeBuilder({ breakers: board, keyEnv: defaultKeyEnv({}) }),
    );
    expect(store.apply(config(['a'])).ok).toBe(true);
    store.current!.providers.get('r')!.plan(store.current!.snapshot.routes[0]!.spec.models);
    const bad = structuredClone(config(['b']));
    bad.routes[0]!.spec.models[0]!.targets[0]!.provider = 'nowhere';
    expect(store.apply(bad).ok).toBe(false);
    expect(board.states().map((s) => s.provider)).toEqual(['a']);
  });
});
