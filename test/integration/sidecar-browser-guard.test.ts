/**
 * The loopback API and web pages in the same machine's browser, over real sockets: a cross-site page's "simple" POST
 * (no preflight: no content type) and a DNS-rebound host name are refused before anything is spent; SDK and
 * server-side clients (no Origin, a loopback Host) are not affected.
 */
import { request } from 'node:http';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fixture, startOpenAIFixture } from '../fixtures/providers/index.js';
import { routeConfig, SIMPLE_PROMPT } from '../helpers/config.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

let up: Fixture;
let sc: TestSidecar;
beforeAll(async () => {
  up = await startOpenAIFixture();
  sc = await startTestSidecar(
    routeConfig({
      upstreams: [{ name: 'u', baseURL: up.baseURL }],
      cheap: [{ name: 'small', upstreams: ['u'] }],
      premium: [{ name: 'big', upstreams: ['u'] }],
    }),
  );
});
afterAll(async () => {
  await sc.close(1000);
  await up.close();
});

/** A raw request, so the Host header is whatever we say (fetch sets its own). */
function send(
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; body: string }> {
  const { port } = new URL(sc.url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: body === undefined ? 'GET' : 'POST', headers },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const chat = JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: SIMPLE_PROMPT }] });

describe('the browser guard', () => {
  it("refuses a cross-site page's no-preflight POST (no content type) before any upstream call", async () => {
    const calls = up.calls.length;
    const r = await send(
      '/v1/chat/completions',
      { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
      chat,
    );
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'TM_FORBIDDEN' } });
    expect(up.calls.length).toBe(calls);
    const noOrigin = await send('/v1/chat/completions', { 'sec-fetch-site': 'cross-site' }, chat);
    expect(noOrigin.status).toBe(403);
  });

  it('refuses a DNS-rebound host name on every path, reads included', async () => {
    for (const path of ['/v1/models', '/metrics', '/healthz'])
      expect((await send(path, { host: 'rebind.evil.example:4000' })).status).toBe(403);
    expect(
      (
        await send(
          '/v1/chat/completions',
          { host: 'rebind.evil.example', 'content-type': 'application/json' },
          chat,
        )
      ).status,
    ).toBe(403);
  });

  it('serves SDKs, server-side clients and pages of this machine', async () => {
    const client = new OpenAI({ baseURL: sc.baseURL, apiKey: 'x', maxRetries: 0 });
    const done = await client.chat.completions.create({
      model: 'auto',
      messages: [{ role: 'user', content: SIMPLE_PROMPT }],
    });
    expect(done.choices[0]?.message.content).toBeTruthy();
    expect((await send('/v1/models', { host: 'localhost:4000' })).status).toBe(200);
    const local = await send(
      '/v1/chat/completions',
      { origin: 'http://localhost:3000', 'sec-fetch-site': 'same-site', 'content-type': 'application/json' },
      chat,
    );
    expect(local.status).toBe(200);
  });
});
