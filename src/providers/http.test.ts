import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { sourceText } from './chat-answer-text.js';
import { postUpstream, postUpstreamJson, readCapped } from './http.js';
import { LocalError, type ProviderError } from './types.js';

describe('readCapped', () => {
  it('reads one chunk, many chunks (split inside a multi-byte character) and plain Uint8Arrays', async () => {
    expect(await readCapped(Readable.from([Buffer.from('{"a":1}')]), 100)).toBe('{"a":1}');
    const euro = Buffer.from('€uro');
    const split = [euro.subarray(0, 1), euro.subarray(1, 3), euro.subarray(3)];
    expect(await readCapped(Readable.from(split), 100)).toBe('€uro');
    expect(await readCapped(Readable.from([new Uint8Array([104, 105])]), 100)).toBe('hi');
    expect(await readCapped(Readable.from([]), 100)).toBe('');
  });

  it('stops at the limit and keeps what fit', async () => {
    const body = Readable.from([Buffer.from('abc'), Buffer.from('def'), Buffer.from('ghi')]);
    expect(await readCapped(body, 7)).toBe('abcdef');
    expect(body.destroyed).toBe(true);
  });
});

describe('postUpstream', () => {
  it('refuses a body our own JSON.stringify cannot serialize as a LocalError, before any socket', async () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 20_000; i++) deep = [deep];
    const err = await postUpstream(
      {
        provider: 'p',
        vendor: 'openai',
        // Nothing listens here; a connection attempt would fail as `connection`, not as LocalError.
        url: 'http://127.0.0.1:9/v1/chat/completions',
        headers: {},
        body: { messages: [{ role: 'user', content: [{ type: 'x', y: deep }] }] },
        secrets: [],
      },
      { signal: new AbortController().signal, firstByteTimeoutMs: 1000 },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LocalError);
    expect((err as LocalError).blame).toBe('client');
    expect((err as LocalError).message).toMatch(/Maximum call stack/);
  });
});

describe('postUpstreamJson', () => {
  const servers: http.Server[] = [];
  afterEach(() => {
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      s.close();
    }
  });
  async function serve(handler: http.RequestListener): Promise<string> {
    const s = http.createServer(handler);
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(s.address() as AddressInfo).port}/v1/chat/completions`;
  }
  const post = (url: string, opts: { firstByteTimeoutMs?: number; limit?: number } = {}) =>
    postUpstreamJson(
      {
        provider: 'p',
        vendor: 'openai',
        url,
        headers: { 'x-k': 'v' },
        body: { model: 'm', messages: [] },
        secrets: [],
      },
      {
        signal: new AbortController().signal,
        firstByteTimeoutMs: opts.firstByteTimeoutMs ?? 5000,
      },
      opts.limit,
    ).then(
      (v) => ({ ok: true as const, v }),
      (e: unknown) => ({ ok: false as const, e: e as ProviderError }),
    );

  it('sends the JSON body with our headers and parses a JSON answer sent in pieces', async () => {
    let seen: { headers: http.IncomingHttpHeaders; body: string } | undefined;
    const url = await serve((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        seen = { headers: req.headers, body };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"a":');
        setTimeout(() => res.end('"€"}'), 10);
      });
    });
    const answer = await post(url);
    expect(answer).toEqual({ ok: true, v: { a: '€' } });
    // Parsed plainly (embeddings): no second copy of the text kept, nothing frozen; only the chat path does that.
    const v = (answer as { v: object }).v;
    expect(sourceText(v)).toBeUndefined();
    expect(Object.isFrozen(v)).toBe(false);
    expect(JSON.parse(seen!.body)).toEqual({ model: 'm', messages: [] });
    expect(seen!.headers['content-type']).toBe('application/json');
    expect(seen!.headers['x-k']).toBe('v');
  });

  it('classifies an error status with its body, an answer that is not JSON, and one over the limit', async () => {
    const url = await serve((req, res) => {
      req.resume();
      if (req.url?.includes('429')) {
        res.writeHead(429, { 'retry-after': '7', 'content-type': 'application/json' });
        return res.end(JSON.stringify({ error: { message: 'slow down', type: 'rate_limit' } }));
      }
      if (req.url?.includes('garbage')) return res.writeHead(200).end('<html>');
      res.writeHead(200).end(JSON.stringify({ big: 'x'.repeat(1000) }));
    });
    const limited = await post(url.replace('completions', 'completions?429'));
    expect(limited.ok || limited.e.reason).toBe('rate_limited');
    expect(limited.ok || limited.e.retryAfter).toBe(7);
    const garbage = await post(url.replace('completions', 'completions?garbage'));
    expect(garbage.ok || garbage.e.reason).toBe('bad_response');
    const big = await post(url, { limit: 100 });
    expect(big.ok || big.e.reason).toBe('bad_response');
  });

  it('gives up at the first-byte deadline with a timeout', async () => {
    const url = await serve((req) => req.resume());
    const r = await post(url, { firstByteTimeoutMs: 50 });
    expect(r.ok || r.e.reason).toBe('timeout');
  });
});
