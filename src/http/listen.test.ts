import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
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

  it("asks the kernel for the accept queue it is given (ss shows a listener's queue limit as Send-Q)", async () => {
    let ssOk = true;
    const queueOf = (url: string): number | undefined => {
      let out: string;
      try {
        out = execFileSync('ss', ['-ltnH', `sport = :${new URL(url).port}`], { encoding: 'utf8' });
      } catch {
        ssOk = false;
        return undefined;
      }
      return Number(out.trim().split(/\s+/)[2]);
    };
    const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
    const big = createServer();
    servers.push(big);
    const bigQueue = queueOf(await listen(big, '127.0.0.1', 0, 'http', 4096));
    const plain = createServer();
    servers.push(plain);
    const plainQueue = queueOf(await listen(plain, '127.0.0.1', 0));
    if (!ssOk) return; // no ss on this machine: nothing to read the queue with
    expect(bigQueue).toBe(Math.min(4096, somaxconn));
    expect(plainQueue).toBe(Math.min(511, somaxconn));
  });
});
