/**
 * The sidecar's own overhead: added latency (p50/p99 at concurrency 1) and max throughput (closed loop) of
 * client -> sidecar -> upstream, against client -> upstream directly and client -> http-proxy -> upstream (a bare
 * pass-through Node proxy, the floor for any Node proxy). All in one run and one process tree; reported as ratios.
 *
 *   tsx bench/sidecar.ts [--requests 2000] [--concurrency 32] [--seconds 3] [--warmup 1] [--rounds 1] [--rate N]
 *                        [--baseline <checkout>]
 *
 * Also reported: CPU time per request of the process serving each path (the upstream for direct, the proxy process
 * for http-proxy and the sidecar), read from /proc over the throughput phase. Each phase of each path starts with
 * `--warmup` seconds of closed-loop load (then 300 sequential requests before the latency phase), so what is measured
 * is the steady state and not the JIT compiling. On a shared, busy machine CPU per request moves far less than latency
 * and throughput do. With `--rounds N` the three are measured N times, interleaved, and each ratio is printed per
 * round and as a range.
 *
 * Then, at one fixed offered rate (open loop, the same for every path: `--rate`, or half the slowest path's
 * closed-loop throughput in round 1, kept for every round), CPU per request and added p50 again. This is the
 * like-for-like figure: in the closed loop each path runs at its own top speed, and the faster bare proxy serves more
 * requests per wake-up of its event loop, which makes its CPU per request look cheaper than at a rate both serve. At
 * the fixed rate, latency counts from each request's intended send time (bench/lib/load.ts), so the driver's timer
 * granularity (requests leave in small bursts, ~1 ms apart) is in every path's p50 alike and cancels in "added".
 * Measured on 2026-12-01 at ~2,800 req/s, the CPU ratio at equal load was only a little below the closed loop's (medians
 * 1.36-1.40x against 1.40-1.47x over two runs of 3 rounds): both paths cost more per request when fewer requests share
 * a wake-up (README.md, "What we measured").
 *
 * `--baseline <checkout>` also measures the sidecar of another checkout (its own dist/, built there with
 * `tsc -p tsconfig.build.json`, node_modules linked) against this checkout's ("candidate"), each in a proxy process
 * of its own built the same way, in turns (which goes first alternates by round), in the same rounds: before/after
 * of a change in one run, e.g. a `git archive <commit>` of main unpacked under /tmp. `--baseline .` is an A/A run:
 * how far apart two identical sidecars measure on this machine right now.
 *
 * Processes: this driver (load generator), one upstream process (zero-latency OpenAI-shaped answers), one proxy
 * process (http-proxy and the sidecar, measured one after the other so they never compete). Sharing the process
 * has one side effect to keep in mind: from round 2 on, http-proxy runs after the previous round's sidecar load, so
 * what the sidecar left behind (its heap, the GC work it causes) shows in http-proxy's figures too.
 *
 * What is measured is what ships: the sidecar is loaded from the build (dist/, as bin/tiermesh.js runs it), and the
 * proxy process runs on plain `node` with no TypeScript loader (this file's types are stripped by Node itself), so
 * neither tsx's transform nor its source-map support is in the figures. Build first (`make build`, which runs
 * `tsc -p tsconfig.build.json`); a missing dist/ stops the bench with one line, and a dist/ older than src/ is
 * reported in one line (the figures would be of the old code). Flags given to node for the driver (`--cpu-prof`)
 * reach the children too.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import httpProxy from 'http-proxy';
import { Pool } from 'undici';

const self = fileURLToPath(import.meta.url);
const { values: args } = parseArgs({
  options: {
    role: { type: 'string', default: 'driver' },
    upstream: { type: 'string' },
    requests: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '32' },
    seconds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '1' },
    rate: { type: 'string' },
    baseline: { type: 'string' },
    root: { type: 'string' },
  },
});
// Checked before any process starts: a rate that is not a number would run every fixed-rate phase at NaN per second.
if (args.rate !== undefined && !(Number(args.rate) > 0 && Number.isFinite(Number(args.rate)))) {
  console.error(`--rate must be a positive number of requests per second, not "${args.rate}"`);
  process.exit(2);
}
/** The checkout whose dist/ the proxy process loads the sidecar from: this one, or `--baseline`'s for the baseline. */
const root = resolve(args.root ?? join(self, '..', '..'));
const dist = join(root, 'dist');

