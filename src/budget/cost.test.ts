import { describe, expect, it } from 'vitest';
import type { ModelEntry, ModelRouteSpec } from '../api/modelroute.js';
import { baselineCostUSD, costUSD, DEFAULT_OUTPUT_ESTIMATE, estimateCostUSD } from './cost.js';

const model = (over: Partial<ModelEntry> = {}): ModelEntry => ({
  name: 'm',
  targets: [{ provider: 'p' }],
  pricing: { inputPerMTok: 2.5, outputPerMTok: 10 },
  contextWindow: 128_000,
  ...over,
});

describe('cost', () => {
  it('prices input and output per million tokens', () => {
    expect(costUSD({ inputPerMTok: 2.5, outputPerMTok: 10 }, 1_000_000, 0)).toBe(2.5);
    expect(costUSD({ inputPerMTok: 2.5, outputPerMTok: 10 }, 1000, 500)).toBeCloseTo(0.0025 + 0.005, 12);
    expect(costUSD({ inputPerMTok: 0, outputPerMTok: 0 }, 1000, 1000)).toBe(0);
    expect(costUSD({ inputPerMTok: 1, outputPerMTok: 1 }, -5, -5)).toBe(0);
  });

  it('a count that is no number costs nothing rather than NaN', () => {
    expect(costUSD({ inputPerMTok: 1, outputPerMTok: 2 }, 1_000_000, Number.NaN)).toBe(1);
    expect(costUSD({ inputPerMTok: 1, outputPerMTok: 2 }, Number.POSITIVE_INFINITY, undefined as never)).toBe(
      0,
    );
  });

  it('baseline cost uses the baseline model, or 0 without one', () => {
    const spec = {
      models: [model({ name: 'base', pricing: { inputPerMTok: 3, outputPerMTok: 15 } })],
      baselineModel: 'base',
    };
    expect(baselineCostUSD(spec as ModelRouteSpec, 1_000_000, 1_000_000)).toBe(18);
    expect(baselineCostUSD({ ...spec, baselineModel: undefined } as ModelRouteSpec, 1000, 1000)).toBe(0);
  });

  it('pre-call estimate: requested max tokens, else a default, capped by the model', () => {
    const m = model();
    expect(estimateCostUSD(m, 1000, 2000)).toBeCloseTo(costUSD(m.pricing, 1000, 2000), 12);
    expect(estimateCostUSD(m, 1000)).toBeCloseTo(costUSD(m.pricing, 1000, DEFAULT_OUTPUT_ESTIMATE), 12);
    expect(estimateCostUSD(model({ maxOutputTokens: 100 }), 1000, 2000)).toBeCloseTo(
      costUSD(m.pricing, 1000, 100),
      12,
    );
    expect(estimateCostUSD(model({ contextWindow: 1200 }), 1000, 2000)).toBeCloseTo(
      costUSD(m.pricing, 1000, 200),
      12,
    );
  });
});

describe('costUSD with prompt-cache counts', () => {
  const sonnet = { inputPerMTok: 3, outputPerMTok: 15, cachedInputPerMTok: 0.3, cacheWritePerMTok: 3.75 };

  it('prices cache reads and writes (parts of the input count) at their own prices', () => {
    // 1210 input tokens of which 1000 read and 200 written, 5 output: 10*3 + 1000*0.3 + 200*3.75 + 5*15 per 1M.
    expect(costUSD(sonnet, 1210, 5, { read: 1000, write: 200 })).toBeCloseTo(0.001155, 12);
  });

  it('without cache prices, every input token costs inputPerMTok, as before', () => {
    expect(costUSD({ inputPerMTok: 3, outputPerMTok: 15 }, 1210, 5, { read: 1000, write: 200 })).toBeCloseTo(
      0.003705,
      12,
    );
  });

  it('caps cache counts at the input count, so a garbled count never prices a token twice', () => {
    expect(costUSD(sonnet, 100, 0, { read: 500, write: 50 })).toBeCloseTo((100 * 0.3) / 1e6, 12);
    expect(costUSD(sonnet, 100, 0, { read: Number.NaN, write: -5 })).toBeCloseTo((100 * 3) / 1e6, 12);
  });

  it('prices the baseline with its own cache prices', () => {
    const spec = {
      baselineModel: 'big',
      models: [
        model({ name: 'big', pricing: { inputPerMTok: 10, outputPerMTok: 0, cachedInputPerMTok: 1 } }),
      ],
    } as unknown as ModelRouteSpec;
    expect(baselineCostUSD(spec, 1000, 0, { read: 1000 })).toBeCloseTo(0.001, 12);
  });
});
