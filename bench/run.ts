/** `make bench`: tiermesh side by side with a bare proxy, Portkey and LiteLLM in front of one fixture upstream. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { canPin, killAllLaunched, launch, pinProcess, sleep, waitListening } from './lib/child.js';
import { notHeld } from './lib/holds.js';
import { checkAnswer, closedLoop, openLoop, type RunResult, type Target } from './lib/load.js';
import { treeCpuTicks, treeMemory } from './lib/procstat.js';
import { renderMarkdown } from './lib/report.js';
import type { BenchRun, Machine, Settings, SystemResult } from './lib/results.js';
import { renderLatencyChart } from './lib/svg-chart.js';
import { systems } from './peers/index.js';
import type { Running, System } from './peers/types.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ). */
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const LOAD_CPU = 0;
const PROXY_CPU = 1;

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    // 20 rps is below every system's saturation point here, even LiteLLM's on a shared core. A rate runs only on the
    // systems that held the one below it (bench/lib/holds.ts), so 1,000 rps is measured for every system that holds it.
    rates: { type: 'string', default: '20,50,100,200,500,1000' },
    'stream-rate': { type: 'string', default: '50' },
    'duration-ms': { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '64' },
    'latency-ms': { type: 'string', default: '20' },
    out: { type: 'string', default: 'bench/RESULTS.md' },
    svg: { type: 'string', default: 'bench/latency-vs-rate.svg' },
    json: { type: 'string', default: 'bench/out/peers.json' },
  },
});

function positive(name: string, v: string | undefined): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
  return n;
}

function loadavg(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

function machine(): Machine {
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown CPU',
    cores: cpus().length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    loadavg: loadavg(),
  };
}

function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

const REQUEST_BODY = {
  messages: [
    { role: 'system', content: 'You are a helpful assistant.' },
    { role: 'user', content: 'Say hello to the benchmark in one short sentence.' },
  ],
  max_tokens: 32,
};

function targetOf(r: Running): Target {
  return { origin: r.origin, path: r.path, headers: r.headers, body: { model: r.model, ...REQUEST_BODY } };
}

