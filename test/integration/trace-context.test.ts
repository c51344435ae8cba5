/**
 * W3C Trace Context through the real sidecar: the app's traceparent / tracestate reach the upstream unchanged (JSON,
 * stream, Anthropic's wire and a failover's second target alike), the request's log line names the trace id, and a
 * malformed traceparent is dropped rather than passed on.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  behave,
  type Fixture,
  startAnthropicFixture,
  startOpenAIFixture,
} from '../fixtures/providers/index.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;
const TRACESTATE = 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE';

let down: Fixture;
let oai: Fixture;
let anth: Fixture;
let s: TestSidecar;
beforeAll(async () => {
  down = await startOpenAIFixture();
  oai = await startOpenAIFixture();
  anth = await startAnthropicFixture({ apiKey: 'sk-ant-fixture' });
  down.fallback(behave.error(503));
  s = await startTestSidecar(
    `
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default, namespace: test }
spec:
  providers:
    - { name: down, type: openai-compatible, baseURL: "${down.baseURL}" }
    - { name: oai, type: openai-compatible, baseURL: "${oai.baseURL}" }
    - { name: anth, type: anthropic, baseURL: "${anth.baseURL}", apiKey: { env: ANTH_KEY } }
  models:
    - { name: small, targets: [{ provider: down }, { provider: oai }], pricing: { inputPerMTok: 1, outputPerMTok: 2 }, contextWindow: 128000 }
    - { name: claude, targets: [{ provider: anth, model: claude-sonnet-4-5 }], pricing: { inputPerMTok: 3, outputPerMTok: 15 }, contextWindow: 200000 }
  tiers:
    - { name: cheap, models: [small] }
    - { name: premium, models: [claude] }
  classifier: { mode: rules }
  resilience: { retries: { attempts: 0, backoffMs: 0, maxBackoffMs: 0 } }
`,
    { env: { ANTH_KEY: 'sk-ant-fixture' } },
  );
});
afterAll(async () => {
  await s.close(100);
  await Promise.all([down, oai, anth].map((f) => f.close()));
});

const client = (headers: Record<string, string>) =>
  new OpenAI({ baseURL: s.baseURL, apiKey: 'x', maxRetries: 0, defaultHeaders: headers });

describe('W3C trace context', () => {
  it('reaches every upstream call unchanged, JSON and stream, and the log line names the trace id', async () => {
    const c = client({ traceparent: TRACEPARENT, tracestate: TRACESTATE, 'x-app-secret': 'not-forwarded' });
    const r = await c.chat.completions
      .create({ model: 'small', messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    expect(r.response.headers.get('x-tiermesh-provider')).toBe('oai');
    // The failed first target and the one that answered both got it.
    for (const f of [down, oai]) {
      const h = f.calls.at(-1)!.headers;
      expect(h['traceparent']).toBe(TRACEPARENT);
      expect(h['tracestate']).toBe(TRACESTATE);
      expect(h['x-app-secret']).toBeUndefined();
    }
    const line = s.logs.byMsg('request').at(-1)!;
    expect(line).toMatchObject({
      requestId: r.response.headers.get('x-request-id'),
      traceId: TRACE_ID,
      status: 200,
    });

    const stream = await c.chat.completions.create({
      model: 'claude',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    for await (const _ of stream);
    expect(anth.calls.at(-1)!.headers['traceparent']).toBe(TRACEPARENT);
    expect(anth.calls.at(-1)!.headers['tracestate']).toBe(TRACESTATE);
    expect(s.logs.byMsg('request').at(-1)).toMatchObject({ traceId: TRACE_ID, stream: true });
  });

  it('drops a malformed traceparent, and its tracestate with it; no trace id is logged', async () => {
    const c = client({ traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`, tracestate: TRACESTATE });
    await c.chat.completions.create({ model: 'small', messages: [{ role: 'user', content: 'hi' }] });
    const h = oai.calls.at(-1)!.headers;
    expect(h['traceparent']).toBeUndefined();
    expect(h['tracestate']).toBeUndefined();
    expect(s.logs.byMsg('request').at(-1)).not.toHaveProperty('traceId');
  });

  it('sends none when the client sent none', async () => {
    await client({}).chat.completions.create({ model: 'small', messages: [{ role: 'user', content: 'hi' }] });
    expect(oai.calls.at(-1)!.headers['traceparent']).toBeUndefined();
  });
});
