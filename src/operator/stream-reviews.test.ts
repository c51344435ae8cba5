import { describe, expect, it } from 'vitest';
import { StreamSessions } from './sessions.js';
import { type RereviewResult, startStreamReviews } from './stream-reviews.js';

const BOUND = 10 * 60_000;
const id = { namespace: 'team', serviceAccount: 'app' };

describe('startStreamReviews', () => {
  it('reviews each due token once, at most a few at a time, and moves its streams’ review time', async () => {
    const t = 10 * BOUND;
    const sessions = new StreamSessions();
    const streams = Array.from({ length: 20 }, (_, i) =>
      sessions.start('team', `pod-${i}`, `token-${i % 10}`, { reviewedAt: t - BOUND }),
    );
    const fresh = sessions.start('team', 'pod-new', 'token-new', { reviewedAt: t });
    const reviewed: string[] = [];
    let inFlight = 0;
    let most = 0;
    const results: RereviewResult[] = [];
    const reviews = startStreamReviews({
      sessions,
      boundMs: BOUND,
      now: () => t,
      onResult: (r) => results.push(r),
      review: async (token) => {
        reviewed.push(token);
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, 1));
        inFlight--;
        return { identity: id, reviewedAt: t + 1 };
      },
    });
    await reviews.round();
    reviews.stop();
    expect(reviewed.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `token-${i}`).sort());
    expect(most).toBe(4);
    expect(results).toEqual(new Array(10).fill('accepted'));
    for (const s of streams) expect(sessions.reviewedAt(s)).toBe(t + 1);
    expect(sessions.reviewedAt(fresh)).toBe(t);
  });

  it('ends the streams of a rejected token, and keeps them all when the apiserver cannot answer', async () => {
    const t = 10 * BOUND;
    const sessions = new StreamSessions();
    const ended: string[] = [];
    for (const name of ['a', 'b', 'c'])
      sessions.start('team', `pod-${name}`, `token-${name}`, {
        reviewedAt: t - BOUND,
        end: () => ended.push(name),
      });
    let down = true;
    const calls: string[] = [];
    const revoked: number[] = [];
    const reviews = startStreamReviews({
      sessions,
      boundMs: BOUND,
      concurrency: 1,
      now: () => t,
      onRevoked: (n) => revoked.push(n),
      review: async (token) => {
        calls.push(token);
        if (down) throw new Error('ECONNREFUSED');
        return { identity: token === 'token-b' ? undefined : id, reviewedAt: t };
      },
    });
    await reviews.round();
    // One failure ends the round: the others are not tried against an apiserver that is down.
    expect(calls).toHaveLength(1);
    expect(sessions.size()).toBe(3);
    expect(ended).toEqual([]);
    down = false;
    await reviews.round();
    reviews.stop();
    expect(ended).toEqual(['b']);
    expect(revoked).toEqual([1]);
    expect(sessions.size()).toBe(2);
  });
});
