/**
 * Request of death: huge arrays. 100,000 messages is the client's problem (the prompt fits no model: 400); 20,000
 * content parts that do fit are served, and the sidecar keeps answering.
 */
import { describe, expect, it } from 'vitest';
import { ask, postRaw, useFaultBed } from './bed.js';
import { expectRefusedHarmlessly } from './request-of-death.js';

const bed = useFaultBed({}, 'all');

describe('request of death: huge arrays', () => {
  it('100,000 messages: 400 TM_CONTEXT_TOO_LONG, nothing sent, no breaker moved', async () => {
    const messages = Array.from({ length: 100_000 }, () => ({ role: 'user', content: 'hello there' }));
    await expectRefusedHarmlessly(bed, () => postRaw(bed, JSON.stringify({ model: 'auto', messages })), {
      status: 400,
      code: 'TM_CONTEXT_TOO_LONG',
      cause: /fit no model/,
    });
  });

  it('20,000 content parts that fit: served, and ordinary requests still are', async () => {
    const content = Array.from({ length: 20_000 }, () => ({ type: 'text', text: 'a' }));
    const before = bed.flaky.calls.length + bed.healthy.calls.length;
    const answer = await postRaw(
      bed,
      JSON.stringify({ model: 'auto', messages: [{ role: 'user', content }] }),
    );
    expect(answer.status).toBe(200);
    const sent = [...bed.flaky.calls, ...bed.healthy.calls].map(
      (c) => (c.body as { messages: Array<{ content: unknown }> }).messages[0]?.content,
    );
    expect(sent.length).toBe(before + 1);
    expect(sent.some((c) => Array.isArray(c) && c.length === 20_000)).toBe(true);
    expect((await ask(bed)).response.status).toBe(200);
    expect(bed.sidecar.breakers.states().every((s) => s.state === 'closed')).toBe(true);
  });
});
