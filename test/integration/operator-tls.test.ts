/**
 * The sidecar API over TLS, over loopback with the real operator server and the sidecar's real operator client
 * (operatorFetch, ConfigStream): the config stream and its ACKs share one HTTP/2 connection; usage and allowances go
 * over HTTP/1.1, where a follower closes the connection; an HTTP/1.1-only client is still answered; and the TLS
 * session a sidecar kept resumes on a restarted operator or another replica with the same serving key, not with
 * another key. What this saves in a reconnect storm is measured in bench/scale.ts --https (docs/scale.md).
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { ConfigHub } from '../../src/operator/hub.js';
import { USAGE_PATH } from '../../src/operator/protocol.js';
import { createOperatorServer } from '../../src/operator/server.js';
import { SESSION_TIMEOUT_SECONDS, sessionTicketKeys } from '../../src/operator/serving-tls.js';
import { ticketKeyFrom } from '../../src/operator/tickets.js';
import { ConfigStream } from '../../src/sidecar/config-stream.js';
import { operatorFetch } from '../../src/sidecar/config-stream-operator.js';
import { generateCA, issueServingCert } from '../../src/webhook/certs.js';
import { recordingTarget } from '../helpers/snapshot-target.js';

type Pem = { certPem: string; keyPem: string };
let ca: Pem;
let serving: Pem;
let otherServing: Pem;
beforeAll(async () => {
  ca = await generateCA({ commonName: 'tiermesh-test-ca' });
  serving = await issueServingCert(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  otherServing = await issueServingCert(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
});

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

/**
 * An operator's sidecar API on loopback. `resumed` lists, per TLS connection, whether it resumed a session;
 * `versions`, per request, its HTTP version; `reviews`, the tokens it authenticated in full.
 */
async function operator(tls: Pem, opts: { leader?: boolean } = {}) {
  const hub = new ConfigHub();
  const reviews: string[] = [];
  const versions: string[] = [];
  const server = createOperatorServer(
    {
      hub,
      authenticate: async (token) => {
        reviews.push(token);
        return token === 'good' ? { namespace: 'team', serviceAccount: 'app' } : undefined;
      },
      ledger: {
        isLeader: () => opts.leader ?? true,
        report: async () => ({ applied: true }),
        allowance: async () => ({ grantUSD: 0, ttlMs: 0, remainingUSD: 0 }),
      },
      ready: () => true,
    },
    { cert: tls.certPem, key: tls.keyPem },
  );
  server.prependListener('request', (req: { httpVersion: string }) => versions.push(req.httpVersion));
  const resumed: boolean[] = [];
  server.on('secureConnection', (s: TLSSocket) => resumed.push(s.isSessionReused()));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const stop = () => {
    server.closeAllConnections();
    server.close();
  };
  cleanups.push(stop);
  return {
    port: (server.address() as AddressInfo).port,
    hub,
    reviews,
    versions,
    resumed,
    /** Ends the kept-alive connections, so the next request needs a new one (once the client has seen the end). */
    drop: async () => {
      server.closeAllConnections();
      await new Promise((r) => setTimeout(r, 50));
    },
    stop,
  };
}

async function probe(http: typeof fetch): Promise<void> {
  const res = await http('https://localhost/healthz');
  expect(res.status).toBe(200);
  await res.text();
  // TLS 1.3 sends its session ticket after the handshake: let it arrive before the next connection.
  await new Promise((r) => setTimeout(r, 50));
}

