import { describe, expect, it } from 'vitest';
import {
  annotationKey,
  byNamespace,
  combine,
  decodeRecord,
  namespaceStreams,
  otherReplicas,
  staleKeys,
} from './replica-stats.js';

const rec = (id: string, at: number, ns: Record<string, unknown>) => JSON.stringify({ id, at, ns });

describe('replica stream records', () => {
  it('annotation keys are valid Kubernetes annotation names whatever the identity', () => {
    const k = annotationKey(`pod-${'x'.repeat(300)}`);
    const name = k.split('/')[1]!;
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(/^[a-z0-9]+$/);
    expect(annotationKey('a')).not.toBe(annotationKey('b'));
  });

  it('keeps only the other replicas fresh, readable records', () => {
    const me = annotationKey('me');
    const ann = {
      [me]: rec('me', 1000, { ns: { v: 'v1', c: 9, a: 9, n: 0 } }),
      [annotationKey('b')]: rec('b', 900, { ns: { v: 'v1', c: 2, a: 1, n: 1, e: 'bad tier' } }),
      [annotationKey('old')]: rec('old', 100, { ns: { v: 'v1', c: 5, a: 5, n: 0 } }),
      [annotationKey('junk')]: '{not json',
      'other.example/x': rec('x', 1000, { ns: { v: 'v1', c: 1, a: 1, n: 0 } }),
    };
    const others = otherReplicas(ann, me, 1000, 500);
    expect(others.map((r) => r.id)).toEqual(['b']);
    expect(staleKeys(ann, 1000, 500).sort()).toEqual([annotationKey('junk'), annotationKey('old')].sort());
  });

  it('drops malformed namespace entries instead of counting them', () => {
    const r = decodeRecord(
      rec('b', 1, { good: { v: 'v', c: 1, a: 1, n: 0 }, bad: { v: 'v', c: -1, a: 0, n: 0 } }),
    );
    expect(Object.keys(r!.ns)).toEqual(['good']);
  });

  it('adds the other replicas counts; their ACKs and NACKs only when of the same version', () => {
    const local = { connected: 2, acked: 2, nacked: 0 };
    const remote = [
      namespaceStreams('v2', { connected: 3, acked: 3, nacked: 0 }),
      namespaceStreams('v1', { connected: 4, acked: 4, nacked: 0 }),
      namespaceStreams('v2', { connected: 1, acked: 0, nacked: 1, lastNack: 'bad zone' }),
    ];
    expect(combine(local, 'v2', remote)).toEqual({
      connected: 10,
      acked: 5,
      nacked: 1,
      lastNack: 'bad zone',
    });
    expect(combine(local, undefined, remote)).toEqual({ connected: 10, acked: 2, nacked: 0 });
  });

  it('groups records by namespace', () => {
    const m = byNamespace([
      { id: 'a', at: 0, ns: { x: { v: '1', c: 1, a: 1, n: 0 }, y: { v: '1', c: 2, a: 2, n: 0 } } },
      { id: 'b', at: 0, ns: { x: { v: '1', c: 3, a: 3, n: 0 } } },
    ]);
    expect(m.get('x')?.map((s) => s.c)).toEqual([1, 3]);
    expect(m.get('y')?.map((s) => s.c)).toEqual([2]);
  });
});
