/** Request of death: headers over 16 KB. node:http refuses them before routing; the client still gets a JSON 431. */
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { ask, useFaultBed } from './bed.js';

const bed = useFaultBed({}, 'all');

function post(headers: Record<string, string>): Promise<{ status: number; type: string; body: string }> {
  const url = new URL(`${bed.sidecar.baseURL}/chat/completions`);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }),
        );
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: 'hi' }] }));
  });
}

describe('request of death: oversized headers', () => {
  it('a 20 KB header: 431 with the registry JSON body, nothing sent, no breaker moved', async () => {
    const r = await post({ 'x-padding': 'p'.repeat(20_000) });
    expect(r.status).toBe(431);
    expect(r.type).toBe('application/json');
    expect(JSON.parse(r.body)).toEqual({
      error: {
        message: 'request headers exceed 16384 bytes',
        type: 'invalid_request_error',
        param: null,
        code: 'TM_HEADERS_TOO_LARGE',
      },
    });
    expect(bed.flaky.calls.length + bed.healthy.calls.length).toBe(0);
    expect(bed.sidecar.breakers.states().every((s) => s.state === 'closed')).toBe(true);
    expect(bed.sidecar.logs.byMsg('request refused before routing').at(-1)).toMatchObject({
      code: 'HPE_HEADER_OVERFLOW',
    });
    expect((await ask(bed)).response.status).toBe(200);
  });

  it('headers just under the limit are served', async () => {
    const r = await post({ 'x-padding': 'p'.repeat(12_000) });
    expect(r.status).toBe(200);
  });
});
