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
