import { describe, expect, it } from 'vitest';
import { tokenAuthenticator } from './auth.js';

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
});
