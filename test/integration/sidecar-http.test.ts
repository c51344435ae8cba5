/** The HTTP shell: every answer, routed or not, carries x-request-id and a registry error body. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fixture, startOpenAIFixture } from '../fixtures/providers/index.js';
import { routeConfig } from '../helpers/config.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

let up: Fixture;
let sidecar: TestSidecar;
beforeAll(async () => {
  up = await startOpenAIFixture();
  sidecar = await startTestSidecar(
    routeConfig({
      upstreams: [{ name: 'up', baseURL: up.baseURL }],
      cheap: [{ name: 'small-model', upstreams: ['up'] }],
      premium: [{ name: 'big-model', upstreams: ['up'] }],
    }),
  );
});
afterAll(async () => {
  await sidecar.close();
  await up.close();
});

describe('sidecar HTTP shell', () => {
  it('404: registry body and an x-request-id, the client one echoed when sane', async () => {
    const res = await fetch(`${sidecar.url}/v1/nope?secret=1`, { headers: { 'x-request-id': 'req-42' } });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-request-id')).toBe('req-42');
    expect(await res.json()).toEqual({
      error: {
        message: 'no route for GET /v1/nope',
        type: 'invalid_request_error',
        param: null,
        code: 'TM_NOT_FOUND',
      },
    });
    const fresh = await fetch(`${sidecar.url}/elsewhere`, {
      headers: { 'x-request-id': 'bad id with spaces' },
    });
    expect(fresh.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('GET /v1/models/{id} with broken percent-encoding: a 400 naming model, not an internal error', async () => {
    const res = await fetch(`${sidecar.baseURL}/models/%E0%A4%A`);
    expect(res.status).toBe(400);
    expect(res.headers.get('x-request-id')).toBeTruthy();
    expect(await res.json()).toEqual({
      error: {
        message: 'the model id in the path is not valid percent-encoding',
        type: 'invalid_request_error',
        param: 'model',
        code: 'TM_INVALID_REQUEST',
      },
    });
    expect(sidecar.logs.lines.filter((l) => Number(l['level']) >= 50)).toEqual([]);
  });

  it('405: registry body with Allow', async () => {
    const res = await fetch(`${sidecar.baseURL}/chat/completions`);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(res.headers.get('x-request-id')).toBeTruthy();
    expect((await res.json()) as unknown).toMatchObject({ error: { code: 'TM_METHOD_NOT_ALLOWED' } });
  });

  it('unknown model: the client sees the name, the log only its length and a hash', async () => {
    const name = 'please-summarize-my-medical-record';
    const res = await fetch(`${sidecar.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: name, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain(name);
    const line = sidecar.logs.byMsg('request').at(-1);
    expect(line).toMatchObject({ status: 404, error: { code: 'TM_MODEL_NOT_FOUND' } });
    expect(String((line?.['error'] as { message?: string } | undefined)?.message)).toMatch(
      /unknown model \(34 chars, sha256 [0-9a-f]{12}\)/,
    );
    expect(sidecar.logs.raw.join('\n')).not.toContain(name);
  });
});
