import { describe, expect, it } from 'vitest';
import { type ModelRoute, modelRoute } from '../api/modelroute.js';
import { merged, routeStatus, sameStatus } from './route-status.js';

const route: ModelRoute = modelRoute.parse({
  apiVersion: 'tiermesh.dev/v1alpha1',
  kind: 'ModelRoute',
  metadata: { name: 'r', namespace: 'ns', generation: 2 },
  spec: {
    providers: [{ name: 'sim', type: 'simulated' }],
    models: [
      {
        name: 'm',
        targets: [{ provider: 'sim' }],
        pricing: { inputPerMTok: 1, outputPerMTok: 2 },
        contextWindow: 1000,
      },
    ],
    tiers: [{ name: 'small', models: ['m'] }],
  },
});
const ok = { connected: 2, acked: 2, nacked: 0 };

describe('routeStatus', () => {
  it('is Ready/Compiled with the version, tiers and generation', () => {
    const s = routeStatus(route, { configVersion: 'v1', problems: [] }, ok, 't0');
    expect(s).toMatchObject({ observedGeneration: 2, configVersion: 'v1', tiers: 1, sidecars: ok });
    expect(s.conditions).toEqual([
      {
        type: 'Ready',
        status: 'True',
        reason: 'Compiled',
        message: 'compiled into config v1',
        observedGeneration: 2,
        lastTransitionTime: 't0',
      },
    ]);
  });

  it('names the bad field when invalid, and a NACK as SidecarRejected', () => {
    const bad = routeStatus(
      route,
      { configVersion: 'v1', problems: ['spec.tiers[0].models[0]: "x" is not in spec.models'] },
      ok,
      't0',
    );
    expect(bad.conditions?.[0]).toMatchObject({
      status: 'False',
      reason: 'Invalid',
      message: expect.stringContaining('spec.tiers[0].models[0]'),
    });
    // Left out of the snapshot, so no version of it: a stored one (from its last valid generation) is removed, once.
    expect(bad).not.toHaveProperty('configVersion');
    const wasValid = { ...route, status: { configVersion: 'v0' } };
    const cleared = routeStatus(wasValid, { configVersion: 'v1', problems: ['x: y'] }, ok, 't0');
    expect(cleared.configVersion).toBeNull();
    expect(merged(cleared)).not.toHaveProperty('configVersion');
    const echo = routeStatus(
      { ...route, status: merged(cleared) },
      { configVersion: 'v1', problems: ['x: y'] },
      ok,
      't1',
    );
    expect(sameStatus(merged(cleared), echo)).toBe(true);
    const nack = routeStatus(
      route,
      { configVersion: 'v1', problems: [] },
      { connected: 1, acked: 0, nacked: 1, lastNack: 'boom' },
      't0',
    );
    expect(nack.conditions?.[0]).toMatchObject({ status: 'False', reason: 'SidecarRejected' });
    expect(nack.lastNack).toBe('boom');
  });

  it('is stable: recomputing from its own output changes nothing, so there is no write loop', () => {
    const first = routeStatus(route, { configVersion: 'v1', problems: [] }, ok, 't0');
    const second = routeStatus(
      { ...route, status: merged(first) },
      { configVersion: 'v1', problems: [] },
      ok,
      't1',
    );
    expect(sameStatus(first, second)).toBe(true);
    const flipped = routeStatus(
      { ...route, status: merged(first) },
      { configVersion: 'v1', problems: ['x: y'] },
      ok,
      't2',
    );
    expect(flipped.conditions?.[0]?.lastTransitionTime).toBe('t2');
  });

  it('keeps the NACK count out of the message, so one more refusing sidecar is no new Event', () => {
    const nack = (nacked: number) =>
      routeStatus(
        route,
        { configVersion: 'v1', problems: [] },
        { connected: 5, acked: 5 - nacked, nacked, lastNack: 'model-ref: ConfigMap clf has no model.json' },
        't0',
      );
    const one = nack(1);
    const three = nack(3);
    expect(one.conditions?.[0]?.message).toBe(
      'sidecars rejected config v1: model-ref: ConfigMap clf has no model.json',
    );
    expect(three.conditions).toEqual(one.conditions);
    expect(three.sidecars).toEqual({ connected: 5, acked: 2, nacked: 3 });
  });

  it('clears lastNack (null in the merge patch) once no sidecar refuses, and then writes nothing more', () => {
    const refused = merged(
      routeStatus(
        route,
        { configVersion: 'v1', problems: [] },
        { connected: 1, acked: 0, nacked: 1, lastNack: 'boom' },
        't0',
      ),
    );
    expect(refused.lastNack).toBe('boom');
    const recovered = routeStatus(
      { ...route, status: refused },
      { configVersion: 'v2', problems: [] },
      ok,
      't1',
    );
    expect(recovered.lastNack).toBeNull();
    const echo = routeStatus(
      { ...route, status: merged(recovered) },
      { configVersion: 'v2', problems: [] },
      ok,
      't2',
    );
    expect(echo).not.toHaveProperty('lastNack');
    expect(sameStatus(merged(recovered), echo)).toBe(true);
  });
});
