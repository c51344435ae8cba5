/** Fault: the first byte comes late. Past firstByteTimeoutMs the next target serves; within it, the slow one does. */
import { describe, expect, it } from 'vitest';
import { behave } from '../../fixtures/providers/index.js';
import { ask, askStream, HEALTHY_REPLY, useFaultBed } from './bed.js';

const bed = useFaultBed({ timeoutMs: 5_000, firstByteTimeoutMs: 300 });

describe('fault: slow first byte', () => {
  it('past the first-byte deadline: the healthy target serves, the slow one is counted', async () => {
    bed.flaky.script([behave.slowFirstByte(2_000, 'too late')]);
    const r = await ask(bed);
    expect(r.data.choices[0]?.message.content).toBe(HEALTHY_REPLY);
    expect(bed.lastLog('fallback')?.['detail']).toContain('no first byte within 300ms');
    expect(bed.breaker('flaky')).toBe('open');
  });

  it('within the deadline: served by the slow target, no fallback', async () => {
    bed.flaky.script([behave.slowFirstByte(50, 'slow but in time')]);
    const s = await askStream(bed);
    expect(s.text).toBe('slow but in time');
    expect(bed.lastLog('fallback')).toBeUndefined();
    expect(bed.breaker('flaky')).toBe('closed');
    expect(bed.lastLog('request')).toMatchObject({ status: 200, provider: 'flaky' });
  });
});