const answer = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 0,
  model: 'small-model',
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: 'Hello from the bench upstream.' },
      finish_reason: 'stop',
    },
  ],
  usage: { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 },
});
const requestBody = JSON.stringify({
  model: 'auto',
  messages: [{ role: 'user', content: 'hi, how are you today?' }],
});

function listen(server: http.Server): Promise<number> {
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)));
}

async function upstreamRole(): Promise<void> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(answer));
  });
  process.stdout.write(`READY ${await listen(server)}\n`);
}

async function proxiesRole(upstreamPort: number): Promise<void> {
  const proxy = httpProxy.createProxyServer({
    target: `http://127.0.0.1:${upstreamPort}`,
    agent: new http.Agent({ keepAlive: true, maxSockets: 256 }),
  });
  const bare = http.createServer((req, res) => proxy.web(req, res));
  const barePort = await listen(bare);

  // Typed from src/, loaded from the build.
  const fromDist = (path: string) => import(pathToFileURL(join(dist, 'src', path)).href);
  const { compileManifests, parseManifests } = (await fromDist(
    'config/manifests.js',
  )) as typeof import('../src/config/manifests.js');
  const { startSidecar } = (await fromDist('sidecar/app.js')) as typeof import('../src/sidecar/app.js');
  const yaml = `
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default, namespace: bench }
spec:
  providers: [{ name: up, type: openai-compatible, baseURL: "http://127.0.0.1:${upstreamPort}/v1" }]
  models:
    - { name: small-model, targets: [{ provider: up }], pricing: { inputPerMTok: 0.15, outputPerMTok: 0.6 }, contextWindow: 128000 }
    - { name: big-model, targets: [{ provider: up }], pricing: { inputPerMTok: 3, outputPerMTok: 15 }, contextWindow: 200000 }
  tiers: [{ name: cheap, models: [small-model] }, { name: premium, models: [big-model] }]
  baselineModel: big-model
`;
  const { createLogger, logDestination } = (await fromDist(
    'telemetry/logger.js',
  )) as typeof import('../src/telemetry/logger.js');
  // Logging stays on (one JSON line per request is part of the real cost), written to /dev/null by the sidecar's own
  // logger and its own (buffered) destination: only the file is different.
  const sidecar = await startSidecar({
    port: 0,
    snapshot: compileManifests(parseManifests(yaml)),
    logger: createLogger({ destination: logDestination('/dev/null') }),
  });
  process.stdout.write(`READY ${barePort} ${new URL(sidecar.url).port}\n`);
}

/** Node's own flags of this process without the TypeScript loader (tsx's `--require`/`--import` of its hooks). */
function plainExecArgv(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (
      (a === '--require' || a === '--import' || a === '--loader') &&
      /(^|[/\\])tsx([/\\]|$)/.test(argv[i + 1] ?? '')
    )
      i++;
    else if (!/^--(require|import|loader)=(.*[/\\])?tsx([/\\]|$)/.test(a)) out.push(a);
  }
  return out;
}

/** Newest modification time (ms) of the files under `dir` whose names pass `keep`. */
function newest(dir: string, keep: (name: string) => boolean): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && keep(e.name)) t = Math.max(t, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return t;
}

/** Stops with one line when `checkout`'s build is missing; says so in one line when it is older than its src/. */
function checkBuild(checkout: string): void {
  const dist = join(checkout, 'dist');
  // The proxy process runs this file on plain node, which strips TypeScript types itself from Node 22.18 on.
  if (!process.features.typescript) {
    console.error(
      `bench/sidecar.ts: node ${process.version} cannot run TypeScript without a loader: put the bundled Node first (export PATH=$PWD/node_modules/.bin:$PATH)`,
    );
    process.exit(1);
  }
  if (!existsSync(join(dist, 'src', 'sidecar', 'app.js'))) {
    console.error(
      `bench/sidecar.ts: ${dist} is not built: run \`make build\` (tsc -p tsconfig.build.json) there first`,
    );
    process.exit(1);
  }
  const src = newest(join(checkout, 'src'), (n) => n.endsWith('.ts') && !n.endsWith('.test.ts'));
  if (src > newest(join(dist, 'src'), (n) => n.endsWith('.js'))) {
    console.log(
      `note: ${dist} is older than its src/ (measuring the last build): run \`make build\` to measure the current code`,
    );
  }
}

