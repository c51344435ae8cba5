/**
 * The streaming latency histograms through the real sidecar and the OpenAI SDK: time to first token (as the client
 * waits for it) and time per output token after it, read back from /metrics and checked by promtool.
 */
import { spawnSync } from 'node:child_process';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { behave, type Fixture, startOpenAIFixture } from '../fixtures/providers/index.js';
import { routeConfig, SIMPLE_PROMPT } from '../helpers/config.js';
import { promlint } from '../helpers/promlint-bin.js';
import { metricValue, startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

let up: Fixture;
let s: TestSidecar;
let client: OpenAI;
beforeAll(async () => {
  up = await startOpenAIFixture();
  s = await startTestSidecar(
    routeConfig({
      upstreams: [{ name: 'up', baseURL: up.baseURL }],
      cheap: [{ name: 'small-model', upstreams: ['up'] }],
      premium: [{ name: 'big-model', upstreams: ['up'] }],
      cascade: { enabled: false, checks: [], maxEscalations: 0 },
    }),
  );
  client = new OpenAI({ baseURL: s.baseURL, apiKey: 'x', maxRetries: 0 });
});
afterAll(async () => {
  await s.close();
  await up.close();
});

const labels = { route: 'default', provider: 'up', model: 'small-model' };
const messages = [{ role: 'user' as const, content: SIMPLE_PROMPT }];
const metrics = async () => (await s.metrics.text()).body;

describe('stream latency histograms', () => {
  it('time to first token counts from the request, time per output token from the first chunk on', async () => {
    // Headers after 200 ms, then six words 30 ms apart: TTFT at least 0.2 s, each further token at least 30 ms.
    up.script([
      {
        ...behave.ok('one two three four five six', { prompt: 5, completion: 6 }),
        firstByteDelayMs: 200,
        chunkDelayMs: 30,
      },
    ]);
    const stream = await client.chat.completions.create({ model: 'auto', messages, stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe('one two three four five six');
    const m = await metrics();
    expect(metricValue(m, 'tiermesh_time_to_first_token_seconds_count', labels)).toBe(1);
    expect(metricValue(m, 'tiermesh_time_to_first_token_seconds_sum', labels)).toBeGreaterThanOrEqual(0.2);
    expect(metricValue(m, 'tiermesh_time_to_first_token_seconds_bucket', { ...labels, le: '0.1' })).toBe(0);
    expect(metricValue(m, 'tiermesh_time_per_output_token_seconds_count', labels)).toBe(1);
    expect(metricValue(m, 'tiermesh_time_per_output_token_seconds_sum', labels)).toBeGreaterThanOrEqual(
      0.025,
    );
    expect(metricValue(m, 'tiermesh_time_per_output_token_seconds_bucket', { ...labels, le: '0.01' })).toBe(
      0,
    );

    const r = spawnSync(promlint(), [], { input: m, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('a whole answer observes neither; a broken stream its first token only', async () => {
    up.script([behave.ok('hello', { prompt: 5, completion: 1 })]);
    await client.chat.completions.create({ model: 'auto', messages });
    let m = await metrics();
    expect(metricValue(m, 'tiermesh_time_to_first_token_seconds_count', labels)).toBe(1);

    up.script([{ ...behave.ok('one two three four five six'), breakAfterChunks: 3 }]);
    const stream = await client.chat.completions.create({ model: 'auto', messages, stream: true });
    const err = await (async () => {
      for await (const _ of stream);
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    m = await metrics();
    expect(metricValue(m, 'tiermesh_time_to_first_token_seconds_count', labels)).toBe(2);
    expect(metricValue(m, 'tiermesh_time_per_output_token_seconds_count', labels)).toBe(1);
  });
});
