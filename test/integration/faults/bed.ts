/**
 * The fault suite's test bed: a sidecar whose cheap model has two OpenAI-wire targets, `flaky` (scripted to
 * misbehave) and `healthy`, each breaker opening on its first counted failure, and the real OpenAI SDK as client.
 * One counted failure is enough to open a breaker here, so "no breaker moved" is a sharp assertion.
 */
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { behave, type Fixture, startOpenAIFixture } from '../../fixtures/providers/index.js';
import { routeConfig } from '../../helpers/config.js';
import { metricSum, startTestSidecar, type TestSidecar } from '../../helpers/sidecar.js';

export const HEALTHY_REPLY = 'answered by the healthy target';
export const HEALTHY_USAGE = { prompt: 11, completion: 5 };

export interface FaultBed {
  flaky: Fixture;
  healthy: Fixture;
  sidecar: TestSidecar;
  /** The OpenAI SDK, no retries of its own: every failure it sees is the sidecar's answer. */
  client: OpenAI;
  /** Breaker state per upstream name; a breaker not yet created is closed. */
  breaker(provider: 'flaky' | 'healthy'): string;
  /** The sidecar's last log line with this message. */
  lastLog(msg: string): Record<string, unknown> | undefined;
  /** Tokens booked so far (tiermesh_tokens_total, both directions). */
  tokensBooked(): Promise<number>;
  close(): Promise<void>;
}

export async function faultBed(resilience: Record<string, number> = {}): Promise<FaultBed> {
  const flaky = await startOpenAIFixture();
  const healthy = await startOpenAIFixture();
  healthy.fallback(behave.ok(HEALTHY_REPLY, HEALTHY_USAGE));
  const sidecar = await startTestSidecar(
    routeConfig({
      upstreams: [
        { name: 'flaky', baseURL: flaky.baseURL },
        { name: 'healthy', baseURL: healthy.baseURL },
      ],
      cheap: [{ name: 'small-model', upstreams: ['flaky', 'healthy'] }],
      premium: [{ name: 'big-model', upstreams: ['healthy'] }],
      cascade: { enabled: false, checks: [], maxEscalations: 0 },
      resilience,
      breaker: {
        errorThresholdPercentage: 1,
        volumeThreshold: 1,
        resetTimeoutMs: 60_000,
        rollingWindowMs: 60_000,
      },
    }),
  );
  const client = new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'unused', maxRetries: 0 });
  return {
    flaky,
    healthy,
    sidecar,
    client,
    breaker: (provider) => sidecar.breakers.states().find((s) => s.provider === provider)?.state ?? 'closed',
    lastLog: (msg) => sidecar.logs.byMsg(msg).at(-1),
    tokensBooked: async () =>
      metricSum(await (await fetch(`${sidecar.url}/metrics`)).text(), 'tiermesh_tokens_total'),
    async close() {
      await sidecar.close();
      await Promise.all([flaky.close(), healthy.close()]);
    },
  };
}

/**
 * A bed for a test file: a fresh one per test (`each`, the default) or one for the whole file (`all`), started and
 * closed by vitest hooks. The returned handle always points at the current bed.
 */
export function useFaultBed(
  resilience: Record<string, number> = {},
  scope: 'each' | 'all' = 'each',
): FaultBed {
  let current: FaultBed | undefined;
  const bed = () => {
    if (!current) throw new Error('the fault bed is used outside a test');
    return current;
  };
  (scope === 'each' ? beforeEach : beforeAll)(async () => {
    current = await faultBed(resilience);
  });
  (scope === 'each' ? afterEach : afterAll)(async () => {
    await current?.close();
    current = undefined;
  });
  return {
    get flaky() {
      return bed().flaky;
    },
    get healthy() {
      return bed().healthy;
    },
    get sidecar() {
      return bed().sidecar;
    },
    get client() {
      return bed().client;
    },
    breaker: (provider) => bed().breaker(provider),
    lastLog: (msg) => bed().lastLog(msg),
    tokensBooked: () => bed().tokensBooked(),
    close: () => bed().close(),
  };
}

/** A plain chat request through the SDK, with the raw response for headers. */
export function ask(bed: FaultBed, content = 'hi, how are you?') {
  return bed.client.chat.completions
    .create({ model: 'auto', messages: [{ role: 'user', content }] })
    .withResponse();
}

/** A streamed chat request through the SDK: the text, the finish reason and the chunk count. */
export async function askStream(bed: FaultBed, content = 'hi, how are you?') {
  const stream = await bed.client.chat.completions.create({
    model: 'auto',
    messages: [{ role: 'user', content }],
    stream: true,
  });
  let text = '';
  let finish: string | null | undefined;
  for await (const c of stream) {
    text += c.choices[0]?.delta.content ?? '';
    finish = c.choices[0]?.finish_reason ?? finish;
  }
  return { text, finish };
}

/** POSTs raw bytes to the sidecar's chat endpoint (for bodies no SDK would send). */
export async function postRaw(
  bed: FaultBed,
  body: Buffer | string,
  headers: Record<string, string> = {},
): Promise<{
  status: number;
  headers: Headers;
  json: { error?: { code?: string; message?: string; param?: string | null } };
}> {
  const res = await fetch(`${bed.sidecar.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as never };
}
