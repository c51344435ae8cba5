/** `make bench`: tiermesh side by side with a bare proxy, Portkey and LiteLLM in front of one fixture upstream. */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { canPin, launch, pinProcess, sleep, waitListening } from './lib/child.js';
import { checkAnswer, closedLoop, openLoop, type Target } from './lib/load.js';
import { treeMemory } from './lib/procstat.js';
import { renderMarkdown } from './lib/report.js';
import type { BenchRun, Machine, Settings, SystemResult } from './lib/results.js';
import { renderLatencyChart } from './lib/svg-chart.js';
import { systems } from './peers/index.js';
import type { Running, System } from './peers/types.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const LOAD_CPU = 0;
const PROXY_CPU = 1;

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    rates: { type: 'string', default: '50,100,200' },
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

function machine(): Machine {
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown CPU',
    cores: cpus().length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    loadavg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
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

async function measure(
  system: System,
  settings: Settings,
  upstreamBaseURL: string,
  workDir: string,
): Promise<SystemResult> {
  const result: SystemResult = { id: system.id, label: system.label, version: '-', open: [] };
  let running: Running | undefined;
  try {
    log(`${system.id}: starting`);
    running = await system.start({
      upstreamBaseURL,
      workDir,
      root: ROOT,
      cpu: settings.pinned ? PROXY_CPU : undefined,
    });
    result.version = running.version;
    const target = targetOf(running);
    await smoke(target);
    const pid = running.child?.pid;
    result.memory = { idle: pid ? treeMemory(pid) : undefined };

    log(`${system.id}: warm-up`);
    await closedLoop(target, { concurrency: 8, durationMs: 2_000, maxRequests: 1_000, stream: false });
    await closedLoop(target, { concurrency: 4, durationMs: 1_000, maxRequests: 500, stream: true });
    for (const rate of settings.rates) {
      await sleep(500);
      log(`${system.id}: ${rate} rps open loop`);
      result.open.push(await openLoop(target, { rate, durationMs: settings.durationMs, stream: false }));
    }
    await sleep(500);
    log(`${system.id}: ${settings.streamRate} rps streaming`);
    result.stream = await openLoop(target, {
      rate: settings.streamRate,
      durationMs: settings.durationMs,
      stream: true,
    });
    await sleep(500);
    log(`${system.id}: closed loop, ${settings.concurrency} clients`);
    result.closed = await closedLoop(target, {
      concurrency: settings.concurrency,
      durationMs: settings.durationMs,
      maxRequests: 200_000,
      stream: false,
    });
    result.memory.after = pid ? treeMemory(pid) : undefined;
  } catch (err) {
    result.failure = (err as Error).message;
    log(`${system.id}: FAILED: ${result.failure.slice(0, 500)}`);
  } finally {
    await running?.stop();
  }
  return result;
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
    rates: (args.rates ?? '').split(',').map((r) => positive('rates', r)),
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
    for (const system of chosen) run.systems.push(await measure(system, settings, upstreamBaseURL, workDir));
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
  return run.systems.every((s) => !s.failure) ? 0 : 1;
}

process.exitCode = await main();
