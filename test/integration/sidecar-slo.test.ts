/**
 * spec.slo observes the target that answered by its own time, through the sidecar over real sockets with the OpenAI
 * SDK as client. The tier fails over from a target that fails slowly (HTTP 500 after longer than the SLO) to one
 * that answers at once: the failure's time is the failed target's, not the answering one's. Charged to the answering
 * target, it made that target break the SLO after `minSamples` requests, spec.slo skipped it, and every request
 * went only to the failing target (502). Likewise the time a request waited for a spec.queue slot is the queue's, not
 * the target's.
 */
import OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { behave, type Fixture, startOpenAIFixture } from '../fixtures/providers/index.js';
import { metricSum, startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

const fixtures: Fixture[] = [];
const sidecars: TestSidecar[] = [];
afterAll(async () => {
  await Promise.all(sidecars.map((s) => s.close(1000)));
  await Promise.all(fixtures.map((f) => f.close()));
});

/** Fails each call with a 500 after `FAIL_AFTER_MS`, more than the SLO allows. */
const FAIL_AFTER_MS = 600;
const SLO_MS = 250;
const MIN_SAMPLES = 3;

async function start(
  slo: Record<string, number>,
): Promise<{ client: OpenAI; sidecar: TestSidecar; fast: Fixture }> {
  const slow = await startOpenAIFixture();
  slow.fallback({ ...behave.error(500), firstByteDelayMs: FAIL_AFTER_MS });
  const fast = await startOpenAIFixture();
  fast.fallback(behave.ok('from fast', { prompt: 10, completion: 3 }));
  fixtures.push(slow, fast);
  const provider = (name: string, f: Fixture) => ({ name, type: 'openai-compatible', baseURL: f.baseURL });
  const sidecar = await startTestSidecar(
    stringify({
      apiVersion: 'tiermesh.dev/v1alpha1',
      kind: 'ModelRoute',
      metadata: { name: 'default', namespace: 'test' },
      spec: {
        providers: [provider('slow-up', slow), provider('fast-up', fast)],
        models: [
          {
            name: 'small-model',
            targets: [{ provider: 'slow-up' }, { provider: 'fast-up' }],
            pricing: { inputPerMTok: 1, outputPerMTok: 1 },
            contextWindow: 100_000,
          },
        ],
        tiers: [{ name: 'cheap', models: ['small-model'] }],
        classifier: { mode: 'rules' },
        cascade: { enabled: false, checks: ['empty'], maxEscalations: 0 },
        promotion: { policy: 'none' },
        resilience: {
          timeoutMs: 10_000,
          firstByteTimeoutMs: 5_000,
          retries: { attempts: 0, backoffMs: 10, maxBackoffMs: 50 },
          // The failing target stays in the plan: its breaker never opens here.
          breaker: {
            errorThresholdPercentage: 100,
            volumeThreshold: 1000,
            resetTimeoutMs: 10_000,
            rollingWindowMs: 30_000,
          },
        },
        slo: { ...slo, policy: 'first', minSamples: MIN_SAMPLES, halfLifeSeconds: 3600 },
      },
    }),
  );
  sidecars.push(sidecar);
  return { client: new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'x', maxRetries: 0 }), sidecar, fast };
}

const hi = { model: 'auto', messages: [{ role: 'user' as const, content: 'hi there' }] };
const REQUESTS = MIN_SAMPLES + 2;

describe('spec.slo after a failover', () => {
  it("JSON: the answering target is observed by its own time, not the failed target's", async () => {
    const { client, sidecar, fast } = await start({ maxLatencyMs: SLO_MS });
    for (let i = 0; i < REQUESTS; i++) {
      const r = await client.chat.completions.create(hi).withResponse();
      expect(r.response.headers.get('x-tiermesh-provider')).toBe('fast-up');
      expect(r.data.choices[0]!.message.content).toBe('from fast');
    }
    expect(fast.calls.length).toBe(REQUESTS);
    expect(sidecar.logs.byMsg('slo')).toEqual([]);
  });

  it("stream: the time to first byte is the answering attempt's, not the failover's before it", async () => {
    const { client, sidecar, fast } = await start({ maxTTFTMs: SLO_MS });
    for (let i = 0; i < REQUESTS; i++) {
      const { data, response } = await client.chat.completions.create({ ...hi, stream: true }).withResponse();
      expect(response.headers.get('x-tiermesh-provider')).toBe('fast-up');
      let text = '';
      for await (const chunk of data) text += chunk.choices[0]?.delta.content ?? '';
      expect(text).toBe('from fast');
    }
    expect(fast.calls.length).toBe(REQUESTS);
    expect(sidecar.logs.byMsg('slo')).toEqual([]);
  });
});

