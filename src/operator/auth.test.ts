import { describe, expect, it } from 'vitest';
import { tokenAuthenticator } from './auth.js';

const team = 'team';

describe('tokenAuthenticator', () => {
  it('reviews each token once within the TTL and maps it to its namespace', async () => {
    let reviews = 0;
    let t = 0;
    const auth = tokenAuthenticator(
      async (token) => {
        reviews++;
        return token === 'good' ? 'system:serviceaccount:team:app' : undefined;
      },
      { ttlMs: 1000, negativeTtlMs: 10, now: () => t },
    );
    expect(await auth('good')).toEqual({ namespace: 'team', serviceAccount: 'app' });
    await auth('good');
    expect(reviews).toBe(1);
    t = 1001;
    await auth('good');
    expect(reviews).toBe(2);
    expect(await auth('bad')).toBeUndefined();
    t = 1005;
    await auth('bad');
    expect(reviews).toBe(3);
    t = 1020;
    await auth('bad');
    expect(reviews).toBe(4);
  });

  it('trusts a token a ticket vouched for until the ticket expires (at most the TTL), then reviews it', async () => {
    let reviews = 0;
    let t = 0;
    const auth = tokenAuthenticator(
      async () => {
        reviews++;
        return 'system:serviceaccount:team:app';
      },
      { ttlMs: 1000, now: () => t },
    );
    auth.vouch('t1', { namespace: team, serviceAccount: 'app' }, 500, 0);
    expect(await auth('t1')).toEqual({ namespace: team, serviceAccount: 'app' });
    expect(reviews).toBe(0);
    t = 500;
    await auth('t1');
    expect(reviews).toBe(1);
    // Never longer than the TTL, whatever the ticket said.
    auth.vouch('t2', { namespace: team, serviceAccount: 'app' }, 10_000, 0);
    t = 1499;
    await auth('t2');
    expect(reviews).toBe(1);
    t = 1500;
    await auth('t2');
    expect(reviews).toBe(2);
    // A reviewed entry is not replaced by a vouch (it may be a rejection).
    auth.vouch('t2', { namespace: 'other', serviceAccount: 'x' }, 2000, 0);
    expect(await auth('t2')).toEqual({ namespace: team, serviceAccount: 'app' });
  });

  it('knows when a token was last really reviewed: its review, or the one a vouching ticket carried', async () => {
    let t = 100;
    const auth = tokenAuthenticator(
      async (tok) => (tok === 'bad' ? undefined : 'system:serviceaccount:team:app'),
      {
        ttlMs: 1000,
        now: () => t,
      },
    );
    await auth('t1');
    t = 400;
    expect(await auth.reviewedAt('t1')).toBe(100);
    // A cache hit is no review.
    await auth('t1');
    expect(await auth.reviewedAt('t1')).toBe(100);
    auth.vouch('t2', { namespace: team, serviceAccount: 'app' }, 1000, 42);
    expect(await auth.reviewedAt('t2')).toBe(42);
    await auth('bad');
    expect(await auth.reviewedAt('bad')).toBeUndefined();
    expect(await auth.reviewedAt('unknown')).toBeUndefined();
    t = 1100;
    expect(await auth.reviewedAt('t1')).toBeUndefined();
  });

  it('re-reviews a cached token on demand: moves its review time, or revokes it, and survives an apiserver error', async () => {
    const reasons: string[] = [];
    let answer: 'ok' | 'no' | 'down' = 'ok';
    let t = 100;
    const auth = tokenAuthenticator(
      async (_token, reason) => {
        reasons.push(reason);
        if (answer === 'down') throw new Error('connect ECONNREFUSED');
        return answer === 'ok' ? 'system:serviceaccount:team:app' : undefined;
      },
      { ttlMs: 1000, negativeTtlMs: 10, revokedMs: 600, now: () => t },
    );
    await auth('tok');
    expect(await auth.reviewedAt('tok')).toBe(100);
    t = 500;
    expect(await auth.review('tok')).toEqual({
      identity: { namespace: team, serviceAccount: 'app' },
      reviewedAt: 500,
    });
    expect(await auth.reviewedAt('tok')).toBe(500);
    // Served from the cache now: the re-review replaced the entry.
    t = 1400;
    await auth('tok');
    expect(reasons).toEqual(['connect', 'refresh']);
    // An apiserver that cannot answer leaves the entry as it was.
    answer = 'down';
    await expect(auth.review('tok')).rejects.toThrow(/ECONNREFUSED/);
    expect(await auth.reviewedAt('tok')).toBe(500);
    expect(auth.revoked('tok')).toBe(false);
    // A rejection revokes the token (for its tickets) for revokedMs, and the cache no longer vouches for it.
    answer = 'no';
    expect((await auth.review('tok')).identity).toBeUndefined();
    expect(auth.revoked('tok')).toBe(true);
    expect(auth.revoked('other')).toBe(false);
    expect(await auth.reviewedAt('tok')).toBeUndefined();
    t = 1400 + 600;
    expect(auth.revoked('tok')).toBe(false);
  });
});
