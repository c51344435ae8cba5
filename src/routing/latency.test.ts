import { describe, expect, it } from 'vitest';
import { LatencyBoard, type LatencyView, sloOrder } from './latency.js';

describe('LatencyBoard', () => {
  it('reports p95 within a bucket (15%) of the exact quantile', () => {
    const b = new LatencyBoard({ halfLifeMs: 1e12 });
    // 1..100 ms, each once: the exact p95 is 95 ms.
    for (let i = 1; i <= 100; i++) b.observe('p/m', { totalMs: i, ttftMs: i / 2 }, 0);
    const v = b.view('p/m', 0)!;
    expect(v.totalP95Ms).toBeGreaterThanOrEqual(95);
    expect(v.totalP95Ms).toBeLessThanOrEqual(95 * 1.15);
    expect(v.ttftP95Ms!).toBeGreaterThanOrEqual(47.5);
    expect(v.ttftP95Ms!).toBeLessThanOrEqual(47.5 * 1.15);
    expect(v.samples).toBeCloseTo(100, 6);
  });

  it('lets old observations fade: a provider slow an hour ago and fast now is judged by now', () => {
    const b = new LatencyBoard({ halfLifeMs: 60_000 });
    for (let i = 0; i < 50; i++) b.observe('k', { totalMs: 5_000 }, 0);
    expect(b.view('k', 0)!.totalP95Ms).toBeGreaterThanOrEqual(5_000);
    const later = 60 * 60_000;
    for (let i = 0; i < 10; i++) b.observe('k', { totalMs: 100 }, later);
    const v = b.view('k', later)!;
    expect(v.totalP95Ms).toBeLessThan(200);
    // 50 observations 60 half-lives ago weigh nothing next to 10 now.
    expect(v.samples).toBeCloseTo(10, 3);
  });

  it('halves the weight of observations every half-life', () => {
    const b = new LatencyBoard({ halfLifeMs: 1_000 });
    for (let i = 0; i < 8; i++) b.observe('k', { totalMs: 10 }, 0);
    expect(b.view('k', 1_000)!.samples).toBeCloseTo(4, 9);
    expect(b.view('k', 3_000)!.samples).toBeCloseTo(1, 9);
  });

  it('measures tokens per second over the time after the first byte', () => {
    const b = new LatencyBoard({ halfLifeMs: 1e12 });
    b.observe('k', { ttftMs: 200, totalMs: 1_200, outputTokens: 100 }, 0);
    b.observe('k', { totalMs: 500, outputTokens: 100 }, 0);
    expect(b.view('k', 0)!.tokensPerSecond).toBeCloseTo((100 + 200) / 2, 9);
  });

  it('tracks a bounded number of targets, dropping the least recently observed', () => {
    const b = new LatencyBoard({ maxKeys: 2 });
    b.observe('a', { totalMs: 1 }, 0);
    b.observe('b', { totalMs: 1 }, 0);
    b.observe('a', { totalMs: 1 }, 1);
    b.observe('c', { totalMs: 1 }, 2);
    expect(b.size).toBe(2);
    expect(b.view('b', 2)).toBeUndefined();
    expect(b.view('a', 2)).toBeDefined();
  });
});

describe('sloOrder', () => {
  const t = (key: string, outputPerMTok = 1) => ({ key, outputPerMTok });
  const views: Record<string, LatencyView> = {
    slow: { ttftP95Ms: 900, totalP95Ms: 4_000, tokensPerSecond: 20, samples: 30 },
    fast: { ttftP95Ms: 100, totalP95Ms: 600, tokensPerSecond: 90, samples: 30 },
    fewSlow: { ttftP95Ms: 5_000, totalP95Ms: 9_000, tokensPerSecond: 5, samples: 2 },
  };
  const view = (k: string) => views[k];

  it('skips targets whose p95 breaks the SLO in favour of the next that meets it', () => {
    const r = sloOrder([t('slow'), t('fast')], { maxTTFTMs: 500, policy: 'first' }, view, 5);
    expect(r).toEqual({
      kind: 'ok',
      order: [t('fast')],
      skipped: [{ target: t('slow'), why: 'ttft', p95Ms: 900, limitMs: 500 }],
    });
    const total = sloOrder([t('slow'), t('fast')], { maxLatencyMs: 1_000, policy: 'first' }, view, 5);
    expect(total.skipped.map((s) => s.why)).toEqual(['latency']);
  });

  it('keeps targets with too few observations, and targets never seen', () => {
    const r = sloOrder([t('fewSlow'), t('unseen')], { maxTTFTMs: 500, policy: 'fail' }, view, 5);
    expect(r).toMatchObject({ kind: 'ok', order: [t('fewSlow'), t('unseen')], skipped: [] });
  });

  it('when none meets it, follows the policy', () => {
    const ts = [t('slow', 10), t('fast', 2)];
    const slo = { maxLatencyMs: 100 };
    expect(sloOrder(ts, { ...slo, policy: 'first' }, view, 5)).toMatchObject({
      kind: 'none-meets',
      order: ts,
    });
    expect(sloOrder(ts, { ...slo, policy: 'cheapest' }, view, 5).order).toEqual([
      t('fast', 2),
      t('slow', 10),
    ]);
    const fail = sloOrder(ts, { ...slo, policy: 'fail' }, view, 5);
    expect(fail).toMatchObject({ kind: 'none-meets', order: [], policy: 'fail' });
    expect(fail.skipped).toHaveLength(2);
  });
});
