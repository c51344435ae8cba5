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
