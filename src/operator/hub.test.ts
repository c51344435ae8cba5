import { describe, expect, it } from 'vitest';
import type { Snapshot } from '../api/snapshot.js';
import { ConfigHub } from './hub.js';

const snap = (version: string): Snapshot => ({ version, namespace: 'ns', routes: [], budgets: [] });

describe('ConfigHub', () => {
  it('pushes new versions to the namespace only, and never resends what a sidecar already runs', () => {
    const hub = new ConfigHub();
    const a: string[] = [];
    const b: string[] = [];
    const other: string[] = [];
    hub.publish(snap('v1'));
    hub.connect('ns', 'a', undefined, (e, _d, id) => a.push(`${e}:${id}`));
    hub.connect('ns', 'b', 'v1', (e, _d, id) => b.push(`${e}:${id}`));
    hub.connect('other', 'c', undefined, (e, _d, id) => other.push(`${e}:${id}`));
    expect(hub.publish(snap('v1'))).toBe(false);
    expect(hub.publish(snap('v2'))).toBe(true);
    expect(a).toEqual(['snapshot:v1', 'snapshot:v2']);
    expect(b).toEqual(['current:v1', 'snapshot:v2']);
    expect(other).toEqual([]);
  });

  it('counts ACKs and NACKs against the current version only', () => {
    const hub = new ConfigHub();
    hub.publish(snap('v1'));
    hub.connect('ns', 'a', undefined, () => undefined);
    const closeB = hub.connect('ns', 'b', undefined, () => undefined);
    hub.ack('ns', 'a', 'v1', true);
    hub.ack('ns', 'b', 'v1', false, 'bad tier');
    expect(hub.stats('ns')).toEqual({ connected: 2, acked: 1, nacked: 1, lastNack: 'bad tier' });
    hub.publish(snap('v2'));
    expect(hub.stats('ns')).toEqual({ connected: 2, acked: 0, nacked: 0 });
    closeB();
    expect(hub.stats('ns').connected).toBe(1);
  });

  it('a reconnect replaces the old stream, and closing the old one does not drop the new one', () => {
    const hub = new ConfigHub();
    const closeOld = hub.connect('ns', 'a', undefined, () => undefined);
    hub.connect('ns', 'a', undefined, () => undefined);
    closeOld();
    expect(hub.connected('ns')).toBe(1);
  });

  it('asks for a compile when a sidecar connects to an unknown namespace', () => {
    const needed: string[] = [];
    const hub = new ConfigHub({ onNeedSnapshot: (ns) => needed.push(ns) });
    hub.connect('fresh', 'a', undefined, () => undefined);
    expect(needed).toEqual(['fresh']);
  });
});

describe('ConfigHub across replicas', () => {
  it('stats add the other replicas streams; localStats stay this replica only', () => {
    const hub = new ConfigHub();
    hub.publish(snap('v1'));
    hub.connect('ns', 'a', 'v1', () => undefined);
    hub.shareWith((ns) => (ns === 'ns' ? [{ v: 'v1', c: 3, a: 2, n: 1, e: 'no' }] : []));
    expect(hub.stats('ns')).toEqual({ connected: 4, acked: 3, nacked: 1, lastNack: 'no' });
    expect(hub.localStats('ns')).toEqual({ connected: 1, acked: 1, nacked: 0 });
  });
});
