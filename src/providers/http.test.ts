import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { postUpstream, readCapped } from './http.js';
import { LocalError } from './types.js';

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
