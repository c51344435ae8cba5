import { describe, expect, it } from 'vitest';
import type { ChatCompletionRequest } from '../api/openai.js';
import { TiermeshError } from '../errors.js';
import type { FallbackEvent } from '../providers/failover.js';
import type { RouteDecision } from '../routing/types.js';
import { createLogger } from '../telemetry/logger.js';
import { SidecarMetrics } from '../telemetry/metrics.js';
import { logFallback, logRequest, newTrace, servedBy } from './request-log.js';

function logged(
  fill: (t: ReturnType<typeof newTrace>) => void,
  opts: { logPrompts?: boolean; err?: TiermeshError } = {},
) {
  const lines: string[] = [];
  const logger = createLogger({ destination: { write: (l: string) => void lines.push(l) } });
  const t = newTrace('req-1');
  fill(t);
  logRequest(
    { metrics: new SidecarMetrics(), logger, logPrompts: opts.logPrompts ?? false },
    t,
    200,
    opts.err,
  );
  expect(lines).toHaveLength(1);
  expect(lines[0]!.endsWith('}\n')).toBe(true);
  return { raw: lines[0]!, line: JSON.parse(lines[0]!) as Record<string, unknown> };
}

describe('logRequest', () => {
  it('writes one JSON line with the fields in their order, and none that do not apply', () => {
    const { line } = logged(() => {});
    expect(Object.keys(line)).toEqual([
      'level',
      'time',
      'component',
      'requestId',
      'route',
      'tier',
      'model',
      'provider',
      'stream',
      'attempts',
      'escalations',
      'status',
      'latencyMs',
      'inputTokens',
      'outputTokens',
      'costUSD',
      'msg',
    ]);
    expect(line).toMatchObject({
      requestId: 'req-1',
      route: 'none',
      tier: 'none',
      status: 200,
      msg: 'request',
    });
  });

  it('escapes what needs escaping, writes an impossible number as null, and keeps the error and the prompt', () => {
    const request = { model: 'auto', messages: [{ role: 'user', content: 'say "hi"\nthen\u2028stop' }] };
    const { line } = logged(
      (t) => {
        t.served = { provider: 'p\\1', model: 'weird "model"\tnäme' } as never;
        t.promotedFrom = 'cheap';
        t.hedged = 'won';
        t.spent = { costUSD: Number.NaN, inputTokens: 3, outputTokens: Number.POSITIVE_INFINITY };
        t.request = request as ChatCompletionRequest;
      },
      { logPrompts: true, err: new TiermeshError('TM_INTERNAL', 'went "wrong"') },
    );
    expect(line).toMatchObject({
      model: 'weird "model"\tnäme',
      provider: 'p\\1',
      promotedFrom: 'cheap',
      hedged: 'won',
      costUSD: null,
      inputTokens: 3,
      outputTokens: null,
      error: { code: 'TM_INTERNAL' },
    });
    expect(line['prompt']).toContain('say "hi"\nthen\u2028stop');
  });

  it('without --log-prompts the line holds nothing the client wrote', () => {
    const { raw } = logged((t) => {
      t.request = {
        model: 'auto',
        messages: [{ role: 'user', content: 'secret plan' }],
      } as ChatCompletionRequest;
    });
    expect(raw).not.toContain('secret plan');
  });
});

describe('servedBy', () => {
  const decision = {
    route: 'r',
    tierName: 'cheap',
    models: [{ name: 'small' }],
    spec: {},
  } as unknown as RouteDecision;

  it("names the decided tier's first model when nothing served, but no model once promotion left that tier", () => {
    const t = newTrace('req-1');
    t.decision = decision;
    t.tier = 'cheap';
    expect(servedBy(t)).toMatchObject({ model: 'small', provider: 'none', tier: 'cheap' });
    t.promotedFrom = 'cheap';
    t.tier = 'premium';
    expect(servedBy(t)).toMatchObject({
      model: 'none',
      provider: 'none',
      tier: 'premium',
      promotedFrom: 'cheap',
    });
    t.served = { provider: 'p', model: 'big', upstreamModel: 'big-1' };
    expect(servedBy(t)).toMatchObject({ model: 'big', provider: 'p', tier: 'premium' });
  });
});

describe('logRequest: an error whose message echoes the prompt', () => {
  const err = () =>
    new TiermeshError('TM_INVALID_REQUEST', 'upstream said: bad "secret words"', {
      logMessage: 'upstream said: bad "[prompt]"',
    });
  it('logs the log-safe message, and the whole one only with --log-prompts', () => {
    expect(logged(() => {}, { err: err() }).line['error']).toEqual({
      code: 'TM_INVALID_REQUEST',
      message: 'upstream said: bad "[prompt]"',
    });
    expect(logged(() => {}, { err: err(), logPrompts: true }).line['error']).toEqual({
      code: 'TM_INVALID_REQUEST',
      message: 'upstream said: bad "secret words"',
    });
  });
});