function child(extra: string[], loader = true): Promise<{ proc: ChildProcess; ports: number[] }> {
  // http-proxy calls util._extend (DEP0060); tsx hides that warning, plain node prints it.
  const flags = loader ? process.execArgv : [...plainExecArgv(), '--disable-warning=DEP0060'];
  const proc = spawn(process.execPath, [...flags, self, ...extra], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /READY ([\d ]+)\n/.exec(out);
      if (m) resolve({ proc, ports: m[1]!.trim().split(' ').map(Number) });
    });
    proc.once('exit', (code) => reject(new Error(`${extra.join(' ')} exited with ${code}`)));
  });
}

interface Result {
  p50: number;
  p99: number;
  rps: number;
  /** CPU microseconds per request of the serving process, over the throughput phase. */
  cpuUs: number;
}

/** utime + stime of a process in milliseconds, from /proc/<pid>/stat (clock ticks at the usual 100 Hz). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function measure(
  port: number,
  path: string,
  requests: number,
  concurrency: number,
  seconds: number,
  warmupSeconds: number,
  servingPid: number,
): Promise<Result> {
  const post = async (pool: Pool) => {
    const r = await pool.request({
      method: 'POST',
      path,
      body: requestBody,
      headers: { 'content-type': 'application/json' },
    });
    const text = await r.body.text();
    if (r.statusCode !== 200) throw new Error(`HTTP ${r.statusCode}: ${text}`);
  };
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: concurrency });
  const closedLoop = async (untilMs: number, onDone: () => void) =>
    Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < untilMs) {
          await post(pool);
          onDone();
        }
      }),
    );
  // Warm-up at full load before each phase, so what is measured is the steady state and not the JIT still compiling:
  // sequential requests alone took ~5 s (~8,000 requests) to bring the sidecar's p50 down to its steady 0.2 ms from
  // 1 ms, and in round 1 the optimizing compiler was ~11% of the sidecar's CPU under perf with a warm-up of
  // concurrency x 10 requests.
  await closedLoop(performance.now() + warmupSeconds * 1000, () => {});
  const single = new Pool(`http://127.0.0.1:${port}`, { connections: 1 });
  for (let i = 0; i < 300; i++) await post(single);
  const lat: number[] = [];
  for (let i = 0; i < requests; i++) {
    const t = performance.now();
    await post(single);
    lat.push(performance.now() - t);
  }
  await single.close();
  lat.sort((a, b) => a - b);

  await closedLoop(performance.now() + warmupSeconds * 1000, () => {});
  let done = 0;
  const until = performance.now() + seconds * 1000;
  const cpu0 = cpuMs(servingPid);
  const start = performance.now();
  await closedLoop(until, () => {
    done++;
  });
  const rps = done / ((performance.now() - start) / 1000);
  const cpuUs = ((cpuMs(servingPid) - cpu0) * 1000) / done;
  await pool.close();
  return { p50: lat[Math.floor(lat.length * 0.5)]!, p99: lat[Math.floor(lat.length * 0.99)]!, rps, cpuUs };
}

/** CPU per request and added p50 at one offered rate, the same for every path: the like-for-like comparison. */
interface AtRate {
  p50: number;
  p99: number;
  cpuUs: number;
  /** Answers per second actually completed (the offered rate when the path holds it). */
  rps: number;
  errors: number;
}

/**
 * Open loop at `rate` requests/s (latency from each request's intended send time, bench/lib/load.ts), `warmup`
 * seconds first at the same rate, then `seconds` measured, with the serving process's CPU read over the measured part.
 * In a closed loop each path runs at its own top speed, and a faster one serves more requests per wake-up of its event
 * loop, so its CPU per request looks cheaper than it is at any rate both could serve; here both get the same load.
 */
async function measureAtRate(
  port: number,
  path: string,
  rate: number,
  seconds: number,
  warmupSeconds: number,
  servingPid: number,
): Promise<AtRate> {
  const { openLoop } = await import('./lib/load.js');
  const target = {
    origin: `http://127.0.0.1:${port}`,
    path,
    headers: {},
    body: JSON.parse(requestBody) as Record<string, unknown>,
  };
  const opts = { rate, stream: false, connections: 64 };
  if (warmupSeconds > 0) await openLoop(target, { ...opts, durationMs: warmupSeconds * 1000 });
  const cpu0 = cpuMs(servingPid);
  const r = await openLoop(target, { ...opts, durationMs: seconds * 1000 });
  const cpuUs = ((cpuMs(servingPid) - cpu0) * 1000) / Math.max(1, r.ok);
  return { p50: r.latency.p50, p99: r.latency.p99, cpuUs, rps: r.throughput, errors: r.errors };
}

