import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { retryTransient, TRANSIENT_RETRY } from './server.js';

const fail = (code: number) => new ApiException(code, 'x', {}, {});

/** The default policy, waiting for nothing but noting each wait. */
function recording() {
  const waits: number[] = [];
  return {
    waits,
    opts: {
      ...TRANSIENT_RETRY,
      sleep: async (ms: number) => {
        waits.push(ms);
      },
    },
  };
}

describe('retryTransient', () => {
  it('retries 429/503/504 with the shared backoff (250, then 500 ms), then gives up with the last error', async () => {
    let calls = 0;
    const a = recording();
    const ok = await retryTransient(async () => {
      calls++;
      if (calls < 3) throw fail(calls === 1 ? 429 : 503);
      return 'done';
    }, a.opts);
    expect([ok, calls]).toEqual(['done', 3]);
    expect(a.waits).toEqual([250, 500]);

    calls = 0;
    const b = recording();
    await expect(
      retryTransient(async () => {
        calls++;
        throw fail(429);
      }, b.opts),
    ).rejects.toMatchObject({ code: 429 });
    expect(calls).toBe(3);
    expect(b.waits).toEqual([250, 500]);
  });

  it('does not retry other errors', async () => {
    let calls = 0;
    const a = recording();
    await expect(
      retryTransient(async () => {
        calls++;
        throw fail(403);
      }, a.opts),
    ).rejects.toMatchObject({ code: 403 });
    expect(calls).toBe(1);
    expect(a.waits).toEqual([]);
  });
});
