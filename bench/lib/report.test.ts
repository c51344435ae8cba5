import { describe, expect, it } from 'vitest';
import type { RunResult } from './load.js';
import { cpuPerAnswer, renderMarkdown } from './report.js';
import type { BenchRun } from './results.js';
import { summarize } from './stats.js';

function run(rate: number, latencies: number[], extra: Partial<RunResult> = {}): RunResult {
  return {
    mode: 'open',
    stream: false,
    rate,
    concurrency: 256,
    sent: latencies.length,
    ok: latencies.length,
    errors: 0,
    errorKinds: {},
    latency: summarize(latencies),
    ttfb: summarize(latencies),
    elapsedMs: 10_000,
    throughput: latencies.length / 10,
    ...extra,
  };
}

const bench: BenchRun = {
  date: '2026-11-23T11:00:00Z',
  machine: { cpu: 'Test CPU', cores: 2, memGiB: 24, kernel: '6.1', node: 'v22.23.3', loadavg: '0.5 0.4 0.3' },
  settings: {
    upstreamLatencyMs: 20,
    streamChunks: 8,
    chunkIntervalMs: 2,
    rates: [50],
    streamRate: 50,
    durationMs: 10_000,
    concurrency: 64,
    pinned: true,
  },
  systems: [
    { id: 'direct', label: 'direct', version: '-', open: [run(50, [20, 20, 22])] },
    { id: 'bare', label: 'bare', version: 'node', open: [run(50, [21, 21, 24])] },
    {
      id: 'tiermesh',
      label: 'tiermesh',
      version: 'tiermesh 0.1.0',
      open: [run(50, [23, 23, 30], { sent: 4, errors: 1, errorKinds: { 'HTTP 502': 1 } })],
    },
    { id: 'litellm', label: 'LiteLLM', version: 'litellm 1', open: [], failure: 'exited during start: boom' },
  ],
};

describe('renderMarkdown', () => {
  const md = renderMarkdown(bench);
  const section = (heading: string) => md.slice(md.indexOf(heading));
  const line = (label: string, from = '### 50 requests/s') =>
    section(from)
      .split('\n')
      .find((l) => l.startsWith(`| ${label} |`))!;

  it('shows absolute percentiles, added latency and ratios vs direct and vs bare', () => {
    // tiermesh p50 23 vs direct 20 and bare 21: +3.0 ms, 1.15× direct, 1.10× bare, 3× the bare proxy's overhead.
    expect(line('tiermesh')).toMatch(
      /^\| tiermesh \| 23\.0 \| 30\.0 \| \+3\.0 \| \+8\.0 \| 1\.15× \| 1\.36× \| 1\.10× \| 3\.00× \|/,
    );
    expect(line('direct')).toContain('| 20.0 | 22.0 | +0.0 | +0.0 | 1.00× |');
  });

  it('opens with one line per system of added latency at the lowest rate', () => {
    expect(line('tiermesh', '## At a glance')).toMatch(/^\| tiermesh \| \+3\.0 \| \+8\.0 \|/);
    expect(md.indexOf('## At a glance')).toBeLessThan(md.indexOf('## Machine and method'));
  });

  it('marks failed requests and lists why, and reports systems that could not run', () => {
    expect(line('tiermesh')).toContain('3/4 (**1 failed**)');
    expect(md).toContain('- tiermesh, 50 rps: 1× HTTP 502');
    expect(md).toMatch(/## Not measured\n\n- \*\*LiteLLM\*\* \(litellm 1\): exited during start: boom/);
  });

  it('names the machine, the date and the command to reproduce', () => {
    expect(md).toContain('Test CPU, 2 cores, 24 GiB RAM');
    expect(md).toContain('2026-11-23T11:00:00Z');
    expect(md).toContain('`make bench`');
  });
});

describe('renderMarkdown, rates a system did not hold', () => {
  const md = renderMarkdown({
    ...bench,
    settings: { ...bench.settings, rates: [50, 1000] },
    systems: [
      { id: 'direct', label: 'direct', version: '-', open: [run(50, [20, 21]), run(1000, [20, 22])] },
      { id: 'bare', label: 'bare', version: 'node', open: [run(50, [21, 22]), run(1000, [21, 23])] },
      {
        id: 'slow',
        label: 'slow',
        version: 'slow 1',
        open: [run(50, [900, 1100, 1200])],
        skipped: { 1000: 'p50 1100 ms at 50 rps (queueing)' },
      },
    ],
  });
  const line = (label: string, from: string) =>
    md
      .slice(md.indexOf(from))
      .split('\n')
      .find((l) => l.startsWith(`| ${label} |`))!;

  it('marks the rate not run and says why', () => {
    expect(line('slow', '### 1000 requests/s')).toMatch(/\| not run \|$/);
    expect(md).toContain('Not run where a lower rate was not held (slow: p50 1100 ms at 50 rps (queueing)).');
  });

  it('gives the highest rate each system held at a glance', () => {
    expect(line('bare', '## At a glance')).toMatch(/\| 1000 \| [^|]+ \|$/);
    expect(line('slow', '## At a glance')).toMatch(/\| none \| [^|]+ \|$/);
  });
});

describe('cpuPerAnswer', () => {
  it('divides the proxy CPU time by the successful answers, and is NaN without a process or answers', () => {
    expect(cpuPerAnswer(run(50, [1, 2, 3, 4], { proxyCpuMs: 10 }))).toBe(2.5);
    expect(cpuPerAnswer(run(50, [1, 2]))).toBeNaN();
    expect(cpuPerAnswer(run(50, [], { proxyCpuMs: 10 }))).toBeNaN();
    expect(cpuPerAnswer(undefined)).toBeNaN();
  });
});
