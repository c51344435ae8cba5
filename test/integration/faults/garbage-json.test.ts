/** Fault: a 200 whose body (or first stream event) is not JSON. That target's answer is unusable; the next serves. */
import { describe, expect, it } from 'vitest';
import { behave } from '../../fixtures/providers/index.js';
import { ask, askStream, HEALTHY_REPLY, useFaultBed } from './bed.js';

const bed = useFaultBed();

describe('fault: garbage JSON', () => {
  it('a JSON answer that is not JSON: served by the healthy target, the cause logged', async () => {
    bed.flaky.script([behave.malformed()]);
    const r = await ask(bed);
    expect(r.data.choices[0]?.message.content).toBe(HEALTHY_REPLY);
    const fb = bed.lastLog('fallback');
    expect(fb).toMatchObject({ from: 'flaky', reason: 'bad_response' });
    expect(fb?.['detail']).toContain('answer is not valid JSON');
    expect(bed.breaker('flaky')).toBe('open');
    expect(await bed.tokensBooked()).toBe(16);
  });

  it('a stream whose first event is not JSON: the healthy target streams', async () => {
    bed.flaky.script([behave.malformed()]);
    const s = await askStream(bed);
    expect(s.text).toBe(HEALTHY_REPLY);
    expect(bed.lastLog('fallback')?.['detail']).toContain('stream chunk is not valid JSON');
  });

  it('a stream event that is JSON but no chunk (`data: null`): bad_response, the healthy target streams', async () => {
    bed.flaky.script([{ rawFrame: 'data: null\n\n' }]);
    const s = await askStream(bed);
    expect(s.text).toBe(HEALTHY_REPLY);
    const fb = bed.lastLog('fallback');
    expect(fb).toMatchObject({ from: 'flaky', reason: 'bad_response' });
    expect(fb?.['detail']).toContain('stream chunk has no choices');
  });
});
