import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type RequestListener } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listen } from '../http/listen.js';
import { sseEvent } from '../providers/sse.js';
import { ConfigStream, type SnapshotTarget, ticketOf } from './config-stream.js';

describe('ticketOf', () => {
  it('takes the ticket of a ticket event and nothing else', () => {
    expect(ticketOf('{"ticket":"abc.def"}')).toBe('abc.def');
    expect(ticketOf('{"ticket":""}')).toBeUndefined();
    expect(ticketOf('{"ticket":42}')).toBeUndefined();
    expect(ticketOf(`{"ticket":"${'a'.repeat(3000)}"}`)).toBeUndefined();
    expect(ticketOf('not json')).toBeUndefined();
  });
});

const store = (): SnapshotTarget & { version: string | undefined } => {
  const s = {
    version: undefined as string | undefined,
    get current() {
      return s.version ? { snapshot: { version: s.version } } : undefined;
    },
    apply(input: unknown) {
      const v = (input as { version: string }).version;
      const changed = v !== s.version;
      s.version = v;
      return { ok: true as const, version: v, changed };
    },
  };
  return s;
};

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const fn of cleanup.splice(0)) fn();
});

/** An operator stand-in on a loopback port, closed after the test: its URL. */
async function fakeOperator(handler: RequestListener): Promise<string> {
  const server = createServer(handler);
  cleanup.push(() => {
    server.closeAllConnections();
    server.close();
  });
  return listen(server, '127.0.0.1', 0);
}

/** A token file holding `token` in a directory removed after the test. */
function tokenFileWith(token: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tm-cs-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'token');
  writeFileSync(file, token);
  return file;
}

