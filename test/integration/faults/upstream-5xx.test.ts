/** Fault: an upstream answers 5xx. The next target serves; the failing one's breaker counts it; 503s say when to retry. */
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { behave } from '../../fixtures/providers/index.js';
import { ask, askStream, HEALTHY_REPLY, useFaultBed } from './bed.js';

const bed = useFaultBed();

describe('fault: upstream 5xx', () => {
  it('is served by the healthy target, logged in the upstream words, counted against the failing target', async () => {
    bed.flaky.script([behave.error(500)]);
    const r = await ask(bed);
    expect(r.data.choices[0]?.message.content).toBe(HEALTHY_REPLY);
    expect(r.response.headers.get('x-tiermesh-provider')).toBe('healthy');
    expect(r.response.headers.get('x-tiermesh-attempts')).toBe('2');
    const fb = bed.lastLog('fallback');
    expect(fb).toMatchObject({ from: 'flaky', reason: 'server_error', status: 500, action: 'next-target' });
    expect(fb?.['detail']).toContain('The server had an error while processing your request');
    expect(bed.breaker('flaky')).toBe('open');
    expect(bed.breaker('healthy')).toBe('closed');
    expect(await bed.tokensBooked()).toBe(16);
  });

  it('before the first chunk of a stream, fails over the same way', async () => {
    bed.flaky.script([behave.error(503)]);
    const s = await askStream(bed);
    expect(s.text).toBe(HEALTHY_REPLY);
    expect(s.finish).toBe('stop');
    expect(bed.lastLog('fallback')).toMatchObject({ from: 'flaky', reason: 'server_error', status: 503 });
    expect(bed.lastLog('request')).toMatchObject({ status: 200, provider: 'healthy', outputTokens: 5 });
  });

  it('when every target is down: 502, then 503 TM_BREAKER_OPEN with a Retry-After until half-open', async () => {
    bed.flaky.fallback(behave.error(500));
    bed.healthy.fallback(behave.error(502));
    const first = await ask(bed).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(OpenAI.APIError);
    expect((first as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    const second = (await ask(bed).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(second.status).toBe(503);
    expect(second.code).toBe('TM_BREAKER_OPEN');
    const wait = Number(second.headers?.get('retry-after'));
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(60);
    expect(bed.lastLog('request')).toMatchObject({ status: 503, error: { code: 'TM_BREAKER_OPEN' } });
  });
});
