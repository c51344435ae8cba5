/**
 * Fault: an HTTPS upstream accepts the TCP connection and never answers the TLS ClientHello, so the request is never
 * sent. The attempt's deadline and the client's abort must still end the call at once, not when the HTTP client's
 * connect timeout (10 s) gives up on the handshake: each test checks the call settled while the hung connection was
 * still open.
 */
import net from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { modelRouteSpec } from '../../../src/api/modelroute.js';
import type { ChatCompletionChunk, ChatCompletionRequest } from '../../../src/api/openai.js';
import { BreakerBoard } from '../../../src/providers/breaker.js';
import { ExecutionError, executeCompletion, executeStream } from '../../../src/providers/failover.js';
import { defaultKeyEnv } from '../../../src/providers/keys.js';
import { buildRouteProviders } from '../../../src/providers/registry.js';
import { behave, type Fixture, startOpenAIFixture } from '../../fixtures/providers/index.js';

let hung: net.Server;
let hungPort: number;
/** Every connection the hung upstream accepted, and whether it is still open. */
let conns: Array<{ socket: net.Socket; open: boolean }> = [];
let onConnection: (() => void) | undefined;
let healthy: Fixture;

beforeAll(async () => {
  healthy = await startOpenAIFixture();
});
afterAll(() => healthy.close());
// A fresh hung upstream per test: its own origin, so no test's request queues behind another's pending handshake.
beforeEach(async () => {
  conns = [];
  onConnection = undefined;
  hung = net.createServer((socket) => {
    const c = { socket, open: true };
    conns.push(c);
    const closed = () => {
      c.open = false;
    };
    socket.on('end', closed);
    socket.on('close', closed);
    socket.on('error', () => {});
    // Read (and drop) the ClientHello: a socket left paused would never see the client's FIN.
    socket.resume();
    onConnection?.();
  });
  await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
  hungPort = (hung.address() as net.AddressInfo).port;
  healthy.script([]);
  healthy.fallback(behave.ok('answered by the healthy target'));
  healthy.calls.length = 0;
});
afterEach(async () => {
  for (const c of conns) c.socket.destroy();
  await new Promise<void>((r) => hung.close(() => r()));
});

function plan() {
  const spec = modelRouteSpec.parse({
    providers: [
      { name: 'hung', type: 'openai-compatible', baseURL: `https://127.0.0.1:${hungPort}/v1` },
      { name: 'healthy', type: 'openai-compatible', baseURL: healthy.baseURL },
    ],
    models: [
      {
        name: 'chat',
        targets: [{ provider: 'hung' }, { provider: 'healthy' }],
        pricing: { inputPerMTok: 1, outputPerMTok: 1 },
        contextWindow: 8192,
      },
    ],
    tiers: [{ name: 'all', models: ['chat'] }],
    resilience: {
      timeoutMs: 5_000,
      firstByteTimeoutMs: 200,
      retries: { attempts: 0, backoffMs: 0, maxBackoffMs: 0 },
    },
  });
  const providers = buildRouteProviders(
    { name: 'default', spec },
    { breakers: new BreakerBoard(), keyEnv: defaultKeyEnv({}) },
  );
  return providers.plan(spec.models);
}

const body = (extra: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest => ({
  model: 'auto',
  messages: [{ role: 'user', content: 'hello' }],
  ...extra,
});

/**
 * The hung upstream's connections, all still open: the handshake never finished and nobody gave up on it. Asked
 * after two turns of the event loop, so that a client that did close the connection has been seen doing it.
 */
async function stillHanging(): Promise<boolean> {
  for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r));
  return conns.length > 0 && conns.every((c) => c.open);
}

describe('fault: upstream hangs in its TLS handshake', () => {
  it('a JSON call moves on at the first-byte deadline, while the handshake still hangs', async () => {
    const r = await executeCompletion(plan(), body());
    expect(await stillHanging()).toBe(true);
    expect(r.served.provider).toBe('healthy');
    expect(r.fallbacks).toMatchObject([
      { from: { provider: 'hung' }, reason: 'timeout', action: 'next-target' },
    ]);
  });

  it('the same for a stream', async () => {
    const s = await executeStream(plan(), body({ stream: true }));
    expect(await stillHanging()).toBe(true);
    expect(s.served.provider).toBe('healthy');
    expect(s.fallbacks).toMatchObject([{ from: { provider: 'hung' }, reason: 'timeout' }]);
    let text = '';
    for await (const c of s.chunks as AsyncIterable<ChatCompletionChunk>)
      text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe('answered by the healthy target');
  });

  for (const kind of ['JSON call', 'stream'] as const) {
    it(`a ${kind} ends as soon as the client goes away, with no other target tried`, async () => {
      const client = new AbortController();
      onConnection = () => client.abort();
      const call =
        kind === 'stream'
          ? executeStream(plan(), body({ stream: true }), { signal: client.signal })
          : executeCompletion(plan(), body(), { signal: client.signal });
      const err = await call.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(await stillHanging()).toBe(true);
      expect(err).toBeInstanceOf(ExecutionError);
      expect((err as ExecutionError).aborted).toBe(true);
      expect(healthy.calls.length).toBe(0);
      if (kind === 'JSON call') {
        // Its request never left: no upstream call made, none under way to book a prompt against.
        expect((err as ExecutionError).attempts).toBe(0);
        expect((err as ExecutionError).inFlight).toBeUndefined();
      }
    });
  }
});
