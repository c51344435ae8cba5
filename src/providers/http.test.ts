import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readCapped } from './http.js';

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
