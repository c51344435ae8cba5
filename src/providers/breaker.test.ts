import { afterEach, describe, expect, it } from 'vitest';
import { BreakerBoard, type BreakerId } from './breaker.js';
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
