import { describe, expect, it } from 'vitest';
import { notHeld } from './holds.js';
import type { RunResult } from './load.js';
import { summarize } from './stats.js';

function run(latencies: number[], errors = 0): RunResult {
  const latency = summarize(latencies);
  return {
    mode: 'open',
    stream: false,
    rate: 200,
    concurrency: 256,
    sent: latencies.length + errors,
    ok: latencies.length,
    errors,
    errorKinds: errors ? { UND_ERR_HEADERS_TIMEOUT: errors } : {},
    latency,
    ttfb: latency,
    elapsedMs: 10_000,
    throughput: latencies.length / 10,
  };
}

describe('notHeld', () => {
  it('holds: all answered, median near the upstream latency', () => {
    expect(notHeld(run([21, 22, 23, 80]), 20)).toBeUndefined();
  });

  it('a single failed request is not holding the rate', () => {
    expect(notHeld(run([21, 22, 23], 1), 20)).toBe('1 of 4 requests failed at 200 rps');
  });

  it('a median past 25x the upstream latency is a queue; a few hundred ms of noise is not', () => {
    expect(notHeld(run([900, 1100, 1200]), 20)).toMatch(/^p50 1100 ms at 200 rps \(over 25x/);
    expect(notHeld(run([300, 340, 400]), 20)).toBeUndefined();
    expect(notHeld(run([499, 500, 501]), 20)).toBeUndefined();
    expect(notHeld(run([500, 501, 502]), 20)).toMatch(/queueing/);
  });

  it('no answers at all is not holding it', () => {
    expect(notHeld(run([]), 20)).toMatch(/p50 NaN/);
  });
});
