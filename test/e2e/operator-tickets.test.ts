/**
 * Resumption tickets against the real apiserver: the operator serves the sidecar API over HTTPS and hands each
 * authenticated config stream a ticket keyed off its serving key; after a SIGKILL and a restart (same key, as a
 * container restart or another replica has it) real sidecar processes reconnect on their tickets with zero
 * TokenReviews, while a tampered ticket, or one presented by another sidecar id, costs a TokenReview and still gets
 * its stream. Over plain HTTP a ticket key file keys them instead.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { SseParser } from '../../src/providers/sse.js';
import { operatorFetch } from '../../src/sidecar/config-stream-operator.js';
import {
  applyYaml,
  freshNamespace,
  kubeConfig,
  kubeconfigPath,
  serviceAccountToken,
  servingCert,
  waitFor,
} from '../cluster/fixtures.js';
import { routeConfig } from '../helpers/config.js';
import { freePort, killAll, type Proc, startOperatorProc, startSidecarProc } from './operator-procs.js';

let dir: string;
let ns: string;
let leaseNs: string;
let port: number;
let plainPort: number;
let tlsArgs: string[];
let http: typeof fetch;

beforeAll(async () => {
  ns = await freshNamespace('op-ticket');
  leaseNs = await freshNamespace('op-ticket-lease');
  dir = mkdtempSync(join(tmpdir(), 'tm-op-ticket-'));
  const { cert, key, ca } = await servingCert();
  writeFileSync(join(dir, 'tls.crt'), cert);
  writeFileSync(join(dir, 'tls.key'), key);
  writeFileSync(join(dir, 'ca.crt'), ca);
  tlsArgs = ['--tls-cert-file', join(dir, 'tls.crt'), '--tls-key-file', join(dir, 'tls.key')];
  http = operatorFetch(ca);
  await applyYaml(
    routeConfig({
      namespace: ns,
      upstreams: [{ name: 'up', baseURL: 'http://127.0.0.1:9/v1' }],
      cheap: [{ name: 'ticket-small', upstreams: ['up'] }],
      premium: [{ name: 'ticket-big', upstreams: ['up'] }],
    }),
    ns,
  );
  port = await freePort();
  plainPort = await freePort();
});

afterAll(async () => {
  await killAll();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const operator = (extraArgs: string[] = []) =>
  startOperatorProc({
    kubeconfig: kubeconfigPath(),
    port,
    leaseNamespace: leaseNs,
    extraArgs: [...tlsArgs, ...extraArgs],
  });

/**
 * The ticket review bound made small (the hidden test flag) so its background re-reviews can be watched: tokens
 * are re-reviewed from 10 s to 15 s after their last review, every 0.5 s a look for the due ones.
 */
const BOUND_S = 20;
const smallBound = ['--ticket-review-bound-seconds', String(BOUND_S)];

