import { createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { listen } from './listen.js';

const servers: ReturnType<typeof createServer>[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

describe('listen', () => {
  it('returns a reachable URL for IPv4 and brackets IPv6 hosts', async () => {
    const v4 = createServer((_q, r) => r.end('ok'));
    servers.push(v4);
    const u4 = await listen(v4, '127.0.0.1', 0);
    expect(u4).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await (await fetch(u4)).text()).toBe('ok');

    const v6 = createServer((_q, r) => r.end('ok6'));
    servers.push(v6);
    let u6: string;
    try {
      u6 = await listen(v6, '::1', 0);
    } catch {
      return; // no IPv6 loopback on this machine: nothing to check
    }
    expect(u6).toMatch(/^http:\/\/\[::1\]:\d+$/);
    expect(await (await fetch(u6)).text()).toBe('ok6');
  });

  it('rejects when the port is taken', async () => {
    const a = createServer();
    servers.push(a);
    const url = await listen(a, '127.0.0.1', 0);
    const b = createServer();
    await expect(listen(b, '127.0.0.1', Number(new URL(url).port))).rejects.toThrow(/EADDRINUSE/);
  });
});
