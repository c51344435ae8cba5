/**
 * The real ConfigStream client against the real operator server over loopback: a stream is authenticated once and
 * the ACKs for it ride on that (no authentication per ACK); a rotated token or a forged stream handle falls back to
 * full authentication; a sidecar that lost the operator reconnects on its own.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { Snapshot } from '../../src/api/snapshot.js';
import { ConfigHub } from '../../src/operator/hub.js';
import { ACK_PATH } from '../../src/operator/protocol.js';
import { createOperatorServer } from '../../src/operator/server.js';
import { StreamSessions } from '../../src/operator/sessions.js';
import { ConfigStream } from '../../src/sidecar/config-stream.js';
import { recordingTarget } from '../helpers/snapshot-target.js';
import { until } from '../helpers/until.js';

const snap = (version: string): Snapshot => ({ version, namespace: 'team', routes: [], budgets: [] });

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function operator(port = 0) {
  const hub = new ConfigHub();
  const sessions = new StreamSessions();
  const calls: string[] = [];
  const server = createOperatorServer({
    hub,
    sessions,
    authenticate: async (token) => {
      calls.push(token);
      return token.startsWith('good') ? { namespace: 'team', serviceAccount: 'app' } : undefined;
    },
    ledger: {
      isLeader: () => true,
      report: async () => ({ applied: true }),
      allowance: async () => ({ grantUSD: 0, ttlMs: 0, remainingUSD: 0 }),
    },
    ready: () => true,
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const close = async () => {
    server.closeAllConnections();
    server.close();
  };
  return { hub, sessions, calls, server, close, port: (server.address() as AddressInfo).port };
}

describe('config stream authentication', () => {
  test('one authentication per stream; every ACK is bound to it', async () => {
    const op = await operator();
    cleanups.push(op.close);
    op.hub.publish(snap('v1'));
    const dir = mkdtempSync(join(tmpdir(), 'tm-auth-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'token'), 'good-1');
    const store = recordingTarget();
    const stream = new ConfigStream({
      operator: `http://127.0.0.1:${op.port}`,
      tokenFile: join(dir, 'token'),
      sidecarId: 'pod-a',
      store,
    });
    stream.start();
    cleanups.push(() => stream.stop());
    await until(() => op.hub.localStats('team').acked === 1, 'first ACK');
    for (const v of ['v2', 'v3', 'v4']) {
      op.hub.publish(snap(v));
      await until(() => op.hub.localStats('team').acked === 1 && store.versions.at(-1) === v, `ACK of ${v}`);
    }
    expect(store.versions).toEqual(['v1', 'v2', 'v3', 'v4']);
    // The stream's own request was authenticated; none of the four ACKs were.
    expect(op.calls).toEqual(['good-1']);
    expect(op.sessions.size()).toBe(1);
  });

  test('an ACK with a rotated token, a forged handle or another sidecar id is authenticated in full', async () => {
    const op = await operator();
    cleanups.push(op.close);
    op.hub.publish(snap('v1'));
    const res = await fetch(`http://127.0.0.1:${op.port}/v1/config/stream?sidecar=pod-a`, {
      headers: { authorization: 'Bearer good-1' },
    });
    const handle = res.headers.get('x-tiermesh-stream')!;
    expect(handle).toBeTruthy();
    const ack = async (token: string, body: object) => {
      const r = await fetch(`http://127.0.0.1:${op.port}${ACK_PATH}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ version: 'v1', ok: true, ...body }),
      });
      await r.arrayBuffer();
      return r.status;
    };
    expect(await ack('good-1', { sidecarId: 'pod-a', stream: handle })).toBe(200);
    expect(op.calls).toEqual(['good-1']);
    expect(await ack('good-2', { sidecarId: 'pod-a', stream: handle })).toBe(200);
    expect(await ack('bad', { sidecarId: 'pod-a', stream: 'forged' })).toBe(401);
    expect(await ack('bad', { sidecarId: 'pod-b', stream: handle })).toBe(401);
    expect(await ack('good-1', { sidecarId: 'pod-a', stream: handle, namespace: 'other' })).toBe(403);
    expect(op.calls).toEqual(['good-1', 'good-2', 'bad', 'bad']);
    await res.body?.cancel();
    await until(() => op.sessions.size() === 0, 'stream closed');
    // A closed stream's handle no longer vouches for anything.
    expect(await ack('bad', { sidecarId: 'pod-a', stream: handle })).toBe(401);
  });

  test('a sidecar whose operator went away reconnects by itself once it is back', async () => {
    const op = await operator();
    op.hub.publish(snap('v1'));
    const dir = mkdtempSync(join(tmpdir(), 'tm-auth-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'token'), 'good-1');
    const store = recordingTarget();
    const stream = new ConfigStream({
      operator: `http://127.0.0.1:${op.port}`,
      tokenFile: join(dir, 'token'),
      sidecarId: 'pod-a',
      store,
      baseBackoffMs: 10,
      reconnectMaxMs: 50,
    });
    stream.start();
    cleanups.push(() => stream.stop());
    await until(() => op.hub.localStats('team').acked === 1, 'first ACK');
    await op.close();
    await until(() => !stream.connected, 'stream lost');
    const again = await operator(op.port);
    cleanups.push(again.close);
    again.hub.publish(snap('v2'));
    await until(() => again.hub.localStats('team').acked === 1, 'ACK after the restart');
    expect(store.versions).toEqual(['v1', 'v2']);
  });
});