describe('logFallback', () => {
  const served = { provider: 'a', model: 'm', upstreamModel: 'm' };
  const ev = (
    reason: FallbackEvent['reason'],
    action: FallbackEvent['action'],
    provider = 'a',
    route = 'r',
  ): FallbackEvent => ({
    route,
    from: { ...served, provider },
    reason,
    latencyMs: reason === 'breaker_open' ? 0 : 5,
    action,
  });

  async function run(events: FallbackEvent[], end: { ok: boolean }, metrics = new SidecarMetrics()) {
    const lines: string[] = [];
    const logger = createLogger({
      level: 'debug',
      destination: { write: (l: string) => void lines.push(l) },
    });
    const deps = { metrics, logger, logPrompts: false };
    const t = newTrace('req-1');
    for (const e of events) logFallback(deps, t, e);
    if (end.ok) t.served = served;
    logRequest(
      deps,
      t,
      end.ok ? 200 : 502,
      end.ok ? undefined : new TiermeshError('TM_ALL_TARGETS_FAILED', 'x'),
    );
    const text = await metrics.registry.metrics();
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    return { text, fallbackLevels: parsed.filter((l) => l['msg'] === 'fallback').map((l) => l['level']) };
  }
  const count = (text: string) =>
    text
      .split('\n')
      .filter((l) => l.startsWith('tiermesh_fallbacks_total{'))
      .map(
        (l) =>
          `${/route="(\w+)",from_provider="(\w+)",reason="(\w+)"/.exec(l)!.slice(1).join('/')} ${l.split(' ').at(-1)}`,
      );

  it('counts a failed call only when another call follows it: a retry, another target, the answer', async () => {
    const { text } = await run(
      [ev('server_error', 'retry'), ev('timeout', 'next-target'), ev('breaker_open', 'next-target', 'c')],
      { ok: true },
    );
    expect(count(text)).toEqual(['r/a/server_error 1', 'r/a/timeout 1']);
  });

  it("counts each route's fallbacks apart, though both routes name the provider alike", async () => {
    const metrics = new SidecarMetrics();
    await run([ev('server_error', 'next-target', 'a', 'r1')], { ok: true }, metrics);
    await run(
      [ev('server_error', 'retry', 'a', 'r2'), ev('server_error', 'next-target', 'a', 'r2')],
      { ok: true },
      metrics,
    );
    const text = await metrics.registry.metrics();
    expect(count(text)).toEqual(['r1/a/server_error 1', 'r2/a/server_error 2']);
  });

  it("names the failed target's route in the fallback line", async () => {
    const lines: string[] = [];
    const logger = createLogger({ destination: { write: (l: string) => void lines.push(l) } });
    logFallback(
      { metrics: new SidecarMetrics(), logger, logPrompts: false },
      newTrace('req-1'),
      ev('timeout', 'retry', 'a', 'r2'),
    );
    expect(JSON.parse(lines[0]!)).toMatchObject({
      msg: 'fallback',
      route: 'r2',
      from: 'a',
      reason: 'timeout',
    });
  });

  it('does not count the last failure of a failed request, a stop, or a skip', async () => {
    expect(
      count(
        (await run([ev('server_error', 'retry'), ev('server_error', 'next-target')], { ok: false })).text,
      ),
    ).toEqual(['r/a/server_error 1']);
    expect(count((await run([ev('client_error', 'stop')], { ok: false })).text)).toEqual([]);
    expect(count((await run([ev('breaker_open', 'next-target')], { ok: true })).text)).toEqual([]);
  });

  it('logs skips and a client error at debug, real failures as warnings', async () => {
    const { fallbackLevels } = await run(
      [
        ev('breaker_open', 'next-target'),
        ev('unavailable', 'next-target'),
        ev('server_error', 'next-target'),
        ev('client_error', 'stop'),
      ],
      { ok: false },
    );
    // pino levels: 20 debug, 30 info, 40 warn.
    expect(fallbackLevels).toEqual([20, 20, 40, 20]);
  });

  it('logs "no promotion" with the outcome: a warning only when the request failed', async () => {
    for (const ok of [true, false]) {
      const lines: string[] = [];
      const logger = createLogger({
        level: 'debug',
        destination: { write: (l: string) => void lines.push(l) },
      });
      const t = newTrace('req-1');
      t.promotionStop = { from: 'cheap', why: 'no-tier' };
      if (ok) t.served = served;
      logRequest(
        { metrics: new SidecarMetrics(), logger, logPrompts: false },
        t,
        ok ? 200 : 502,
        ok ? undefined : new TiermeshError('TM_ALL_TARGETS_FAILED', 'x'),
      );
      const stop = lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l['msg'] === 'no promotion');
      expect(stop).toMatchObject([{ level: ok ? 30 : 40, why: 'no-tier', requestId: 'req-1' }]);
    }
  });
});
