import { describe, expect, it } from 'vitest';
import { StreamSessions } from './sessions.js';

describe('StreamSessions', () => {
  it('binds a message to an open stream of the same sidecar and token only', () => {
    const s = new StreamSessions();
    const id = s.start('team', 'pod-a', 'token-1');
    expect(s.bound(id, 'pod-a', 'token-1')).toBe('team');
    expect(s.bound(id, 'pod-b', 'token-1')).toBeUndefined();
    // A rotated token falls back to a TokenReview.
    expect(s.bound(id, 'pod-a', 'token-2')).toBeUndefined();
    expect(s.bound('guessed', 'pod-a', 'token-1')).toBeUndefined();
    s.close(id);
    expect(s.bound(id, 'pod-a', 'token-1')).toBeUndefined();
    expect(s.size()).toBe(0);
  });

  it('hands out distinct, unguessable ids', () => {
    const s = new StreamSessions();
    const ids = new Set(Array.from({ length: 100 }, () => s.start('ns', 'a', 't')));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id.length).toBeGreaterThanOrEqual(24);
  });

  it('stops binding once the token it was opened with has expired', () => {
    const s = new StreamSessions();
    const jwt = ['h', Buffer.from(JSON.stringify({ exp: 1000 })).toString('base64url'), 's'].join('.');
    const id = s.start('team', 'pod-a', jwt);
    expect(s.bound(id, 'pod-a', jwt, 999_999)).toBe('team');
    expect(s.bound(id, 'pod-a', jwt, 1_000_000)).toBeUndefined();
  });
});

describe('StreamSessions re-review bookkeeping', () => {
  it('lists each token once with its oldest review, and moves the review time forward only', () => {
    const s = new StreamSessions();
    let refreshed = 0;
    const a1 = s.start('team', 'pod-a', 'token-a', { reviewedAt: 100, refreshed: () => refreshed++ });
    const a2 = s.start('team', 'pod-a2', 'token-a', { reviewedAt: 50 });
    s.start('other', 'pod-b', 'token-b');
    const tokens = s.tokens().sort((x, y) => x.namespace.localeCompare(y.namespace));
    expect(tokens.map((t) => [t.namespace, t.token, t.reviewedAt])).toEqual([
      ['other', 'token-b', 0],
      ['team', 'token-a', 50],
    ]);
    const keyA = tokens[1]!.key;
    s.reviewed(keyA, 500);
    expect(s.reviewedAt(a1)).toBe(500);
    expect(s.reviewedAt(a2)).toBe(500);
    expect(refreshed).toBe(1);
    s.reviewed(keyA, 400);
    expect(s.reviewedAt(a1)).toBe(500);
    expect(refreshed).toBe(1);
    s.close(a1);
    expect(s.reviewedAt(a1)).toBeUndefined();
  });

  it('ends every stream of a revoked token and only those', () => {
    const s = new StreamSessions();
    const ended: string[] = [];
    s.start('team', 'pod-a', 'token-a', { end: () => ended.push('a1') });
    s.start('team', 'pod-a2', 'token-a', { end: () => ended.push('a2') });
    const b = s.start('team', 'pod-b', 'token-b', { end: () => ended.push('b') });
    const keyA = s.tokens().find((t) => t.token === 'token-a')!.key;
    expect(s.revoke(keyA)).toBe(2);
    expect(ended.sort()).toEqual(['a1', 'a2']);
    expect(s.size()).toBe(1);
    expect(s.bound(b, 'pod-b', 'token-b')).toBe('team');
    expect(s.revoke(keyA)).toBe(0);
  });
});
