/**
 * Fault: a stream that ends cleanly without `data: [DONE]` (some OpenAI-compatible servers do). When the finish_reason
 * arrived the answer is whole: the client gets a normal, complete stream, [DONE] written by us.
 */
import { describe, expect, it } from 'vitest';
import { behave } from '../../fixtures/providers/index.js';
import { askStream, useFaultBed } from './bed.js';

const bed = useFaultBed();

describe('fault: stream without [DONE]', () => {
  it('after its finish_reason: a complete stream for the SDK, no fallback, usage booked', async () => {
    bed.flaky.script([
      { ...behave.ok('all of it arrived', { prompt: 4, completion: 4 }), endWithoutDone: true },
    ]);
    const s = await askStream(bed);
    expect(s.text).toBe('all of it arrived');
    expect(s.finish).toBe('stop');
    expect(bed.lastLog('fallback')).toBeUndefined();
    expect(bed.breaker('flaky')).toBe('closed');
    expect(bed.lastLog('request')).toMatchObject({ status: 200, outputTokens: 4, inputTokens: 4 });
  });

  it('the raw stream ends with our own [DONE]', async () => {
    bed.flaky.script([behave.endWithoutDone()]);
    const res = await fetch(`${bed.sidecar.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'auto', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    const text = await res.text();
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(text).not.toContain('"error"');
  });

  it('cut before any finish_reason: still an error, as the answer is not whole', async () => {
    bed.flaky.script([{ ...behave.ok('cut off here and there'), endAfterChunks: 2 }]);
    const err = await askStream(bed).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(bed.lastLog('fallback')?.['detail']).toContain('without [DONE] or a finish_reason');
  });
});