async function driver(): Promise<void> {
  const requests = Number(args.requests);
  const concurrency = Number(args.concurrency);
  const seconds = Number(args.seconds);
  const warmup = Number(args.warmup);
  const rounds = Math.max(1, Number(args.rounds));
  checkBuild(root);
  if (args.baseline) checkBuild(resolve(args.baseline));
  const up = await child(['--role', 'upstream']);
  const proxies = await child(
    ['--role', 'proxies', '--upstream', String(up.ports[0]), '--root', root],
    false,
  );
  // Before/after: this checkout's sidecar and the baseline's, each in a proxy process of its own built the same way
  // (idle while the others are measured), so neither carries what the bare proxy's load left in the first process.
  const pair = args.baseline
    ? {
        candidate: await child(
          ['--role', 'proxies', '--upstream', String(up.ports[0]), '--root', root],
          false,
        ),
        baseline: await child(
          ['--role', 'proxies', '--upstream', String(up.ports[0]), '--root', resolve(args.baseline)],
          false,
        ),
      }
    : undefined;
  const ratios: Record<string, number[]> = {};
  const note = (name: string, v: number) => {
    ratios[name] = [...(ratios[name] ?? []), v];
    console.log(`  ${name.padEnd(52)} ${v.toFixed(2)}`);
  };
  // Fixed by --rate, else set once from round 1's closed loop (half the slowest path's throughput) and kept for every
  // round, so the rounds compare the same load.
  let rate = args.rate !== undefined ? Number(args.rate) : undefined;
  try {
    const [barePort, sidecarPort] = proxies.ports as [number, number];
    const chat = '/v1/chat/completions';
    for (let round = 1; round <= rounds; round++) {
      const run = (port: number, pid: number) =>
        measure(port, chat, requests, concurrency, seconds, warmup, pid);
      const direct = await run(up.ports[0]!, up.proc.pid!);
      const bare = await run(barePort, proxies.proc.pid!);
      const sidecar = await run(sidecarPort, proxies.proc.pid!);
      // In turns: the candidate first in odd rounds, the baseline first in even ones.
      const inTurn = async <R>(m: (port: number, pid: number) => Promise<R>) => {
        if (!pair) return undefined;
        const one = (c: typeof pair.candidate) => m(c.ports[1]!, c.proc.pid!);
        if (round % 2 === 1) {
          const candidate = await one(pair.candidate);
          return { candidate, baseline: await one(pair.baseline) };
        }
        const baseline = await one(pair.baseline);
        return { candidate: await one(pair.candidate), baseline };
      };
      const ab = await inTurn(run);
      const fmt = (r: Result) =>
        `p50 ${r.p50.toFixed(3)} ms  p99 ${r.p99.toFixed(3)} ms  ${r.rps.toFixed(0)} req/s  ${r.cpuUs.toFixed(0)} us CPU/req`;
      const added = (r: { p50: number; p99: number }, to: { p50: number; p99: number }) => ({
        p50: r.p50 - to.p50,
        p99: r.p99 - to.p99,
      });
      const a = { bare: added(bare, direct), sidecar: added(sidecar, direct) };
      if (rounds > 1) console.log(`round ${round}`);
      console.log(`direct      ${fmt(direct)}`);
      console.log(
        `http-proxy  ${fmt(bare)}  (added p50 ${a.bare.p50.toFixed(3)} ms, p99 ${a.bare.p99.toFixed(3)} ms)`,
      );
      console.log(
        `sidecar     ${fmt(sidecar)}  (added p50 ${a.sidecar.p50.toFixed(3)} ms, p99 ${a.sidecar.p99.toFixed(3)} ms)`,
      );
      if (ab) {
        for (const [name, r] of [
          ['candidate', ab.candidate],
          ['baseline', ab.baseline],
        ] as const) {
          const d = added(r, direct);
          console.log(
            `${name.padEnd(11)} ${fmt(r)}  (added p50 ${d.p50.toFixed(3)} ms, p99 ${d.p99.toFixed(3)} ms)`,
          );
        }
      }
      console.log('ratios (same run):');
      note('sidecar added p50 / http-proxy added p50:', a.sidecar.p50 / a.bare.p50);
      note('sidecar added p99 / http-proxy added p99:', a.sidecar.p99 / a.bare.p99);
      note('sidecar p50 / direct p50:', sidecar.p50 / direct.p50);
      note('sidecar throughput / http-proxy:', sidecar.rps / bare.rps);
      note('sidecar throughput / direct:', sidecar.rps / direct.rps);
      note('sidecar CPU per request / http-proxy:', sidecar.cpuUs / bare.cpuUs);
      if (ab) {
        note('baseline CPU per request / http-proxy:', ab.baseline.cpuUs / bare.cpuUs);
        note('candidate CPU per request / baseline:', ab.candidate.cpuUs / ab.baseline.cpuUs);
        note(
          'candidate added p50 / baseline added p50:',
          (ab.candidate.p50 - direct.p50) / (ab.baseline.p50 - direct.p50),
        );
      }

      rate ??= Math.round(
        Math.min(bare.rps, sidecar.rps, ab?.candidate.rps ?? Infinity, ab?.baseline.rps ?? Infinity) / 2,
      );
      const at = (port: number, pid: number) => measureAtRate(port, chat, rate!, seconds, warmup, pid);
      const fDirect = await at(up.ports[0]!, up.proc.pid!);
      const fBare = await at(barePort, proxies.proc.pid!);
      const fSidecar = await at(sidecarPort, proxies.proc.pid!);
      const fab = await inTurn(at);
      const fmtAt = (r: AtRate, to?: AtRate) =>
        `p50 ${r.p50.toFixed(3)} ms  p99 ${r.p99.toFixed(3)} ms  ${r.rps.toFixed(0)} req/s  ${r.cpuUs.toFixed(0)} us CPU/req` +
        (r.errors ? `  ${r.errors} errors` : '') +
        (to ? `  (added p50 ${(r.p50 - to.p50).toFixed(3)} ms)` : '');
      console.log(`at a fixed rate of ${rate} req/s (open loop, the same for every path):`);
      console.log(`direct      ${fmtAt(fDirect)}`);
      console.log(`http-proxy  ${fmtAt(fBare, fDirect)}`);
      console.log(`sidecar     ${fmtAt(fSidecar, fDirect)}`);
      if (fab) {
        console.log(`candidate   ${fmtAt(fab.candidate, fDirect)}`);
        console.log(`baseline    ${fmtAt(fab.baseline, fDirect)}`);
      }
      console.log('ratios at the fixed rate (same run):');
      note(
        `at ${rate}/s: sidecar added p50 / http-proxy added p50:`,
        (fSidecar.p50 - fDirect.p50) / (fBare.p50 - fDirect.p50),
      );
      note(`at ${rate}/s: sidecar CPU per request / http-proxy:`, fSidecar.cpuUs / fBare.cpuUs);
      if (fab) {
        note(
          `at ${rate}/s: baseline added p50 / http-proxy added p50:`,
          (fab.baseline.p50 - fDirect.p50) / (fBare.p50 - fDirect.p50),
        );
        note(`at ${rate}/s: baseline CPU per request / http-proxy:`, fab.baseline.cpuUs / fBare.cpuUs);
        note(`at ${rate}/s: candidate CPU per request / baseline:`, fab.candidate.cpuUs / fab.baseline.cpuUs);
        note(
          `at ${rate}/s: candidate added p50 / baseline added p50:`,
          (fab.candidate.p50 - fDirect.p50) / (fab.baseline.p50 - fDirect.p50),
        );
      }
    }
    if (rounds > 1) {
      console.log(`ranges over ${rounds} rounds (min .. median .. max):`);
      for (const [name, vs] of Object.entries(ratios)) {
        const s = [...vs].sort((x, y) => x - y);
        const med = s[Math.floor(s.length / 2)]!;
        console.log(
          `  ${name.padEnd(52)} ${s[0]!.toFixed(2)} .. ${med.toFixed(2)} .. ${s.at(-1)!.toFixed(2)}`,
        );
      }
    }
  } finally {
    pair?.candidate.proc.kill();
    pair?.baseline.proc.kill();
    proxies.proc.kill();
    up.proc.kill();
  }
}

// Exit normally on SIGTERM so `--cpu-prof` profiles of the child processes get written.
if (args.role !== 'driver') process.once('SIGTERM', () => process.exit(0));
if (args.role === 'upstream') await upstreamRole();
else if (args.role === 'proxies') await proxiesRole(Number(args.upstream));
else await driver();
