import { describe, expect, it } from 'vitest';
import type { Snapshot } from '../api/snapshot.js';
import { compileManifests, parseManifests } from '../config/manifests.js';
import { ConfigStore } from './config-store.js';

const yaml = (reply: string) => `
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default, namespace: t }
spec:
  providers: [{ name: sim, type: simulated, simulated: { reply: "${reply}" } }]
  models: [{ name: m, targets: [{ provider: sim }], pricing: { inputPerMTok: 1, outputPerMTok: 2 }, contextWindow: 1000 }]
  tiers: [{ name: cheap, models: [m] }]
`;
const snap = (reply: string) => compileManifests(parseManifests(yaml(reply)));

describe('ConfigStore', () => {
  it('is not ready until a snapshot is applied, then serves it', () => {
    const store = new ConfigStore((s: Snapshot) => ({ snapshot: s, built: Date.now() }));
    expect(store.ready).toBe(false);
    const s = snap('a');
    expect(store.apply(s)).toEqual({ ok: true, version: s.version, changed: true });
    expect(store.ready).toBe(true);
    expect(store.current?.snapshot.version).toBe(s.version);
  });

  it('keeps the old runtime object for holders while swapping in the new one', () => {
    const store = new ConfigStore((s: Snapshot) => ({ snapshot: s }));
    store.apply(snap('a'));
    const held = store.current!;
    store.apply(snap('b'));
    expect(held.snapshot.routes[0]!.spec.providers[0]!.simulated?.reply).toBe('a');
    expect(store.current!.snapshot.routes[0]!.spec.providers[0]!.simulated?.reply).toBe('b');
  });

  it('re-applying the same version is a no-op that does not rebuild', () => {
    let builds = 0;
    const store = new ConfigStore((s: Snapshot) => {
      builds++;
      return { snapshot: s };
    });
    const s = snap('a');
    store.apply(s);
    expect(store.apply(structuredClone(s))).toEqual({ ok: true, version: s.version, changed: false });
    expect(builds).toBe(1);
  });

  it('refuses an invalid snapshot, naming the field, and keeps serving the old one', () => {
    const store = new ConfigStore((s: Snapshot) => ({ snapshot: s }));
    const good = snap('a');
    store.apply(good);
    const bad = structuredClone(good) as Snapshot;
    bad.version = 'v2';
    bad.routes[0]!.spec.tiers[0]!.models = ['nope'];
    const r = store.apply(bad);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain('spec.tiers[0].models[0]');
    const shapeless = store.apply({ version: '', namespace: 't', routes: 'x', budgets: [] });
    expect(shapeless.ok).toBe(false);
    if (!shapeless.ok) expect(shapeless.error).toMatch(/version|routes/);
    expect(store.current!.snapshot.version).toBe(good.version);
  });

  it('refuses when building the runtime throws, and passes the previous runtime to build', () => {
    const seen: Array<string | undefined> = [];
    const store = new ConfigStore((s: Snapshot, prev: { snapshot: Snapshot } | undefined) => {
      seen.push(prev?.snapshot.version);
      if (s.routes[0]!.spec.providers[0]!.simulated?.reply === 'boom') throw new Error('adapter failed');
      return { snapshot: s };
    });
    const a = snap('a');
    store.apply(a);
    const r = store.apply(snap('boom'));
    expect(r).toEqual({ ok: false, error: 'cannot build runtime: adapter failed' });
    expect(seen).toEqual([undefined, a.version]);
    expect(store.current!.snapshot.version).toBe(a.version);
  });

  describe('with the pod labels the injector passed', () => {
    const route = (name: string, app?: string) => `apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name}, namespace: t }
spec:
${app ? `  podSelector: { matchLabels: { app: ${app} } }` : ''}
  providers: [{ name: sim, type: simulated }]
  models: [{ name: m-${name}, targets: [{ provider: sim }], pricing: { inputPerMTok: 1, outputPerMTok: 2 }, contextWindow: 1000 }]
  tiers: [{ name: cheap, models: [m-${name}] }]
`;
    const ns = (...docs: string[]) => compileManifests(parseManifests(docs.join('---\n')));

    it("runs only the routes that select the pod, with a default among them, and ACKs the operator's version", () => {
      const pushed = ns(route('billing', 'billing'), route('frontend', 'frontend'));
      expect(pushed.defaultRoute).toBe('billing');
      const store = new ConfigStore((s: Snapshot) => ({ snapshot: s }), { app: 'frontend' });
      expect(store.apply(pushed)).toEqual({ ok: true, version: pushed.version, changed: true });
      expect(store.current!.snapshot.routes.map((r) => r.name)).toEqual(['frontend']);
      expect(store.current!.snapshot.defaultRoute).toBe('frontend');
      expect(store.apply(structuredClone(pushed))).toMatchObject({ ok: true, changed: false });
    });

    it('refuses a version in which no route selects the pod, saying so, and keeps the old one', () => {
      const store = new ConfigStore((s: Snapshot) => ({ snapshot: s }), { app: 'web' });
      const first = ns(route('shared'));
      store.apply(first);
      const r = store.apply(ns(route('billing', 'billing')));
      expect(r).toEqual({
        ok: false,
        error: 'no route selects this pod: the podSelector of billing does not match its labels',
      });
      expect(store.current!.snapshot.version).toBe(first.version);
    });

    it('without labels (standalone) runs every route', () => {
      const store = new ConfigStore((s: Snapshot) => ({ snapshot: s }));
      store.apply(ns(route('billing', 'billing'), route('frontend', 'frontend')));
      expect(store.current!.snapshot.routes.map((r) => r.name)).toEqual(['billing', 'frontend']);
    });
  });
});
