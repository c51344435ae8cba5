import { afterEach, describe, expect, it, vi } from 'vitest';
import { BreakerBoard, type BreakerId, RollingCounts } from './breaker.js';
import { ProviderError } from './types.js';

const settings = {
  errorThresholdPercentage: 50,
  volumeThreshold: 1,
  resetTimeoutMs: 60_000,
  rollingWindowMs: 10_000,
};
let board = new BreakerBoard();
afterEach(() => {
  board.shutdown();
  board = new BreakerBoard();
});

const fail = () => Promise.reject(new ProviderError('server_error', 'boom'));

describe('BreakerBoard.retain', () => {
  it('drops breakers not listed, says so, and keeps the listed ones with their state', async () => {
    const removed: BreakerId[] = [];
    board.on('removed', (b) => removed.push(b));
    const keep = board.get('p1', 'm1', settings);
    const gone = board.get('p2', 'm2', settings);
    const sameProviderOtherModel = board.get('p1', 'm2', settings);
    await expect(keep.run(fail)).rejects.toThrow('boom');
    expect(keep.state).toBe('open');

    const dropped = board.retain([{ provider: 'p1', model: 'm1' }]);
    expect(dropped).toEqual([
      { provider: 'p2', model: 'm2' },
      { provider: 'p1', model: 'm2' },
    ]);
    expect(removed).toEqual(dropped);
    expect(board.states()).toEqual([{ provider: 'p1', model: 'm1', state: 'open' }]);
    expect(board.get('p1', 'm1', settings)).toBe(keep);
    expect(gone.retired).toBe(true);
    expect(sameProviderOtherModel.retired).toBe(true);
    expect(keep.retired).toBe(false);

    // Named again later: a fresh breaker, not the retired one.
    const again = board.get('p2', 'm2', settings);
    expect(again).not.toBe(gone);
    expect(
      board.retain([
        { provider: 'p1', model: 'm1' },
        { provider: 'p2', model: 'm2' },
      ]),
    ).toEqual([]);
  });

  it('lets a request still holding a dropped breaker through, even one that was open', async () => {
    const b = board.get('p', 'm', settings);
    await expect(b.run(fail)).rejects.toThrow('boom');
    await expect(b.run(() => Promise.resolve(1))).rejects.toMatchObject({ reason: 'breaker_open' });
    board.retain([]);
    await expect(b.run(() => Promise.resolve(2))).resolves.toBe(2);
    const held = await b.runHeld(() => Promise.resolve(3));
    expect(held.value).toBe(3);
    held.settle();
    expect(board.states()).toEqual([]);
  });

  it('retaining everything is a no-op', () => {
    board.get('p', 'm', settings);
    expect(board.retain([{ provider: 'p', model: 'm' }])).toEqual([]);
    expect(board.states()).toHaveLength(1);
  });
});

describe('Breaker.run', () => {
  it('does not count a failure while the client is gone, and hands the caller the error itself', async () => {
    const b = board.get('p', 'm', settings);
    const err = new ProviderError('server_error', 'cut off');
    await expect(
      b.run(
        () => Promise.reject(err),
        () => true,
      ),
    ).rejects.toBe(err);
    expect(b.state).toBe('closed');
    // The same failure with the client still there opens a breaker (volumeThreshold 1, 50%).
    const other = board.get('p', 'm2', settings);
    const err2 = new ProviderError('server_error', 'cut off');
    await expect(
      other.run(
        () => Promise.reject(err2),
        () => false,
      ),
    ).rejects.toBe(err2);
    expect(other.state).toBe('open');
  });

  it('does not count a 429 or our own mistake, counts a 5xx, and refuses with breaker_open once open', async () => {
    const b = board.get('p', 'm', settings);
    await expect(
      b.run(() => Promise.reject(new ProviderError('rate_limited', 'busy'))),
    ).rejects.toMatchObject({
      reason: 'rate_limited',
    });
    expect(b.state).toBe('closed');
    const counted = board.get('p', 'm2', settings);
    await expect(counted.run(fail)).rejects.toThrow('boom');
    const refused = counted.run(() => Promise.resolve(1));
    await expect(refused).rejects.toBeInstanceOf(ProviderError);
    await expect(refused).rejects.toMatchObject({ reason: 'breaker_open' });
  });

  it('a synchronous throw of the action is a failure like a rejection', async () => {
    const b = board.get('p', 'm', settings);
    await expect(
      b.run(() => {
        throw new ProviderError('server_error', 'sync');
      }),
    ).rejects.toThrow('sync');
    expect(b.state).toBe('open');
  });
});

