import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { bundleFromSecretData, bundleToSecretData, judgeBundle, renewBundle, splitPem } from './certs.js';

const DAY = 86_400_000;
const req = { dnsNames: ['tiermesh-operator.tiermesh-system.svc', 'localhost'], ipAddresses: ['127.0.0.1'] };

/** Completes a real TLS handshake against `bundle`'s serving cert, trusting only `ca`; resolves the verify error, if any. */
async function handshake(cert: string, key: string, ca: string, servername: string): Promise<string | null> {
  const server = tls.createServer({ cert, key }, (s) => s.end());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port, ca, servername }, () => {
        s.destroy();
        resolve(null);
      });
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
  } finally {
    server.close();
  }
}

describe('webhook certificates', () => {
  it('issues a CA and serving cert that a TLS client trusting only the CA accepts', async () => {
    const b = await renewBundle(undefined, req);
    expect(judgeBundle(b, req)).toEqual({ action: 'keep' });
    expect(
      await handshake(b.tlsCert, b.tlsKey, b.caBundle, 'tiermesh-operator.tiermesh-system.svc'),
    ).toBeNull();
    expect(await handshake(b.tlsCert, b.tlsKey, b.caBundle, 'other.example')).toBe(
      'ERR_TLS_CERT_ALTNAME_INVALID',
    );
    const stranger = await renewBundle(undefined, req);
    expect(await handshake(b.tlsCert, b.tlsKey, stranger.caBundle, 'localhost')).toBe(
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    );
  });

  it('renews the serving cert from the same CA in the last third of its life', async () => {
    // Issued 25 days ago, so "later" is now and every certificate involved is valid for a real handshake.
    const b = await renewBundle(undefined, {
      ...req,
      servingValidityDays: 30,
      now: new Date(Date.now() - 25 * DAY),
    });
    expect(judgeBundle(b, { ...req, now: new Date(Date.now() - 10 * DAY) })).toEqual({ action: 'keep' });
    const later = { ...req, now: new Date() };
    expect(judgeBundle(b, later).action).toBe('renew-serving');
    const renewed = await renewBundle(b, later);
    expect(renewed.caCert).toBe(b.caCert);
    expect(renewed.tlsCert).not.toBe(b.tlsCert);
    expect(await handshake(renewed.tlsCert, renewed.tlsKey, b.caBundle, 'localhost')).toBeNull();
  });

  it('renews the CA before expiry and keeps the old CA in the bundle, so both serving certs verify', async () => {
    const b = await renewBundle(undefined, {
      ...req,
      caValidityDays: 30,
      now: new Date(Date.now() - 25 * DAY),
    });
    const later = { ...req, now: new Date() };
    expect(judgeBundle(b, later).action).toBe('renew-ca');
    const renewed = await renewBundle(b, later);
    expect(renewed.caCert).not.toBe(b.caCert);
    expect(splitPem(renewed.caBundle)).toEqual([renewed.caCert, b.caCert]);
    expect(await handshake(renewed.tlsCert, renewed.tlsKey, renewed.caBundle, 'localhost')).toBeNull();
    expect(await handshake(b.tlsCert, b.tlsKey, renewed.caBundle, 'localhost')).toBeNull();
  });

  it('asks for a new serving cert when a required name is missing, and a new CA when data is unreadable', async () => {
    const b = await renewBundle(undefined, req);
    expect(judgeBundle(b, { dnsNames: [...req.dnsNames, 'new.svc'] })).toMatchObject({
      action: 'renew-serving',
    });
    expect(judgeBundle({ ...b, caCert: 'junk' }, req)).toMatchObject({ action: 'renew-ca' });
    expect(judgeBundle(bundleFromSecretData(bundleToSecretData(b)), req)).toEqual({ action: 'keep' });
  });
});
