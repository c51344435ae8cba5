/** The shape of one `make bench` peers run: what was measured, on what, and what failed. */
import type { RunResult } from './load.js';
import type { Memory } from './procstat.js';

export interface SystemResult {
  id: string;
  label: string;
  version: string;
  /** Why the system could not be measured (install, start or smoke-test failure); absent when it was. */
  failure?: string;
  memory?: { idle?: Memory; after?: Memory };
  /** Non-streaming, open loop, one entry per rate. */
  open: RunResult[];
  /** Rates not run, with the reason: the system did not hold a lower one (bench/lib/holds.ts). */
  skipped?: Record<number, string>;
  /** Streaming, open loop, one rate. */
  stream?: RunResult;
  /** Non-streaming, closed loop, fixed concurrency. */
  closed?: RunResult;
}

export interface Machine {
  cpu: string;
  cores: number;
  memGiB: number;
  kernel: string;
  node: string;
  /** /proc/loadavg when the run started: other work on the machine shows here. */
  loadavg: string;
  /** /proc/loadavg when the run ended. */
  loadavgEnd?: string;
}

export interface Settings {
  upstreamLatencyMs: number;
  streamChunks: number;
  chunkIntervalMs: number;
  rates: number[];
  streamRate: number;
  durationMs: number;
  concurrency: number;
  /** Whether the proxy under test had one CPU and the load generator + fixture the other. */
  pinned: boolean;
}

export interface BenchRun {
  date: string;
  machine: Machine;
  settings: Settings;
  systems: SystemResult[];
}
