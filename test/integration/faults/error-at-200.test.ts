/** Fault: a 200 whose body is an error (what some gateways send). It is the upstream failing; the next target serves. */
import { describe, expect, it } from 'vitest';
import { ask, HEALTHY_REPLY, useFaultBed } from './bed.js';

const bed = useFaultBed();

describe('fault: 200 with an error body', () => {
  it('is served by the healthy target, with the upstream message in the fallback line', async () => {
    bed.flaky.script([
      { errorAt200: true, errorMessage: 'upstream model crashed (key sk-live-0123456789abcdef)' },
    ]);
    const r = await ask(bed);
    expect(r.data.choices[0]?.message.content).toBe(HEALTHY_REPLY);
    const fb = bed.lastLog('fallback');
    expect(fb).toMatchObject({ from: 'flaky', reason: 'server_error' });
    expect(fb?.['detail']).toContain('answered 200 with an error: upstream model crashed');
    // The upstream's text is kept, keys are not.
    expect(JSON.stringify(bed.sidecar.logs.lines)).not.toContain('sk-live-0123456789abcdef');
    expect(bed.breaker('flaky')).toBe('open');
    expect(await bed.tokensBooked()).toBe(16);
  });
});
