/** Per-call microbenchmark: wall-clock and on-CPU p50/p99 in microseconds, for in-process functions. */

export interface MicroStats {
  p50: number;
  p99: number;
}

function pct(samples: Float64Array): MicroStats {
  const s = Float64Array.from(samples).sort();
  return { p50: s[Math.floor(s.length * 0.5)]!, p99: s[Math.floor(s.length * 0.99)]! };
}

// Results feed a sink the caller can't see, so the optimiser cannot drop the measured call.
let sink = 0;

/**
 * Calls `fn(i % inputs)` `iterations` times after a warm-up. On a loaded machine wall-clock p99 measures the
 * scheduler; on-CPU time (getrusage via process.cpuUsage) measures the code.
 */
export function measureMicro(
  fn: (i: number) => number,
  iterations: number,
  inputs: number,
): { wall: MicroStats; cpu: MicroStats } {
  for (let i = 0; i < 2000; i++) sink += fn(i % inputs);
  const wall = new Float64Array(iterations);
  const cpu = new Float64Array(iterations);
  for (let i = 0; i < iterations; i++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    sink += fn(i % inputs);
    const t1 = process.hrtime.bigint();
    const c1 = process.cpuUsage(c0);
    wall[i] = Number(t1 - t0) / 1000;
    cpu[i] = c1.user + c1.system;
  }
  if (sink === Number.MIN_VALUE) process.stdout.write('');
  return { wall: pct(wall), cpu: pct(cpu) };
}
