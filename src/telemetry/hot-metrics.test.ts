import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { HotCounter, HotHistogram } from './hot-metrics.js';

/** The same observations through prom-client's own metrics and through ours must render the same exposition. */
describe('hot metrics render exactly what prom-client would', () => {
  it('counters', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const a = new HotCounter('t_total', 'help "quoted"\\', ['route', 'status'] as const, ours);
    const b = new Counter({
      name: 't_total',
      help: 'help "quoted"\\',
      labelNames: ['route', 'status'],
      registers: [theirs],
    });
    for (const [route, status, by] of [
      ['r1', '200', 1],
      ['r2', '502', 2.5],
      ['r1', '200', 3],
      ['r"x\n', '200', 1],
    ] as const) {
      a.inc({ route, status }, by);
      b.inc({ route, status }, by);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('histograms', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const buckets = [0.005, 0.1, 1, 10];
    const a = new HotHistogram('d_seconds', 'durations', ['route'] as const, buckets, ours);
    const b = new Histogram({
      name: 'd_seconds',
      help: 'durations',
      labelNames: ['route'],
      buckets,
      registers: [theirs],
    });
    for (const [route, v] of [
      ['r1', 0.001],
      ['r1', 0.005],
      ['r1', 0.5],
      ['r2', 50],
      ['r1', 3],
    ] as const) {
      a.observe({ route }, v);
      b.observe({ route }, v);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });
});
