import type { V1Lease } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Kube } from './kube.js';
import { LeaderElector, LeaseRoundTimeout, renewDeadlineFor } from './lease.js';

/** One Lease in memory; `hang` makes every later call never answer, as an apiserver behind a dead link does. */
function fakeKube() {
  let stored: V1Lease | undefined;
  let rv = 0;
  const state = { hang: false, calls: 0, lateWrite: undefined as (() => void) | undefined };
  const never = () => new Promise<never>(() => {});
  const kube = {
    readLease: async () => {
      state.calls++;
      if (state.hang) return never();
      return stored && structuredClone(stored);
    },
    writeLease: async (_ns: string, _name: string, lease: V1Lease) => {
      if (state.hang) return never();
      stored = { ...lease, metadata: { ...lease.metadata, resourceVersion: String(++rv) } };
      return stored;
    },
  };
  return { kube: kube as unknown as Kube, state, stored: () => stored };
}

describe('LeaderElector renew deadline', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const elector = (kube: Kube, changes: boolean[], errors: unknown[] = []) =>
    new LeaderElector(kube, {
      namespace: 'tm',
      name: 'lease',
      identity: 'a',
      durationSeconds: 15,
      renewMs: 2_000,
      clock: () => Date.now(),
      onChange: (l) => changes.push(l),
      onError: (e) => errors.push(e),
    });

  it('a leader whose apiserver calls hang steps down at the renew deadline, before its Lease expires', async () => {
    const f = fakeKube();
    const changes: boolean[] = [];
    const errors: unknown[] = [];
    const e = elector(f.kube, changes, errors);
    e.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(e.isLeader()).toBe(true);
    const renewedAt = Date.parse(String(f.stored()!.spec!.renewTime));
    f.state.hang = true;
    // Nobody asks isLeader in between: the step-down must not wait for a caller.
    await vi.advanceTimersByTimeAsync(9_990);
    expect(changes).toEqual([true]);
    await vi.advanceTimersByTimeAsync(20);
    expect(changes).toEqual([true, false]);
    expect(e.isLeader()).toBe(false);
    // 10 s after the last renewal, well before another replica may take the Lease (15 s).
    expect(Date.now() - renewedAt).toBeLessThan(15_000);
    // The hung round times out and the next one is tried, rather than waiting forever.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(errors.some((x) => x instanceof LeaseRoundTimeout)).toBe(true);
    const calls = f.state.calls;
    await vi.advanceTimersByTimeAsync(12_000);
    expect(f.state.calls).toBeGreaterThan(calls);
    await e.stop();
  });

  it('isLeader is false past the deadline even before the watchdog runs', async () => {
    const f = fakeKube();
    let now = 0;
    const e = new LeaderElector(f.kube, {
      namespace: 'tm',
      name: 'lease',
      identity: 'a',
      clock: () => now,
    });
    expect(await e.tick()).toBe(true);
    now = 9_999;
    expect(e.isLeader()).toBe(true);
    now = 10_000;
    expect(e.isLeader()).toBe(false);
  });

  it('a healthy leader renews every round and never flaps', async () => {
    const f = fakeKube();
    const changes: boolean[] = [];
    const e = elector(f.kube, changes);
    e.start();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(changes).toEqual([true]);
    expect(e.isLeader()).toBe(true);
    await e.stop();
  });

  it('a round that answers after it timed out decides nothing', async () => {
    const f = fakeKube();
    const changes: boolean[] = [];
    let release: (() => void) | undefined;
    const slow = {
      ...f.kube,
      readLease: (ns: string, name: string) =>
        new Promise<V1Lease | undefined>((resolve) => {
          release = () => void f.kube.readLease(ns, name).then(resolve);
        }),
      writeLease: f.kube.writeLease,
    } as unknown as Kube;
    const e = elector(slow, changes);
    e.start();
    await vi.advanceTimersByTimeAsync(10_000);
    const late = release!;
    // The next round has started (and hangs too); the first one's answer arrives now.
    await vi.advanceTimersByTimeAsync(2_000);
    late();
    await vi.advanceTimersByTimeAsync(0);
    expect(changes).toEqual([]);
    expect(e.isLeader()).toBe(false);
    await e.stop();
  });
});

describe('renewDeadlineFor', () => {
  it("is client-go's 10 s of a 15 s lease, and stays above the renew period on short leases", () => {
    expect(renewDeadlineFor(15, 2_000)).toBe(10_000);
    expect(renewDeadlineFor(3, 2_000)).toBe(2_500);
    expect(renewDeadlineFor(60, 2_000)).toBe(40_000);
  });
});
