/**
 * Fault: a stream that flows slowly. A stream sending chunk after chunk runs past resilience.timeoutMs (only an idle
 * gap longer than streamIdleTimeoutMs, or the optional streamTimeoutMs, ends it).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { behave } from '../../fixtures/providers/index.js';
import { askStream, type FaultBed, faultBed } from './bed.js';

let bed: FaultBed;
afterEach(() => bed.close());

const LONG = 'one two three four five six seven eight';

describe('fault: slow but flowing stream', () => {
  it('is delivered whole although it lasts longer than timeoutMs', async () => {
    bed = await faultBed({ timeoutMs: 300, firstByteTimeoutMs: 300, streamIdleTimeoutMs: 2_000 });
    // 10 frames, 100 ms apart: about a second, three times timeoutMs.
    bed.flaky.script([{ ...behave.ok(LONG, { prompt: 9, completion: 8 }), chunkDelayMs: 100 }]);
    const s = await askStream(bed);
    expect(s.text).toBe(LONG);
    expect(s.finish).toBe('stop');
    expect(bed.lastLog('fallback')).toBeUndefined();
    expect(bed.breaker('flaky')).toBe('closed');
    expect(bed.lastLog('request')).toMatchObject({ status: 200, provider: 'flaky', outputTokens: 8 });
  });

  it('is cut when a gap between chunks passes streamIdleTimeoutMs; what was streamed is booked', async () => {
    bed = await faultBed({ timeoutMs: 5_000, firstByteTimeoutMs: 2_000, streamIdleTimeoutMs: 200 });
    // The first word comes one delay after the role chunk, within the first-byte deadline; every gap after it is
    // longer than the idle deadline.
    bed.flaky.script([{ ...behave.ok(LONG), chunkDelayMs: 600 }]);
    const err = await askStream(bed).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    const fb = bed.lastLog('fallback');
    expect(fb).toMatchObject({ from: 'flaky', reason: 'stream_broken', action: 'stop' });
    expect(fb?.['detail']).toContain('no stream chunk for 200ms');
    const line = bed.lastLog('request');
    expect(line).toMatchObject({ status: 200, error: { code: 'TM_UPSTREAM_ERROR' } });
    expect(line?.['inputTokens']).toBeGreaterThan(0);
    expect(await bed.tokensBooked()).toBeGreaterThan(0);
  });
});
