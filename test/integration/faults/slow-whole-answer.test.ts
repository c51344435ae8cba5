/**
 * Fault that is no fault: a non-streamed answer that takes longer to write than the stream first-byte default
 * (15 s). OpenAI-style servers send no header before the whole answer is done, so with firstByteTimeoutMs left unset
 * only timeoutMs bounds the call: the answer is served, once, and the SDK (default retries on) never retries a 504.
 * The delay has to pass the 15 s default for the test to mean anything; it is the one slow test of the suite.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { behave, type Fixture, startOpenAIFixture } from '../../fixtures/providers/index.js';
import { startTestSidecar, type TestSidecar } from '../../helpers/sidecar.js';

const STREAM_DEFAULT_MS = 15_000;

let up: Fixture;
let sidecar: TestSidecar;

beforeAll(async () => {
  up = await startOpenAIFixture();
  // No firstByteTimeoutMs: the route's defaults, as a user who never heard of it writes one.
  sidecar = await startTestSidecar(`
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default, namespace: test }
spec:
  providers: [{ name: up, type: openai-compatible, baseURL: "${up.baseURL}" }]
  models: [{ name: m, targets: [{ provider: up }], pricing: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 128000 }]
  tiers: [{ name: only, models: [m] }]
  classifier: { mode: rules }
  cascade: { enabled: false }
  resilience: { timeoutMs: 30000, retries: { attempts: 0, backoffMs: 10, maxBackoffMs: 20 } }
`);
});
afterAll(async () => {
  await sidecar?.close();
  await up?.close();
});

describe('a long non-streamed answer', () => {
  it('is served past the stream first-byte default, within timeoutMs, with one upstream call', async () => {
    up.script([behave.slowFirstByte(STREAM_DEFAULT_MS + 1_000, 'a long considered answer')]);
    const client = new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'unused' }); // SDK default: 2 retries
    const r = await client.chat.completions.create({
      model: 'auto',
      messages: [{ role: 'user', content: 'write a long essay' }],
    });
    expect(r.choices[0]?.message.content).toBe('a long considered answer');
    expect(up.calls.length).toBe(1);
    expect(sidecar.logs.byMsg('fallback')).toHaveLength(0);
  }, 40_000);
});