describe('Breaker states', () => {
  afterEach(() => {
    vi.useRealTimers();
  });
  const ok = () => Promise.resolve('ok');
  const track = (b: { provider: string; model: string }) => {
    const seen: string[] = [];
    board.on('state', (c) => {
      if (c.provider === b.provider && c.model === b.model) seen.push(c.state);
    });
    return seen;
  };

  it('waits for volumeThreshold fires, then opens only on a failure rate above the threshold', async () => {
    const b = board.get('p', 'm', { ...settings, volumeThreshold: 4, errorThresholdPercentage: 50 });
    await b.run(ok);
    await expect(b.run(fail)).rejects.toThrow('boom');
    await b.run(ok);
    // 4 fires, 2 failures: 50% is not above 50%.
    await expect(b.run(fail)).rejects.toThrow('boom');
    expect(b.state).toBe('closed');
    // 5 fires, 3 failures: 60%.
    await expect(b.run(fail)).rejects.toThrow('boom');
    expect(b.state).toBe('open');
  });

  it('forgets failures older than the rolling window', async () => {
    vi.useFakeTimers();
    const b = board.get('p', 'm', { ...settings, volumeThreshold: 2, rollingWindowMs: 1_000 });
    await expect(b.run(fail)).rejects.toThrow('boom');
    vi.advanceTimersByTime(1_100);
    await b.run(ok);
    // 1 ok + 1 failure in the window: 50%, not above 50%. Had the old failure still counted, 2 of 3 would open it.
    await expect(b.run(fail)).rejects.toThrow('boom');
    expect(b.state).toBe('closed');
    await expect(b.run(fail)).rejects.toThrow('boom');
    expect(b.state).toBe('open');
  });

  it('refuses while open with a Retry-After of the time left, half-opens after resetTimeoutMs, closes on the probe', async () => {
    vi.useFakeTimers();
    const b = board.get('p', 'm', { ...settings, resetTimeoutMs: 5_000 });
    const seen = track(b);
    await expect(b.run(fail)).rejects.toThrow('boom');
    expect(seen).toEqual(['open']);
    vi.advanceTimersByTime(2_000);
    let called = false;
    const refused = b.run(() => {
      called = true;
      return ok();
    });
    await expect(refused).rejects.toMatchObject({ reason: 'breaker_open', retryAfter: 3 });
    expect(called).toBe(false);
    vi.advanceTimersByTime(3_000);
    expect(b.state).toBe('half_open');
    expect(b.secondsUntilHalfOpen()).toBe(0);
    await expect(b.run(ok)).resolves.toBe('ok');
    expect(b.state).toBe('closed');
    expect(seen).toEqual(['open', 'half_open', 'closed']);
  });

  it('lets one probe through while half-open and re-opens (with a new reset timeout) when it fails', async () => {
    vi.useFakeTimers();
    const b = board.get('p', 'm', { ...settings, resetTimeoutMs: 1_000 });
    const seen = track(b);
    await expect(b.run(fail)).rejects.toThrow('boom');
    vi.advanceTimersByTime(1_000);
    let failProbe: (e: unknown) => void = () => {};
    const probe = b.run(() => new Promise((_, reject) => (failProbe = reject)));
    await expect(b.run(ok)).rejects.toMatchObject({ reason: 'breaker_open' });
    failProbe(new ProviderError('server_error', 'still down'));
    await expect(probe).rejects.toThrow('still down');
    expect(b.state).toBe('open');
    expect(seen).toEqual(['open', 'half_open', 'open']);
    vi.advanceTimersByTime(999);
    expect(b.state).toBe('open');
    vi.advanceTimersByTime(1);
    expect(b.state).toBe('half_open');
  });

  it('a probe that ends in a failure the breaker excuses (a 429) leaves it half-open: the next call probes', async () => {
    vi.useFakeTimers();
    const b = board.get('p', 'm', { ...settings, resetTimeoutMs: 1_000 });
    const seen = track(b);
    await expect(b.run(fail)).rejects.toThrow('boom');
    vi.advanceTimersByTime(1_000);
    await expect(
      b.run(() => Promise.reject(new ProviderError('rate_limited', 'busy'))),
    ).rejects.toMatchObject({
      reason: 'rate_limited',
    });
    // Not closed on no news (opossum closed here); the next call is the probe, and its failure re-opens.
    expect(b.state).toBe('half_open');
    await expect(b.run(fail)).rejects.toThrow('boom');
    expect(b.state).toBe('open');
    expect(seen).toEqual(['open', 'half_open', 'open']);
  });

  it('half-open, only the probe decides: a call let through before the breaker opened neither closes nor re-opens it', async () => {
    vi.useFakeTimers();
    const b = board.get('p', 'm', { ...settings, volumeThreshold: 1, resetTimeoutMs: 1_000 });
    const pending: { resolve: (v: string) => void; reject: (e: unknown) => void }[] = [];
    const slow = () =>
      b.run(() => new Promise<string>((resolve, reject) => pending.push({ resolve, reject })));
    const early = [slow(), slow()];
    // 5 fires, 3 failures: 60%, above the 50% threshold.
    for (let i = 0; i < 3; i++) await expect(b.run(fail)).rejects.toThrow('boom');
    expect(b.state).toBe('open');
    vi.advanceTimersByTime(1_000);
    expect(b.state).toBe('half_open');
    pending[0]!.resolve('late');
    await expect(early[0]).resolves.toBe('late');
    expect(b.state).toBe('half_open');
    pending[1]!.reject(new ProviderError('server_error', 'late failure'));
    await expect(early[1]).rejects.toThrow('late failure');
    expect(b.state).toBe('half_open');
    await expect(b.run(ok)).resolves.toBe('ok');
    expect(b.state).toBe('closed');
  });

  it('replaces a probe that has run for a reset timeout without settling (a stream whose first chunk never came)', async () => {
    vi.useFakeTimers();
    const b = board.get('p', 'm', { ...settings, resetTimeoutMs: 1_000 });
    await expect(b.run(fail)).rejects.toThrow('boom');
    vi.advanceTimersByTime(1_000);
    void b.runHeld(() => new Promise<string>(() => {}));
    vi.advanceTimersByTime(999);
    await expect(b.run(ok)).rejects.toMatchObject({ reason: 'breaker_open' });
    vi.advanceTimersByTime(1);
    await expect(b.run(ok)).resolves.toBe('ok');
    expect(b.state).toBe('closed');
  });

  it('a stream probe is decided by its first chunk: other calls go through while it still streams', async () => {
    vi.useFakeTimers();
    const b = board.get('p', 'm', { ...settings, resetTimeoutMs: 1_000 });
    const seen = track(b);
    await expect(b.run(fail)).rejects.toThrow('boom');
    vi.advanceTimersByTime(1_000);
    const held = await b.runHeld(async () => 'first chunk');
    expect(held.value).toBe('first chunk');
    await vi.advanceTimersByTimeAsync(0);
    expect(b.state).toBe('closed');
    expect(seen).toEqual(['open', 'half_open', 'closed']);
    await expect(b.run(ok)).resolves.toBe('ok');
    held.settle();
    await vi.advanceTimersByTimeAsync(0);
    expect(b.state).toBe('closed');
  });

  it('a stream probe that breaks after its first chunk counts as one failure of the closed breaker', async () => {
    vi.useFakeTimers();
    const b = board.get('p', 'm', { ...settings, volumeThreshold: 1, resetTimeoutMs: 1_000 });
    await expect(b.run(fail)).rejects.toThrow('boom');
    vi.advanceTimersByTime(1_000);
    const probe = await b.runHeld(async () => 'first chunk');
    await vi.advanceTimersByTimeAsync(0);
    expect(b.state).toBe('closed');
    // While it streams, two calls succeed: 4 fires in the window (the first failure, the probe, two successes).
    await b.run(ok);
    await b.run(ok);
    probe.settle(new ProviderError('stream_broken', 'cut mid-way'));
    await vi.advanceTimersByTimeAsync(0);
    // 2 failures of 4 fires: 50%, not above the threshold, so still closed (it would re-open, not stay half-open).
    expect(b.state).toBe('closed');
    await expect(b.run(fail)).rejects.toThrow('boom');
    expect(b.state).toBe('open');
  });

  it('a wall clock stepped back neither keeps old failures nor promises a wait past the reset timer', async () => {
    vi.useFakeTimers({ now: 10_000_000 });
    const b = board.get('p', 'm', {
      ...settings,
      volumeThreshold: 2,
      rollingWindowMs: 1_000,
      resetTimeoutMs: 5_000,
    });
    await expect(b.run(fail)).rejects.toThrow('boom');
    // Stepped back by an hour and half a slice, so the new slice lands in another slot than the old one.
    vi.setSystemTime(10_000_000 - 3_600_050);
    await b.run(ok);
    // The failure is stamped an hour ahead: not in the window, so 1 ok + 1 failure is 50%, not above it.
    await expect(b.run(fail)).rejects.toThrow('boom');
    expect(b.state).toBe('closed');
    await expect(b.run(fail)).rejects.toThrow('boom');
    expect(b.state).toBe('open');
    vi.setSystemTime(Date.now() - 3_600_000);
    expect(b.secondsUntilHalfOpen()).toBe(5);
  });

  it('counts refused calls as fires, as opossum did: after a recovery the old failures weigh less', async () => {
    vi.useFakeTimers();
    const b = board.get('p', 'm', { ...settings, volumeThreshold: 1, resetTimeoutMs: 1_000 });
    await expect(b.run(fail)).rejects.toThrow('boom');
    for (let i = 0; i < 3; i++) await expect(b.run(ok)).rejects.toMatchObject({ reason: 'breaker_open' });
    vi.advanceTimersByTime(1_000);
    await b.run(ok);
    // 1 + 3 refused + 1 probe + this one = 6 fires, 2 failures: 33%, not above 50%.
    await expect(b.run(fail)).rejects.toThrow('boom');
    expect(b.state).toBe('closed');
  });

  it('a retired breaker stops its reset timer, reads closed (it lets every call through) and moves no more', async () => {
    vi.useFakeTimers();
    const b = board.get('p', 'm', { ...settings, resetTimeoutMs: 1_000 });
    const seen = track(b);
    await expect(b.run(fail)).rejects.toThrow('boom');
    board.retain([]);
    vi.advanceTimersByTime(5_000);
    expect(b.state).toBe('closed');
    expect(b.secondsUntilHalfOpen()).toBe(0);
    await expect(b.run(fail)).rejects.toThrow('boom');
    expect(seen).toEqual(['open']);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('RollingCounts', () => {
  it('sums the slices of the window ending now and drops older ones', () => {
    const c = new RollingCounts(1_000);
    c.fire(0);
    c.failure(0);
    c.fire(450);
    c.fire(999);
    expect(c.totals(999)).toEqual({ fires: 3, failures: 1 });
    // The slice of t=0..99 leaves the window at t=1000, the one of 400..499 at t=1400.
    expect(c.totals(1_000)).toEqual({ fires: 2, failures: 0 });
    expect(c.totals(1_400)).toEqual({ fires: 1, failures: 0 });
    c.fire(2_950);
    expect(c.totals(2_950)).toEqual({ fires: 1, failures: 0 });
  });
});
