/**
 * The TLS options of the sidecar API. Beyond the certificate: session tickets keyed off the serving key, so that a
 * sidecar reconnecting to a restarted operator, or to another replica, resumes its TLS session instead of a full
 * handshake. Node's default keys are random per process: after a restart every one of 1,000 sidecars paid a full
 * handshake on the operator at once (docs/scale.md, the reconnect storm over HTTPS).
 */
import type { TlsOptions } from 'node:tls';
import { keyFromServingKey } from './tickets.js';

/** Domain separation from the config-stream tickets (tickets.ts), which are derived from the same key. */
const KEY_INFO = 'tiermesh sidecar API TLS session tickets v1';

/** Node's ticket key block: 16 bytes of key name, 16 of HMAC key, 16 of AES key. */
const TICKET_KEYS_BYTES = 48;

/**
 * How long a session stays resumable. Node's default, 5 minutes, is shorter than a config stream lives: the session a
 * sidecar kept from its last connection would be refused by the time the operator restarts. A day is far below
 * TLS 1.3's 7-day cap; the keys change with the serving key, so a rotated key ends every session made with the old.
 */
export const SESSION_TIMEOUT_SECONDS = 24 * 60 * 60;

/** The session ticket keys for a PEM private key: HKDF-SHA256 over its PKCS#8 DER form, the same on every replica. */
export function sessionTicketKeys(servingKeyPem: string): Buffer {
  return keyFromServingKey(servingKeyPem, KEY_INFO, TICKET_KEYS_BYTES);
}

/**
 * Options for the server and, on a certificate reload, server.setSecureContext. TLS 1.3 only: a resumed TLS 1.3
 * session still agrees a fresh ECDHE key, so whoever learns the ticket keys cannot read recorded sessions (a resumed
 * TLS 1.2 session has no such exchange); and learning them needs the serving key, which impersonates the operator
 * anyway. Every client of this port speaks TLS 1.3: sidecars (Node), the kubelet's probes (Go), curl.
 */
export function servingTlsOptions(tls: { cert: string; key: string }): TlsOptions {
  return {
    cert: tls.cert,
    key: tls.key,
    minVersion: 'TLSv1.3',
    ticketKeys: sessionTicketKeys(tls.key),
    sessionTimeout: SESSION_TIMEOUT_SECONDS,
  };
}
