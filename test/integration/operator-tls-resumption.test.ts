/**
 * TLS session resumption between a sidecar and the sidecar API, over loopback with the real operator server and the
 * sidecar's real operator client (operatorFetch): the session a sidecar kept resumes on a restarted operator or
 * another replica with the same serving key, not with another key, and a second connection to the same operator
 * resumes the first one's session. What resumption saves is measured in bench/scale.ts --https (docs/scale.md).
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { ConfigHub } from '../../src/operator/hub.js';
import { createOperatorServer } from '../../src/operator/server.js';
import { SESSION_TIMEOUT_SECONDS, sessionTicketKeys } from '../../src/operator/serving-tls.js';
import { ticketKeyFrom } from '../../src/operator/tickets.js';
import { operatorFetch } from '../../src/sidecar/config-stream-operator.js';
import { generateCA, issueServingCert } from '../../src/webhook/certs.js';

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

/** An operator's sidecar API on loopback; `resumed` lists, per TLS connection, whether it resumed a session. */
async function operator(tls: Pem) {
  const server = createOperatorServer(
    {
      hub: new ConfigHub(),
      authenticate: async () => undefined,
      ledger: {
        isLeader: () => true,
        report: async () => ({ applied: true }),
        allowance: async () => ({ grantUSD: 0, ttlMs: 0, remainingUSD: 0 }),
      },
      ready: () => true,
    },
    { cert: tls.certPem, key: tls.keyPem },
  );
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
    resumed,
    /** Ends the kept-alive connections, so the next request needs a new one. */
    drop: () => server.closeAllConnections(),
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
    first.drop();
    await probe(http);
    expect(first.resumed).toEqual([false, true]);

    first.stop();
    const restarted = await operator(serving);
    current = restarted;
    await probe(http);
    expect(restarted.resumed).toEqual([true]);

    restarted.stop();
    const rekeyed = await operator(otherServing);
    current = rekeyed;
    await probe(http);
    expect(rekeyed.resumed).toEqual([false]);
  });
});