describe('the sidecar API over TLS', () => {
  test('a config stream and its ACKs share one HTTP/2 connection, authenticated once', async () => {
    const op = await operator(serving);
    op.hub.publish({ version: 'v1', namespace: 'team', routes: [], budgets: [] });
    const dir = mkdtempSync(join(tmpdir(), 'tm-tls-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'token'), 'good');
    const store = recordingTarget();
    const stream = new ConfigStream({
      operator: 'https://localhost',
      tokenFile: join(dir, 'token'),
      sidecarId: 'pod-a',
      store,
      fetch: operatorFetch(ca.certPem, { host: '127.0.0.1', port: op.port }),
    });
    stream.start();
    cleanups.push(() => void stream.stop());
    for (const v of ['v2', 'v3']) {
      await vi.waitFor(() => expect(op.hub.localStats('team').acked).toBe(1), { timeout: 5000 });
      op.hub.publish({ version: v, namespace: 'team', routes: [], budgets: [] });
    }
    await vi.waitFor(() => expect(store.versions.at(-1)).toBe('v3'), { timeout: 5000 });
    await vi.waitFor(() => expect(op.hub.localStats('team').acked).toBe(1), { timeout: 5000 });
    // The stream and three ACKs: one TLS connection, all HTTP/2, one TokenReview (the stream's).
    expect(op.versions).toEqual(['2.0', '2.0', '2.0', '2.0']);
    expect(op.resumed).toHaveLength(1);
    expect(op.reviews).toEqual(['good']);
  });

  test("the leader's requests go over HTTP/1.1, and a follower closes their connection", async () => {
    const follower = await operator(serving, { leader: false });
    const leaderHttp = operatorFetch(ca.certPem, { host: '127.0.0.1', port: follower.port }, { http1: true });
    const res = await leaderHttp(`https://localhost${USAGE_PATH}`, {
      method: 'POST',
      headers: { authorization: 'Bearer good', 'content-type': 'application/json' },
      body: JSON.stringify({ sidecarId: 'pod-a', seq: 1, records: [] }),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get('connection')).toBe('close');
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('TM_NOT_READY');
    expect(follower.versions).toEqual(['1.1']);
  });

  test('a client that offers only HTTP/1.1 (a probe, curl --http1.1) is answered', async () => {
    const op = await operator(serving);
    const { status, body, alpn } = await new Promise<{ status: number; body: string; alpn: unknown }>(
      (resolve, reject) => {
        const req = httpsRequest(
          { host: '127.0.0.1', port: op.port, path: '/healthz', servername: 'localhost', ca: ca.certPem },
          (res) => {
            const alpn = (res.socket as TLSSocket).alpnProtocol;
            let body = '';
            res.on('data', (c) => {
              body += c;
            });
            res.on('end', () => resolve({ status: res.statusCode!, body, alpn }));
          },
        );
        req.on('error', reject);
        req.end();
      },
    );
    expect([status, body, alpn]).toEqual([200, 'ok', false]);
    expect(op.versions).toEqual(['1.1']);
  });

  test('a client that offers only TLS 1.2 is refused', async () => {
    const op = await operator(serving);
    const failed = await new Promise<Error>((resolve) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port: op.port,
          path: '/healthz',
          servername: 'localhost',
          ca: ca.certPem,
          maxVersion: 'TLSv1.2',
        },
        () => resolve(new Error('answered')),
      );
      req.on('error', resolve);
      req.end();
    });
    expect(failed.message).toMatch(/protocol version|alert/i);
    expect(op.versions).toEqual([]);
  });
});

describe('session ticket keys', () => {
  test('are the same for the same serving key, another for another, and apart from the stream tickets', () => {
    const keys = sessionTicketKeys(serving.keyPem);
    expect(keys).toHaveLength(48);
    expect(sessionTicketKeys(serving.keyPem).equals(keys)).toBe(true);
    expect(sessionTicketKeys(otherServing.keyPem).equals(keys)).toBe(false);
    expect(keys.subarray(0, 32).equals(ticketKeyFrom(serving.keyPem))).toBe(false);
    expect(SESSION_TIMEOUT_SECONDS).toBeGreaterThan(300);
  });
});

describe('a sidecar resumes its TLS session', () => {
  test('on a second connection, on a restarted operator with the same key, and not on one with another key', async () => {
    // Every operator listens on a port of its own here; the sidecar dials the current one under one host name
    // (connectTo), as it reaches a restarted operator or another replica through the one Service name.
    let current = await operator(serving);
    const connectTo = {
      host: '127.0.0.1',
      get port() {
        return current.port;
      },
    };
    const http = operatorFetch(ca.certPem, connectTo);
    const first = current;

    await probe(http);
    await first.drop();
    await probe(http);
    expect(first.resumed).toEqual([false, true]);

    first.stop();
    await new Promise((r) => setTimeout(r, 50));
    const restarted = await operator(serving);
    current = restarted;
    await probe(http);
    expect(restarted.resumed).toEqual([true]);

    restarted.stop();
    await new Promise((r) => setTimeout(r, 50));
    const rekeyed = await operator(otherServing);
    current = rekeyed;
    await probe(http);
    expect(rekeyed.resumed).toEqual([false]);
  });
});
