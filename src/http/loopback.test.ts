import { describe, expect, it } from 'vitest';
import { browserRefusal, isLoopbackHost } from './loopback.js';

describe('isLoopbackHost', () => {
  it('is 127.0.0.0/8, ::1 (also IPv4-mapped, bracketed) and localhost, nothing else', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST'])
      expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', '127.0.0.1.example.com', 'example.com', ''])
      expect(isLoopbackHost(h)).toBe(false);
  });
});

describe('browserRefusal', () => {
  it('lets SDK and server-side requests through: loopback Host, no Origin', () => {
    expect(browserRefusal({ host: '127.0.0.1:4000' })).toBeUndefined();
    expect(browserRefusal({ host: 'localhost:4000' })).toBeUndefined();
    expect(browserRefusal({ host: '[::1]:4000' })).toBeUndefined();
    expect(browserRefusal({})).toBeUndefined();
    // A page served from this machine (a local dev UI) may call it.
    expect(
      browserRefusal({
        host: '127.0.0.1:4000',
        origin: 'http://localhost:3000',
        'sec-fetch-site': 'same-site',
      }),
    ).toBeUndefined();
  });

  it('refuses a rebound host name, another origin, an opaque origin and a cross-site fetch', () => {
    expect(browserRefusal({ host: 'rebind.evil.example:4000' })).toMatch(/Host header/);
    expect(browserRefusal({ host: '10.0.0.5:4000' })).toMatch(/Host header/);
    expect(browserRefusal({ host: '127.0.0.1:4000', origin: 'https://evil.example' })).toMatch(
      /other origins/,
    );
    expect(browserRefusal({ host: '127.0.0.1:4000', origin: 'null' })).toMatch(/other origins/);
    expect(browserRefusal({ host: '127.0.0.1:4000', 'sec-fetch-site': 'cross-site' })).toMatch(/cross-site/);
  });
});