describe('ConfigStream resumption', () => {
  it('presents the last ticket on reconnect with the token it is bound to, and ACKs with the stream token', async () => {
    const tokenFile = tokenFileWith('token-1');
    const streams: IncomingMessage['headers'][] = [];
    const acks: Array<{ authorization: string | undefined; body: string }> = [];
    const operator = await fakeOperator((req, res) => {
      if (req.url?.startsWith('/v1/config/stream')) {
        streams.push(req.headers);
        const n = streams.length;
        res.writeHead(200, { 'content-type': 'text/event-stream', 'x-tiermesh-stream': `stream-${n}` });
        res.write(sseEvent('ticket', { ticket: `ticket-${n}` }));
        res.write(sseEvent('snapshot', { version: `v${n}` }, `v${n}`));
        // The first stream drops (an operator restart); the second stays open.
        if (n === 1) setTimeout(() => res.destroy(), 50);
        return;
      }
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        acks.push({ authorization: req.headers.authorization, body });
        // The kubelet rotates the token while the first stream is open.
        writeFileSync(tokenFile, 'token-2');
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      });
    });
    const s = new ConfigStream({
      operator,
      tokenFile,
      sidecarId: 'pod-a',
      store: store(),
      baseBackoffMs: 10,
      reconnectMaxMs: 20,
    });
    s.start();
    await expect.poll(() => acks.length, { timeout: 5_000 }).toBe(2);
    await s.stop();

    expect(streams[0]!['x-tiermesh-ticket']).toBeUndefined();
    expect(streams[1]!['x-tiermesh-ticket']).toBe('ticket-1');
    // Each stream's ACK carries that stream's token and handle, whatever the file says by then.
    expect(acks[0]!.authorization).toBe('Bearer token-1');
    expect(JSON.parse(acks[0]!.body)).toMatchObject({ version: 'v1', stream: 'stream-1', ok: true });
    // The ticket is bound to token-1: the reconnect presents that token with it, not the file's rotated one.
    expect(streams[1]!.authorization).toBe('Bearer token-1');
    expect(acks[1]!.authorization).toBe('Bearer token-1');
    expect(JSON.parse(acks[1]!.body)).toMatchObject({ version: 'v2', stream: 'stream-2' });
  });

  /** A token within the client's expiry margin (30 s left) and the fresh one a rotation writes (an hour left). */
  const rotatingTokens = () => {
    const jwt = (exp: number, n: string) =>
      ['h', Buffer.from(JSON.stringify({ exp, n })).toString('base64url'), 's'].join('.');
    const now = Math.floor(Date.now() / 1000);
    return { expiring: jwt(now + 30, 'a'), fresh: jwt(now + 3600, 'b') };
  };

  it('ACKs with the token file once the stream token is about to expire', async () => {
    const { expiring, fresh } = rotatingTokens();
    const tokenFile = tokenFileWith(expiring);
    const acks: Array<string | undefined> = [];
    const operator = await fakeOperator((req, res) => {
      if (req.url?.startsWith('/v1/config/stream')) {
        writeFileSync(tokenFile, fresh);
        res.writeHead(200, { 'content-type': 'text/event-stream', 'x-tiermesh-stream': 's' });
        res.write(sseEvent('snapshot', { version: 'v1' }, 'v1'));
        return;
      }
      acks.push(req.headers.authorization);
      req.resume();
      req.on('end', () => res.writeHead(200).end('{"ok":true}'));
    });
    const s = new ConfigStream({ operator, tokenFile, sidecarId: 'pod-a', store: store() });
    s.start();
    await expect.poll(() => acks.length, { timeout: 5_000 }).toBe(1);
    await s.stop();
    expect(acks[0]).toBe(`Bearer ${fresh}`);
  });

  /** A server whose streams each hand out a ticket and drop at once; `status(n)` answers stream n otherwise. */
  const dropping = async (tokenFile: string, rotateTo: string, status: (n: number) => number) => {
    const streams: IncomingMessage['headers'][] = [];
    const operator = await fakeOperator((req, res) => {
      if (req.url?.startsWith('/v1/config/stream')) {
        streams.push(req.headers);
        const n = streams.length;
        const code = status(n);
        if (code !== 200) return res.writeHead(code).end('{"error":"no"}');
        writeFileSync(tokenFile, rotateTo);
        res.writeHead(200, { 'content-type': 'text/event-stream', 'x-tiermesh-stream': `stream-${n}` });
        res.write(sseEvent('ticket', { ticket: `ticket-${n}` }));
        setTimeout(() => res.destroy(), 20);
        return;
      }
      req.resume();
      req.on('end', () => res.writeHead(200).end('{"ok":true}'));
    });
    const s = new ConfigStream({
      operator,
      tokenFile,
      sidecarId: 'pod-a',
      store: store(),
      baseBackoffMs: 10,
      reconnectMaxMs: 20,
      maxBackoffMs: 20,
    });
    return { s, streams };
  };

  it('reconnects with the file token and no ticket once the stream token is about to expire', async () => {
    const { expiring, fresh } = rotatingTokens();
    const tokenFile = tokenFileWith(expiring);
    const { s, streams } = await dropping(tokenFile, fresh, () => 200);
    s.start();
    await expect.poll(() => streams.length, { timeout: 5_000 }).toBeGreaterThanOrEqual(3);
    await s.stop();
    expect(streams[0]!.authorization).toBe(`Bearer ${expiring}`);
    // Its ticket is for a token within the margin of its expiry: not worth presenting.
    expect(streams[1]!.authorization).toBe(`Bearer ${fresh}`);
    expect(streams[1]!['x-tiermesh-ticket']).toBeUndefined();
    // The fresh token's stream handed out ticket-2, bound to it: the next reconnect presents both.
    expect(streams[2]!.authorization).toBe(`Bearer ${fresh}`);
    expect(streams[2]!['x-tiermesh-ticket']).toBe('ticket-2');
  });

  it('drops the ticket and the stream token when the operator refuses them', async () => {
    const tokenFile = tokenFileWith('token-1');
    const { s, streams } = await dropping(tokenFile, 'token-2', (n) => (n === 2 ? 401 : 200));
    s.start();
    await expect.poll(() => streams.length, { timeout: 5_000 }).toBeGreaterThanOrEqual(3);
    await s.stop();
    expect(streams[1]!.authorization).toBe('Bearer token-1');
    expect(streams[1]!['x-tiermesh-ticket']).toBe('ticket-1');
    expect(streams[2]!.authorization).toBe('Bearer token-2');
    expect(streams[2]!['x-tiermesh-ticket']).toBeUndefined();
  });
});
