/**
 * The real operator server with the real token cache and resumption tickets over loopback (the apiserver's
 * TokenReview is the one thing simulated): a ticket chain kept alive by keep-alive reissues ends at the review
 * bound, the reconnect after it costs one TokenReview and starts a new chain; and a malformed sidecar id is
 * answered 401 to an unauthenticated caller, 400 only to an authenticated one.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { TICKET_REVIEW_BOUND_MS, tokenAuthenticator } from '../../src/operator/auth.js';
import { ConfigHub } from '../../src/operator/hub.js';
import { STREAM_PATH, TICKET_EVENT, TICKET_HEADER } from '../../src/operator/protocol.js';
import { createOperatorServer } from '../../src/operator/server.js';
import { SseParser } from '../../src/providers/sse.js';
import { ticketOf } from '../../src/sidecar/config-stream.js';

const T0 = 1_900_000_000_000;
const jwt = (exp: number) =>
  [
    Buffer.from('{"alg":"RS256"}').toString('base64url'),
    Buffer.from(JSON.stringify({ sub: 'system:serviceaccount:team:app', exp })).toString('base64url'),
    'sig',
  ].join('.');
const TOKEN = jwt(T0 / 1000 + 3600);

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function operator() {
  let t = T0;
  let reviews = 0;
  const authenticate = tokenAuthenticator(
    async (token) => {
      reviews++;
      return token === TOKEN ? 'system:serviceaccount:team:app' : undefined;
    },
    { now: () => t },
  );
  const hub = new ConfigHub();
  hub.publish({ version: 'v1', namespace: 'team', routes: [], budgets: [] });
  const server = createOperatorServer({
    hub,
    authenticate,
    vouch: authenticate.vouch,
    reviewedAt: authenticate.reviewedAt,
    ticketKeys: () => [Buffer.alloc(32, 7)],
    keepAliveMs: 5,
    now: () => t,
    ledger: {
      isLeader: () => true,
      report: async () => ({ applied: true }),
      allowance: async () => ({ grantUSD: 0, ttlMs: 0, remainingUSD: 0 }),
    },
    ready: () => true,
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => {
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    reviews: () => reviews,
    at: (ms: number) => {
      t = ms;
    },
  };
}

/** Opens a config stream and collects the tickets it hands out. */
async function open(port: number, token: string, ticket?: string, sidecar = 'pod-a') {
  const res = await fetch(`http://127.0.0.1:${port}${STREAM_PATH}?sidecar=${encodeURIComponent(sidecar)}`, {
    headers: { authorization: `Bearer ${token}`, ...(ticket ? { [TICKET_HEADER]: ticket } : {}) },
  });
  const tickets: string[] = [];
  const reader = res.body!.getReader();
  const parser = new SseParser();
  void (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      for (const ev of parser.push(value)) if (ev.event === TICKET_EVENT) tickets.push(ticketOf(ev.data)!);
    }
  })().catch(() => {});
  cleanups.push(() => reader.cancel().catch(() => {}));
  /** The next ticket handed out from now on (a keep-alive reissue). */
  const next = async () => {
    const seen = tickets.length;
    await expect.poll(() => tickets.length, { timeout: 5_000 }).toBeGreaterThan(seen);
    return tickets.at(-1)!;
  };
  return { status: res.status, tickets, next, close: () => reader.cancel().catch(() => {}) };
}

const payload = (ticket: string) =>
  JSON.parse(Buffer.from(ticket.split('.')[0]!, 'base64url').toString('utf8')) as { e: number; r: number };

describe('resumption tickets against the operator server', () => {
  test('a chain of reissued tickets ends at the review bound; the TokenReview after it starts a new one', async () => {
    const op = await operator();
    const first = await open(op.port, TOKEN);
    expect(first.status).toBe(200);
    await first.next();
    expect(op.reviews()).toBe(1);

    // Nine minutes later (the stream kept alive all along), a reissued ticket still resumes without a review.
    op.at(T0 + 9 * 60_000);
    const late = await first.next();
    expect(payload(late).r).toBe(T0);
    await first.close();
    const second = await open(op.port, TOKEN, late);
    expect(second.status).toBe(200);
    expect(op.reviews()).toBe(1);

    // Its reissues keep the first review's time and never last past the bound, however often they come.
    op.at(T0 + TICKET_REVIEW_BOUND_MS - 10_000);
    const last = await second.next();
    expect(payload(last)).toEqual({ ...payload(last), r: T0, e: T0 + TICKET_REVIEW_BOUND_MS });
    await second.close();

    // At the bound the chain is worthless: the reconnect costs a TokenReview, whose time the new chain carries.
    op.at(T0 + TICKET_REVIEW_BOUND_MS);
    const third = await open(op.port, TOKEN, last);
    expect(third.status).toBe(200);
    expect(op.reviews()).toBe(2);
    const fresh = await third.next();
    expect(payload(fresh).r).toBe(T0 + TICKET_REVIEW_BOUND_MS);
    await third.close();
    op.at(T0 + TICKET_REVIEW_BOUND_MS + 20_000);
    const fourth = await open(op.port, TOKEN, fresh);
    expect(fourth.status).toBe(200);
    expect(op.reviews()).toBe(2);
  });

  test('a malformed sidecar id: 401 without a good token, 400 with one', async () => {
    const op = await operator();
    const bad = await open(op.port, 'not-a-token', undefined, '../etc');
    expect(bad.status).toBe(401);
    const good = await open(op.port, TOKEN, undefined, '../etc');
    expect(good.status).toBe(400);
    expect(good.tickets).toEqual([]);
  });
});