/** One target with one in-flight slot (spec.queue); a call whose prompt is "hold" hangs, holding it, until aborted. */
async function startQueued(
  slo: Record<string, number>,
): Promise<{ client: OpenAI; sidecar: TestSidecar; up: Fixture }> {
  const up = await startOpenAIFixture();
  up.script((req) =>
    JSON.stringify(req.body).includes('"hold"')
      ? behave.hang()
      : behave.ok('answered', { prompt: 5, completion: 1 }),
  );
  fixtures.push(up);
  const sidecar = await startTestSidecar(
    stringify({
      apiVersion: 'tiermesh.dev/v1alpha1',
      kind: 'ModelRoute',
      metadata: { name: 'default', namespace: 'test' },
      spec: {
        providers: [{ name: 'only-up', type: 'openai-compatible', baseURL: up.baseURL }],
        models: [
          {
            name: 'small-model',
            targets: [{ provider: 'only-up' }],
            pricing: { inputPerMTok: 1, outputPerMTok: 1 },
            contextWindow: 100_000,
          },
        ],
        tiers: [{ name: 'cheap', models: ['small-model'] }],
        classifier: { mode: 'rules' },
        cascade: { enabled: false, checks: ['empty'], maxEscalations: 0 },
        promotion: { policy: 'none' },
        resilience: {
          timeoutMs: 30_000,
          firstByteTimeoutMs: 30_000,
          retries: { attempts: 0, backoffMs: 10 },
        },
        queue: { limits: [{ provider: 'only-up', model: 'small-model', maxInFlight: 1 }] },
        // fail: a target that breaks the SLO leaves the tier nothing to try, a 502.
        slo: { ...slo, policy: 'fail', minSamples: MIN_SAMPLES, halfLifeSeconds: 3600 },
      },
    }),
  );
  sidecars.push(sidecar);
  return { client: new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'x', maxRetries: 0 }), sidecar, up };
}

const ask = (content: string) => ({ model: 'auto', messages: [{ role: 'user' as const, content }] });

describe('spec.slo behind a spec.queue', () => {
  it.each<{ name: string; stream: boolean; slo: Record<string, number> }>([
    { name: 'JSON', stream: false, slo: { maxLatencyMs: SLO_MS } },
    { name: 'stream', stream: true, slo: { maxTTFTMs: SLO_MS } },
  ])("$name: the wait for the slot is not the target's latency", async ({ stream, slo }) => {
    const { client, sidecar, up } = await startQueued(slo);
    const queued = async () => metricSum((await sidecar.metrics.text()).body, 'tiermesh_queue_depth');
    const until = async (ok: () => boolean | Promise<boolean>) => {
      while (!(await ok())) await new Promise((r) => setTimeout(r, 5));
    };
    const answer = async () => {
      const { data, response } = await client.chat.completions
        .create({ ...ask('hi there'), stream })
        .withResponse();
      if (!stream) return (data as OpenAI.ChatCompletion).choices[0]!.message.content;
      let text = '';
      for await (const c of data as AsyncIterable<OpenAI.ChatCompletionChunk>)
        text += c.choices[0]?.delta.content ?? '';
      expect(response.status).toBe(200);
      return text;
    };
    // One round more than minSamples: decayed, that many observations weigh just under their count.
    for (let i = 0; i <= MIN_SAMPLES; i++) {
      // A call that hangs takes the only slot; the next request waits longer than the SLO for it, then answers at once.
      const holder = new AbortController();
      const sent = up.calls.length;
      client.chat.completions.create(ask('hold'), { signal: holder.signal }).catch(() => {});
      await until(() => up.calls.length > sent);
      const waiting = answer();
      await until(async () => (await queued()) === 1);
      await new Promise((r) => setTimeout(r, FAIL_AFTER_MS));
      holder.abort();
      expect(await waiting).toBe('answered');
    }
    // Observed by its own time the target meets the SLO: it is still tried (a 502 had it been charged the waits).
    expect(await answer()).toBe('answered');
    expect(sidecar.logs.byMsg('slo')).toEqual([]);
  });
});
