/**
 * Request of death: a content part nested 5,000 levels deep (10 KB). JSON.parse takes it, our own JSON.stringify of
 * the upstream body would overflow the stack. It is refused at parse as the client's fault, never sent, never retried.
 */
import { describe, it } from 'vitest';
import { postRaw, useFaultBed } from './bed.js';
import { expectRefusedHarmlessly } from './request-of-death.js';

const bed = useFaultBed({}, 'all');

const nested = (depth: number) =>
  `{"model":"auto","messages":[{"role":"user","content":[{"type":"x","y":${'['.repeat(depth)}${']'.repeat(depth)}}]}]}`;

describe('request of death: deep nesting', () => {
  it('5,000 levels: 400 TM_INVALID_REQUEST, nothing sent, no breaker moved', async () => {
    await expectRefusedHarmlessly(bed, () => postRaw(bed, nested(5_000)), {
      status: 400,
      code: 'TM_INVALID_REQUEST',
      cause: /nests deeper than 64 levels/,
    });
  });

  it('100 levels, which our serializer would survive, is refused the same way (one rule, not a stack size)', async () => {
    await expectRefusedHarmlessly(bed, () => postRaw(bed, nested(100)), {
      status: 400,
      code: 'TM_INVALID_REQUEST',
      cause: /nests deeper than 64 levels/,
    });
  });
});
