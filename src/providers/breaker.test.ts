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
