/** Fault: the upstream's socket dies mid-stream. Before the first chunk we fail over; after it the client is told. */
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { behave } from '../../fixtures/providers/index.js';
import { askStream, HEALTHY_REPLY, useFaultBed } from './bed.js';

const bed = useFaultBed();

describe('fault: broken stream', () => {
  it('broken before the first chunk: the healthy target streams the answer', async () => {
    bed.flaky.script([behave.breakAfter(0)]);
    const s = await askStream(bed);
    expect(s.text).toBe(HEALTHY_REPLY);
    expect(bed.lastLog('fallback')).toMatchObject({ from: 'flaky', action: 'next-target' });
  });

  it('broken after chunks went out: an error event for the client, the cause logged, what was spent booked', async () => {
    bed.flaky.script([{ ...behave.ok('alpha beta gamma delta epsilon'), breakAfterChunks: 3 }]);
    const err = await askStream(bed).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(String((err as Error).message)).toContain('stream broke after the first chunk');
    const fb = bed.lastLog('fallback');
    expect(fb).toMatchObject({ from: 'flaky', reason: 'stream_broken', action: 'stop' });
    expect(fb?.['detail']).toMatch(/stream broke after the first chunk \(connection/);
    const line = bed.lastLog('request');
    expect(line).toMatchObject({ provider: 'flaky', error: { code: 'TM_UPSTREAM_ERROR' } });
    // No usage chunk arrived: the estimate of what streamed ("alpha beta") is booked, not nothing.
    expect(line?.['outputTokens']).toBeGreaterThan(0);
    expect(await bed.tokensBooked()).toBeGreaterThan(0);
    expect(bed.breaker('flaky')).toBe('open');
  });
});
