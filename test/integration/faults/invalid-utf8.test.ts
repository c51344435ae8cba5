/** Request of death: bytes that are not UTF-8. Refused as the client's (400), never "repaired" and sent on. */
import { describe, it } from 'vitest';
import { postRaw, useFaultBed } from './bed.js';
import { expectRefusedHarmlessly } from './request-of-death.js';

const bed = useFaultBed({}, 'all');

describe('request of death: invalid UTF-8', () => {
  it('a lone 0xff byte inside a string: 400 TM_INVALID_JSON, nothing sent, no breaker moved', async () => {
    const body = Buffer.concat([
      Buffer.from('{"model":"auto","messages":[{"role":"user","content":"my secret plan '),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}]}'),
    ]);
    await expectRefusedHarmlessly(bed, () => postRaw(bed, body), {
      status: 400,
      code: 'TM_INVALID_JSON',
      cause: /not valid UTF-8/,
      secret: 'my secret plan',
    });
  });

  it('broken JSON is refused without quoting the body in the log', async () => {
    await expectRefusedHarmlessly(
      bed,
      () => postRaw(bed, '{"model":"auto","messages":[{"role":"user","content":"my other secret'),
      {
        status: 400,
        code: 'TM_INVALID_JSON',
        cause: /not valid JSON/,
        secret: 'my other secret',
      },
    );
  });
});
