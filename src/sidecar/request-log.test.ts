import { describe, expect, it } from 'vitest';
import type { ChatCompletionRequest } from '../api/openai.js';
import { TiermeshError } from '../errors.js';
import type { RouteDecision } from '../routing/types.js';
import { createLogger } from '../telemetry/logger.js';
import { SidecarMetrics } from '../telemetry/metrics.js';
import { logRequest, newTrace, servedBy } from './request-log.js';

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