/** One request each way must be a correct answer before any load: a fast error page is not a fast proxy. */
async function smoke(target: Target): Promise<void> {
  for (const stream of [false, true]) {
    const res = await fetch(`${target.origin}${target.path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...target.headers },
      body: JSON.stringify({ ...target.body, stream }),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    const problem = checkAnswer(res.status, res.headers.get('content-type') ?? '', text, stream);
    if (problem)
      throw new Error(
        `smoke test (${stream ? 'streaming' : 'non-streaming'}): ${problem}: ${text.slice(0, 400)}`,
      );
  }
}

/** Waits (bounded) until the process tree is nearly idle, so a backlog from one run does not land in the next. */
async function settle(pid: number | undefined, maxMs = 30_000): Promise<void> {
  if (pid === undefined) return;
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    const before = treeCpuTicks(pid);
    await sleep(500);
    // Clock ticks are 1/100 s: under 3 ticks in 500 ms is under 6% of a core.
    if (treeCpuTicks(pid) - before < 3) return;
  }
  log(`pid ${pid} still busy after ${maxMs} ms; measuring anyway`);
}

interface Live {
  system: System;
  result: SystemResult;
  running?: Running;
}

async function startOne(
  system: System,
  settings: Settings,
  upstreamBaseURL: string,
  workDir: string,
): Promise<Live> {
  const live: Live = { system, result: { id: system.id, label: system.label, version: '-', open: [] } };
  try {
    log(`${system.id}: starting`);
    live.running = await system.start({
      upstreamBaseURL,
      workDir,
      root: ROOT,
      cpu: settings.pinned ? PROXY_CPU : undefined,
    });
    live.result.version = live.running.version;
    await smoke(targetOf(live.running));
    const pid = live.running.child?.pid;
    live.result.memory = { idle: pid ? treeMemory(pid) : undefined };
  } catch (err) {
    await fail(live, err);
  }
  return live;
}

async function fail(live: Live, err: unknown): Promise<void> {
  live.result.failure = (err as Error).message;
  log(`${live.system.id}: FAILED: ${live.result.failure.slice(0, 500)}`);
  await live.running?.stop();
  live.running = undefined;
}

interface Phase {
  name: string;
  /** The open-loop rate this phase measures, if it is one. */
  rate?: number;
  /** Why this system does not run this phase (it could not hold a lower rate); undefined: it runs. */
  skip?(result: SystemResult): string | undefined;
  run(target: Target): Promise<RunResult>;
  keep?(result: SystemResult, r: RunResult): void;
}

function phases(settings: Settings): Phase[] {
  const d = settings.durationMs;
  return [
    {
      name: 'warm-up',
      run: async (t) => {
        await closedLoop(t, { concurrency: 4, durationMs: 1_000, maxRequests: 500, stream: true });
        return closedLoop(t, { concurrency: 8, durationMs: 2_000, maxRequests: 1_000, stream: false });
      },
    },
    ...settings.rates.map(
      (rate, i): Phase => ({
        name: `${rate} rps`,
        rate,
        skip: (res) => {
          if (i === 0) return undefined;
          const lower = settings.rates[i - 1]!;
          if (res.skipped?.[lower]) return res.skipped[lower];
          const prev = res.open.find((o) => o.rate === lower);
          return prev ? notHeld(prev, settings.upstreamLatencyMs) : undefined;
        },
        run: (t) => openLoop(t, { rate, durationMs: d, stream: false }),
        keep: (res, r) => res.open.push(r),
      }),
    ),
    {
      name: `${settings.streamRate} rps streaming`,
      run: (t) => openLoop(t, { rate: settings.streamRate, durationMs: d, stream: true }),
      keep: (res, r) => {
        res.stream = r;
      },
    },
    {
      name: `closed loop, ${settings.concurrency} clients`,
      run: (t) =>
        closedLoop(t, {
          concurrency: settings.concurrency,
          durationMs: d,
          maxRequests: 200_000,
          stream: false,
        }),
      keep: (res, r) => {
        res.closed = r;
      },
    },
  ];
}

/** Every system is started first; then each phase runs on each system in turn (alternating the order), so a change
 * in the machine's background load during the run falls on all systems alike rather than on whichever came last. */
async function measureAll(lives: Live[], settings: Settings): Promise<void> {
  for (const [i, phase] of phases(settings).entries()) {
    const order = i % 2 === 0 ? lives : [...lives].reverse();
    for (const live of order) {
      if (!live.running) continue;
      const skip = phase.skip?.(live.result);
      if (skip) {
        if (phase.rate !== undefined) live.result.skipped = { ...live.result.skipped, [phase.rate]: skip };
        log(`${live.system.id}: ${phase.name}: not run (${skip})`);
        continue;
      }
      await settle(live.running.child?.pid);
      log(`${live.system.id}: ${phase.name}`);
      try {
        const pid = live.running.child?.pid;
        const ticksBefore = pid ? treeCpuTicks(pid) : 0;
        const r = await phase.run(targetOf(live.running));
        if (pid) r.proxyCpuMs = ((treeCpuTicks(pid) - ticksBefore) * 1000) / CLOCK_TICKS;
        phase.keep?.(live.result, r);
      } catch (err) {
        await fail(live, err);
      }
    }
  }
  for (const live of lives) {
    const pid = live.running?.child?.pid;
    if (pid && live.result.memory) live.result.memory.after = treeMemory(pid);
  }
}

async function main(): Promise<number> {
  const only = args.only?.split(',').map((s) => s.trim());
  const chosen = systems.filter((s) => !only || only.includes(s.id));
  if (chosen.length === 0) throw new Error(`--only matches none of: ${systems.map((s) => s.id).join(', ')}`);
  const pinned = canPin() && machine().cores >= 2 && pinProcess(LOAD_CPU);
  const settings: Settings = {
    upstreamLatencyMs: positive('latency-ms', args['latency-ms']),
    streamChunks: 8,
    chunkIntervalMs: 2,
    // Ascending: each rate runs only where the one below it was held.
    rates: (args.rates ?? '')
      .split(',')
      .map((r) => positive('rates', r))
      .sort((a, b) => a - b),
    streamRate: positive('stream-rate', args['stream-rate']),
    durationMs: positive('duration-ms', args['duration-ms']),
    concurrency: positive('concurrency', args.concurrency),
    pinned,
  };
  const run: BenchRun = { date: new Date().toISOString(), machine: machine(), settings, systems: [] };
  log(`pinned: ${pinned}; load average ${run.machine.loadavg}`);

  const workDir = mkdtempSync(join(tmpdir(), 'tiermesh-bench-'));
  const fixture = launch(
    process.execPath,
    [
      '--no-warnings',
      join(ROOT, 'bench/lib/fixture-upstream.ts'),
      '--latency-ms',
      String(settings.upstreamLatencyMs),
      '--chunks',
      String(settings.streamChunks),
      '--chunk-interval-ms',
      String(settings.chunkIntervalMs),
    ],
    { cpu: pinned ? LOAD_CPU : undefined },
  );
  try {
    const port = await waitListening(fixture, 15_000);
    const upstreamBaseURL = `http://127.0.0.1:${port}/v1`;
    const lives: Live[] = [];
    try {
      for (const system of chosen) lives.push(await startOne(system, settings, upstreamBaseURL, workDir));
      await measureAll(lives, settings);
    } finally {
      for (const live of lives) await live.running?.stop();
    }
    run.systems = lives.map((l) => l.result);
    run.machine.loadavgEnd = loadavg();
  } finally {
    await fixture.stop();
    rmSync(workDir, { recursive: true, force: true });
  }

  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(ROOT, path)), { recursive: true });
    writeFileSync(join(ROOT, path), text);
    log(`wrote ${path}`);
  };
  write(args.json!, `${JSON.stringify(run, null, 2)}\n`);
  write(args.out!, renderMarkdown(run));
  const measured = run.systems.filter((s) => !s.failure);
  write(
    args.svg!,
    renderLatencyChart({
      title: 'Latency vs request rate, non-streaming',
      subtitle: `fixture upstream ${settings.upstreamLatencyMs} ms, open loop, ${settings.durationMs / 1000} s per rate, ${run.date.slice(0, 10)}`,
      xs: settings.rates,
      series: measured.map((s) => ({
        label: s.label,
        p50: settings.rates.map((r) => s.open.find((o) => o.rate === r)?.latency.p50),
        p99: settings.rates.map((r) => s.open.find((o) => o.rate === r)?.latency.p99),
      })),
    }),
  );
  // A peer that cannot be installed or run here is reported in RESULTS.md; only our own side failing fails the run.
  return run.systems.some((s) => s.failure && ['direct', 'bare', 'tiermesh'].includes(s.id)) ? 1 : 0;
}

// Interrupted: the proxies run in process groups of their own, so end them rather than leave them listening.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAllLaunched();
    process.exit(130);
  });
}
process.exitCode = await main();
