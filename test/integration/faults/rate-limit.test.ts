/** Fault: an upstream answers 429 with Retry-After. It is busy, not broken: the next target serves, no breaker moves. */
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { behave } from '../../fixtures/providers/index.js';
import { ask, HEALTHY_REPLY, useFaultBed } from './bed.js';

const bed = useFaultBed();

describe('fault: upstream 429 with Retry-After', () => {
  it('is served by the next target and never opens the busy target breaker', async () => {
    bed.flaky.fallback(behave.rateLimited('30'));
    for (let i = 0; i < 4; i++) {
      const r = await ask(bed);
      expect(r.data.choices[0]?.message.content).toBe(HEALTHY_REPLY);
    }
    // Every request tried flaky first: its breaker (which opens on one counted failure) never counted a 429.
    expect(bed.flaky.calls.length).toBe(4);
    expect(bed.breaker('flaky')).toBe('closed');
    const fb = bed.lastLog('fallback');
    expect(fb).toMatchObject({ from: 'flaky', reason: 'rate_limited', status: 429 });
    expect(fb?.['detail']).toContain('Rate limit reached');
    expect(await bed.tokensBooked()).toBe(4 * 16);
  });

  it('on every target: 429 TM_RATE_LIMITED with the soonest Retry-After, breakers still closed', async () => {
    bed.flaky.fallback(behave.rateLimited('30'));
    bed.healthy.fallback(behave.rateLimited('7'));
    const e = (await ask(bed).catch((x: unknown) => x)) as InstanceType<typeof OpenAI.RateLimitError>;
    expect(e).toBeInstanceOf(OpenAI.RateLimitError);
    expect(e.code).toBe('TM_RATE_LIMITED');
    expect(e.headers?.get('retry-after')).toBe('7');
    expect(bed.breaker('flaky')).toBe('closed');
    expect(bed.breaker('healthy')).toBe('closed');
  });
});
