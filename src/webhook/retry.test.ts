import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { retryTransient } from './server.js';

const fail = (code: number) => new ApiException(code, 'x', {}, {});

describe('retryTransient', () => {
  it('retries 429/503/504 up to the given delays, then gives up with the last error', async () => {
    let calls = 0;
    const ok = await retryTransient(async () => {
      calls++;
      if (calls < 3) throw fail(calls === 1 ? 429 : 503);
      return 'done';
    }, [0, 0]);
    expect([ok, calls]).toEqual(['done', 3]);

    calls = 0;
    await expect(
      retryTransient(async () => {
        calls++;
        throw fail(429);
      }, [0, 0]),
    ).rejects.toMatchObject({ code: 429 });
    expect(calls).toBe(3);
  });

  it('does not retry other errors', async () => {
    let calls = 0;
    await expect(
      retryTransient(async () => {
        calls++;
        throw fail(403);
      }, [0, 0]),
    ).rejects.toMatchObject({ code: 403 });
    expect(calls).toBe(1);
  });
});