async function metric(op: Proc & { metricsUrl: string }, series: string): Promise<number> {
  const text = await (await fetch(`${op.metricsUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

const REVIEWS = 'tiermesh_operator_token_reviews_total{reason="connect"}';
const REREVIEWED = 'tiermesh_operator_stream_rereviews_total{result="accepted"}';
const REJECTED = 'tiermesh_operator_stream_rereviews_total{result="rejected"}';
const REVOKED = 'tiermesh_operator_revoked_streams_total';
const ACCEPTED = 'tiermesh_operator_stream_tickets_total{result="accepted"}';
const REFUSED = 'tiermesh_operator_stream_tickets_total{result="refused"}';

/** Opens a config stream as a sidecar would, reads until it has the ticket and the snapshot, and closes it. */
async function openStream(token: string, sidecarId: string, ticket?: string, plain = false) {
  const abort = new AbortController();
  const base = plain ? `http://127.0.0.1:${plainPort}` : `https://127.0.0.1:${port}`;
  const res = await (plain ? fetch : http)(`${base}/v1/config/stream?sidecar=${sidecarId}`, {
    headers: {
      authorization: `Bearer ${token}`,
      accept: 'text/event-stream',
      ...(ticket ? { 'x-tiermesh-ticket': ticket } : {}),
    },
    signal: abort.signal,
  });
  const got: { status: number; ticket?: string; version?: string } = { status: res.status };
  if (res.status === 200 && res.body) {
    const parser = new SseParser();
    try {
      for await (const chunk of res.body) {
        for (const ev of parser.push(chunk as Uint8Array)) {
          if (ev.event === 'ticket') got.ticket = (JSON.parse(ev.data) as { ticket: string }).ticket;
          if (ev.event === 'snapshot') got.version = (JSON.parse(ev.data) as { version: string }).version;
        }
        if (got.ticket && got.version) break;
      }
    } finally {
      abort.abort();
    }
  }
  return got;
}

/**
 * One sidecar process per name, each with its own token file (a fresh token of `account(name)`, the app account
 * unless said otherwise) and state dir.
 */
async function sidecarsOf(
  names: string[],
  account: (name: string) => string = () => 'app',
): Promise<Array<Proc & { url: string }>> {
  const sidecars: Array<Proc & { url: string }> = [];
  for (const name of names) {
    const tokenFile = join(dir, `token-${name}`);
    writeFileSync(tokenFile, await serviceAccountToken(ns, account(name), 'tiermesh'));
    sidecars.push(
      await startSidecarProc({
        operator: `https://127.0.0.1:${port}`,
        tokenFile,
        stateDir: join(dir, `state-${name}`),
        extraArgs: ['--operator-ca', join(dir, 'ca.crt')],
      }),
    );
  }
  return sidecars;
}

test('a restarted operator takes its sidecars back on their tickets, with zero TokenReviews', async () => {
  const first = await operator();
  const sidecars = await sidecarsOf(['a', 'b']);
  await waitFor(async () => (await metric(first, 'tiermesh_operator_connected_sidecars')) === 2, 30_000);
  expect(await metric(first, REVIEWS)).toBe(2);

  // The kubelet rotates the projected tokens while the streams are open (at ~80% of their life): a second valid
  // token for the same service account in each file. The tickets are bound to the tokens the streams were opened
  // with, so the sidecars resume with those, not with the files' new ones.
  for (const name of ['a', 'b'])
    writeFileSync(join(dir, `token-${name}`), await serviceAccountToken(ns, 'app', 'tiermesh'));

  // Killed, not stopped: nothing is handed over, the new process knows only the serving key.
  await first.kill();
  const second = await operator();
  await waitFor(async () => (await metric(second, 'tiermesh_operator_connected_sidecars')) === 2, 30_000);
  expect(await metric(second, ACCEPTED)).toBe(2);
  expect(await metric(second, REFUSED)).toBe(0);
  expect(await metric(second, REVIEWS)).toBe(0);
  // And the sidecars serve the namespace's config through it.
  for (const s of sidecars) {
    const models = (await (await fetch(`${s.url}/v1/models`)).json()) as { data: Array<{ id: string }> };
    expect(models.data.map((m) => m.id)).toContain('ticket-small');
  }
  for (const s of sidecars) await s.stop();
  await second.kill();
});

test('streams older than the review bound still resume with zero TokenReviews: the background re-review kept their tickets fresh', async () => {
  const first = await operator(smallBound);
  // Before the sidecars connect, so before their tokens' first review: the re-reviews are spaced from that review,
  // which comes a moment before the connected count below shows it (taking the time after that count failed once
  // by 124 ms).
  const beforeReview = Date.now();
  const sidecars = await sidecarsOf(['c', 'd']);
  await waitFor(async () => (await metric(first, 'tiermesh_operator_connected_sidecars')) === 2, 30_000);
  const openedAt = Date.now();
  expect(await metric(first, REVIEWS)).toBe(2);
  // Two re-reviews of each token, each at least half the bound after the one before: a bound after the review.
  await waitFor(async () => (await metric(first, REREVIEWED)) >= 4, 4 * BOUND_S * 1000);
  expect(Date.now() - beforeReview).toBeGreaterThan(BOUND_S * 1000);
  // The streams older than the bound when the operator goes, so without the re-reviews their tickets (whose review
  // time is under the MAC) would be worthless.
  await waitFor(async () => Date.now() - openedAt > BOUND_S * 1000, BOUND_S * 1000);
  expect(await metric(first, 'tiermesh_operator_token_reviews_total{reason="refresh"}')).toBe(
    await metric(first, REREVIEWED),
  );
  expect(await metric(first, REVIEWS)).toBe(2);
  expect(await metric(first, 'tiermesh_operator_connected_sidecars')).toBe(2);

  await first.kill();
  const second = await operator(smallBound);
  await waitFor(async () => (await metric(second, 'tiermesh_operator_connected_sidecars')) === 2, 30_000);
  expect(await metric(second, ACCEPTED)).toBe(2);
  expect(await metric(second, REFUSED)).toBe(0);
  // Background re-reviews may already run on the new replica; a reconnect caused none.
  expect(await metric(second, REVIEWS)).toBe(0);
  for (const s of sidecars) await s.stop();
  await second.kill();
});

test("deleting a sidecar's ServiceAccount ends its open stream at the next re-review, and its reconnect gets a 401", async () => {
  const op = await operator(smallBound);
  const sidecars = await sidecarsOf(['kept', 'doomed'], (name) => (name === 'doomed' ? 'doomed' : 'app'));
  await waitFor(async () => (await metric(op, 'tiermesh_operator_connected_sidecars')) === 2, 30_000);
  expect(await metric(op, REVOKED)).toBe(0);
  await kubeConfig()
    .makeApiClient(CoreV1Api)
    .deleteNamespacedServiceAccount({ name: 'doomed', namespace: ns });

  // Within the bound (the latest a token is re-reviewed is three quarters of it), with no reconnect to prompt it.
  await waitFor(async () => (await metric(op, REVOKED)) === 1, BOUND_S * 1000);
  expect(await metric(op, REJECTED)).toBe(1);
  // The sidecar reconnects on the ticket it still holds, which is refused for a revoked token; the TokenReview
  // that follows (or the cache's fresh rejection) answers 401, and it stays out, while the other keeps its stream.
  await waitFor(() => /operator answered 401/.test(sidecars[1]!.output()), 30_000);
  expect(await metric(op, REFUSED)).toBe(1);
  expect(await metric(op, ACCEPTED)).toBe(0);
  expect(await metric(op, 'tiermesh_operator_connected_sidecars')).toBe(1);
  expect(await metric(op, REVOKED)).toBe(1);
  for (const s of sidecars) await s.stop();
  await op.kill();
});

test('a tampered or foreign ticket falls back to a TokenReview and still gets the stream', async () => {
  const issuing = await operator();
  const tokens: string[] = [];
  for (let i = 0; i < 3; i++) tokens.push(await serviceAccountToken(ns, 'app', 'tiermesh'));
  const tickets: string[] = [];
  for (const [i, token] of tokens.entries()) {
    const s = await openStream(token, `probe-${i}`);
    expect(s.status).toBe(200);
    expect(s.ticket).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    tickets.push(s.ticket!);
  }
  expect(await metric(issuing, REVIEWS)).toBe(3);
  await issuing.kill();

  // A fresh process: an empty token cache, so every TokenReview below is one the ticket did not spare.
  const op = await operator();
  const [body, mac] = tickets[0]!.split('.') as [string, string];
  const tampered = `${body}.${mac[0] === 'A' ? 'B' : 'A'}${mac.slice(1)}`;
  const a = await openStream(tokens[0]!, 'probe-0', tampered);
  expect(a.status).toBe(200);
  expect(a.version).toBeTruthy();
  expect(await metric(op, REVIEWS)).toBe(1);
  expect(await metric(op, REFUSED)).toBe(1);

  // A good ticket presented for another sidecar id than the one it was issued to.
  const b = await openStream(tokens[1]!, 'someone-else', tickets[1]);
  expect(b.status).toBe(200);
  expect(await metric(op, REVIEWS)).toBe(2);
  expect(await metric(op, REFUSED)).toBe(2);

  // The genuine one: no TokenReview, and a new ticket for the next time.
  const c = await openStream(tokens[2]!, 'probe-2', tickets[2]);
  expect(c.status).toBe(200);
  expect(c.ticket).toBeTruthy();
  expect(await metric(op, REVIEWS)).toBe(2);
  expect(await metric(op, ACCEPTED)).toBe(1);

  // No ticket either operator handed out or was shown, nor any part of one's MAC, nor a token reaches the logs.
  const received = [...tickets, a.ticket, b.ticket, c.ticket, tampered].filter((t): t is string => !!t);
  expect(received).toHaveLength(7);
  for (const log of [issuing.output(), op.output()]) {
    for (const t of received) {
      expect(log).not.toContain(t);
      expect(log).not.toContain(t.split('.')[1]!.slice(0, 16));
    }
    for (const t of tokens) expect(log).not.toContain(t.split('.')[2]!.slice(0, 16));
  }
  await op.kill();
});

test('over plain HTTP, a ticket key file (--ticket-key-file) does what the serving key does', async () => {
  const keyFile = join(dir, 'ticket-key');
  writeFileSync(keyFile, `${'0123456789abcdef'.repeat(3)}\n`, { mode: 0o600 });
  const plain = () =>
    startOperatorProc({
      kubeconfig: kubeconfigPath(),
      port: plainPort,
      leaseNamespace: leaseNs,
      extraArgs: ['--ticket-key-file', keyFile],
    });
  const token = await serviceAccountToken(ns, 'app', 'tiermesh');
  const first = await plain();
  const issued = await openStream(token, 'plain-0', undefined, true);
  expect(issued.ticket).toBeTruthy();
  await first.kill();
  const second = await plain();
  const back = await openStream(token, 'plain-0', issued.ticket, true);
  expect(back.status).toBe(200);
  expect(await metric(second, ACCEPTED)).toBe(1);
  expect(await metric(second, REVIEWS)).toBe(0);
  await second.kill();
});

test('a ticket key file shorter than 32 bytes stops the operator at start with a clear error', async () => {
  const keyFile = join(dir, 'short-key');
  writeFileSync(keyFile, 'too short\n');
  await expect(
    startOperatorProc({
      kubeconfig: kubeconfigPath(),
      port: await freePort(),
      leaseNamespace: leaseNs,
      extraArgs: ['--ticket-key-file', keyFile],
    }),
  ).rejects.toThrow(/at least 32 bytes/);
});
