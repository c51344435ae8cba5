import { describe, expect, it } from 'vitest';
import { logTicks, niceAbove, niceBelow, renderLatencyChart } from './svg-chart.js';

describe('logTicks', () => {
  it('gives 1-2-5 steps inside the range', () => {
    expect(logTicks(10, 1000)).toEqual([10, 20, 50, 100, 200, 500, 1000]);
    expect(logTicks(1, 10)).toEqual([1, 2, 5, 10]);
  });
});

describe('niceBelow / niceAbove', () => {
  it('bracket a value by the nearest 1-2-5 steps', () => {
    expect(niceBelow(23.7)).toBe(20);
    expect(niceBelow(7)).toBe(5);
    expect(niceBelow(100)).toBe(100);
    expect(niceAbove(14_949)).toBe(20_000);
    expect(niceAbove(3.2)).toBe(5);
    expect(niceAbove(50)).toBe(50);
    expect(niceAbove(600)).toBe(1000);
  });
});

describe('renderLatencyChart', () => {
  const chart = renderLatencyChart({
    title: 'Latency <vs> rate',
    subtitle: 'fixture 20 ms',
    xs: [50, 100, 200],
    series: [
      { label: 'direct', p50: [21, 21, 22], p99: [25, 26, 30] },
      { label: 'slow & steady', p50: [40, 80, undefined], p99: [90, 400, Number.NaN] },
    ],
  });

  it('draws one p50 and one p99 line per series, skipping missing points', () => {
    const lines = [
      ...chart.matchAll(/<polyline data-series="([^"]+)" data-stat="(p50|p99)" points="([^"]+)"/g),
    ];
    expect(lines.map((m) => `${m[1]}/${m[2]}`)).toEqual([
      'direct/p50',
      'direct/p99',
      'slow &amp; steady/p50',
      'slow &amp; steady/p99',
    ]);
    expect(lines[2]![3]!.split(' ')).toHaveLength(2);
  });

  it('puts higher latencies higher on the page, and escapes text', () => {
    const direct = /data-series="direct" data-stat="p50" points="([^"]+)"/.exec(chart)![1]!;
    const slow = /data-series="slow &amp; steady" data-stat="p50" points="([^"]+)"/.exec(chart)![1]!;
    const yOf = (pts: string) => Number(pts.split(' ')[0]!.split(',')[1]);
    expect(yOf(slow)).toBeLessThan(yOf(direct));
    expect(chart).toContain('Latency &lt;vs&gt; rate');
    expect(chart.startsWith('<svg')).toBe(true);
    expect(chart.trim().endsWith('</svg>')).toBe(true);
  });
});
