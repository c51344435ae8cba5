/** Fault: an upstream accepts the request and never answers. Our first-byte deadline moves on to the next target. */
import { describe, expect, it } from 'vitest';
import { behave } from '../../fixtures/providers/index.js';
import { ask, askStream, HEALTHY_REPLY, useFaultBed } from './bed.js';

const bed = useFaultBed({ timeoutMs: 2_000, firstByteTimeoutMs: 200 });

describe('fault: upstream hangs', () => {
  it('is abandoned at the first-byte deadline and served by the healthy target', async () => {
    bed.flaky.script([behave.hang()]);
    const r = await ask(bed);
    expect(r.data.choices[0]?.message.content).toBe(HEALTHY_REPLY);
    const fb = bed.lastLog('fallback');
    expect(fb).toMatchObject({ from: 'flaky', reason: 'timeout', action: 'next-target' });
    expect(fb?.['detail']).toContain('no first byte within 200ms');
    expect(bed.breaker('flaky')).toBe('open');
    expect(await bed.tokensBooked()).toBe(16);
  });

  it('the same for a stream', async () => {
    bed.flaky.script([behave.hang()]);
    const s = await askStream(bed);
    expect(s.text).toBe(HEALTHY_REPLY);
    expect(bed.lastLog('fallback')).toMatchObject({ from: 'flaky', reason: 'timeout' });
  });
});
