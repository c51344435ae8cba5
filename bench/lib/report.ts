/** Renders a peers run as bench/RESULTS.md: absolute numbers, ratios vs direct and vs the bare proxy, failures. */
import { deltaMs, int, mib, ms, times } from './format.js';
import { notHeld } from './holds.js';
import type { RunResult } from './load.js';
import type { BenchRun, SystemResult } from './results.js';
import { ratio } from './stats.js';

function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`;
}

function table(head: string[], rows: string[][]): string {
  return [row(head), row(head.map((_h, i) => (i === 0 ? '---' : '---:'))), ...rows.map(row)].join('\n');
}

function okOf(r: RunResult | undefined, skipped?: string): string {
  if (!r) return skipped ? 'not run' : '–';
  return r.errors ? `${r.ok}/${r.sent} (**${r.errors} failed**)` : `${r.ok}/${r.sent}`;
}

/** CPU ms the system under test spent per successful answer. */
export function cpuPerAnswer(r: RunResult | undefined): number {
  if (!r || r.proxyCpuMs === undefined || r.ok === 0) return Number.NaN;
  return r.proxyCpuMs / r.ok;
}

function cpuMs(x: number): string {
  return Number.isFinite(x) ? x.toFixed(2) : '–';
}

function openAt(s: SystemResult | undefined, rate: number): RunResult | undefined {
  return s?.open.find((r) => r.rate === rate);
}

/** Added latency of a system over direct, divided by the bare proxy's: how many "bare proxies" of overhead it is. */
function overheadRatio(x: number, direct: number | undefined, bareX: number | undefined): number {
  if (direct === undefined || bareX === undefined) return Number.NaN;
  const floor = bareX - direct;
  // Below 0.5 ms the floor's overhead is timer noise, and a ratio against it would be too.
  return floor < 0.5 ? Number.NaN : ratio(x - direct, floor);
}

function latencySection(run: BenchRun, measured: SystemResult[]): string {
  const direct = measured.find((s) => s.id === 'direct');
  const bare = measured.find((s) => s.id === 'bare');
  const parts: string[] = [];
  for (const rate of run.settings.rates) {
    const d = openAt(direct, rate);
    const b = openAt(bare, rate);
    const rows = measured.map((s) => {
      const r = openAt(s, rate);
      const p50 = r?.latency.p50;
      const p99 = r?.latency.p99;
      return [
        s.label,
        ms(p50),
        ms(p99),
        deltaMs(p50, d?.latency.p50),
        deltaMs(p99, d?.latency.p99),
        times(ratio(p50, d?.latency.p50)),
        times(ratio(p99, d?.latency.p99)),
        times(ratio(p50, b?.latency.p50)),
        s.id === 'direct' || s.id === 'bare' || p50 === undefined
          ? '–'
          : times(overheadRatio(p50, d?.latency.p50, b?.latency.p50)),
        cpuMs(cpuPerAnswer(r)),
        okOf(r, s.skipped?.[rate]),
      ];
    });
    const notRun = measured.filter((s) => s.skipped?.[rate]).map((s) => `${s.label}: ${s.skipped![rate]}`);
    parts.push(
      `### ${rate} requests/s (open loop, ${run.settings.durationMs / 1000} s, non-streaming)\n\n` +
        (notRun.length ? `Not run where a lower rate was not held (${notRun.join('; ')}).\n\n` : '') +
        table(
          [
            'system',
            'p50 ms',
            'p99 ms',
            'added p50',
            'added p99',
            'p50 vs direct',
            'p99 vs direct',
            'p50 vs bare',
            'added p50 vs bare’s',
            'CPU ms/answer',
            'ok/sent',
          ],
          rows,
        ),
    );
  }
  return parts.join('\n\n');
}

function streamSection(run: BenchRun, measured: SystemResult[]): string {
  const d = measured.find((s) => s.id === 'direct')?.stream;
  const b = measured.find((s) => s.id === 'bare')?.stream;
  const rows = measured.map((s) => {
    const r = s.stream;
    return [
      s.label,
      ms(r?.ttfb.p50),
      ms(r?.ttfb.p99),
      ms(r?.latency.p50),
      ms(r?.latency.p99),
      deltaMs(r?.ttfb.p50, d?.ttfb.p50),
      times(ratio(r?.ttfb.p50, d?.ttfb.p50)),
      times(ratio(r?.ttfb.p50, b?.ttfb.p50)),
      deltaMs(r?.latency.p50, d?.latency.p50),
      cpuMs(cpuPerAnswer(r)),
      okOf(r),
    ];
  });
  return (
    `### Streaming, ${run.settings.streamRate} requests/s (open loop, ${run.settings.durationMs / 1000} s)\n\n` +
    `First byte = first SSE event (the first token); end = \`data: [DONE]\` received.\n\n` +
    table(
      [
        'system',
        'first byte p50',
        'first byte p99',
        'end p50',
        'end p99',
        'added first byte p50',
        'first byte vs direct',
        'first byte vs bare',
        'added end p50',
        'CPU ms/answer',
        'ok/sent',
      ],
      rows,
    )
  );
}

function throughputSection(run: BenchRun, measured: SystemResult[]): string {
  const d = measured.find((s) => s.id === 'direct')?.closed;
  const b = measured.find((s) => s.id === 'bare')?.closed;
  const rows = measured.map((s) => {
    const r = s.closed;
    return [
      s.label,
      int(r?.throughput),
      times(ratio(r?.throughput, d?.throughput)),
      times(ratio(r?.throughput, b?.throughput)),
      ms(r?.latency.p50),
      ms(r?.latency.p99),
      cpuMs(cpuPerAnswer(r)),
      times(ratio(cpuPerAnswer(r), cpuPerAnswer(b))),
      okOf(r),
    ];
  });
  const cap = (run.settings.concurrency * 1000) / run.settings.upstreamLatencyMs;
  return (
    `### Throughput (closed loop, ${run.settings.concurrency} concurrent clients, ${run.settings.durationMs / 1000} s, non-streaming)\n\n` +
    `With a ${run.settings.upstreamLatencyMs} ms upstream, ${run.settings.concurrency} clients cannot exceed ${int(cap)} requests/s, ` +
    'so "direct" is bounded by the fixture, not by CPU; a proxy below it is bounded by its own CPU (one core when pinned).\n\n' +
    table(
      [
        'system',
        'answers/s',
        'vs direct',
        'vs bare',
        'p50 ms',
        'p99 ms',
        'CPU ms/answer',
        'CPU vs bare',
        'ok/sent',
      ],
      rows,
    )
  );
}

function memorySection(measured: SystemResult[]): string {
  const bare = measured.find((s) => s.id === 'bare')?.memory;
  const rows = measured
    .filter((s) => s.id !== 'direct')
    .map((s) => [
      s.label,
      mib(s.memory?.idle?.rssKiB),
      mib(s.memory?.after?.rssKiB),
      mib(s.memory?.after?.hwmKiB),
      times(ratio(s.memory?.after?.hwmKiB, bare?.after?.hwmKiB)),
      int(s.memory?.after?.processes),
    ]);
  return (
    '### Memory of the proxy process (from /proc/<pid>/status, summed over its process tree)\n\n' +
    table(
      ['system', 'RSS idle MiB', 'RSS after load MiB', 'peak (VmHWM) MiB', 'peak vs bare', 'processes'],
      rows,
    )
  );
}

/** The highest open-loop rate the system held (bench/lib/holds.ts), as a cell. */
function highestHeld(run: BenchRun, s: SystemResult): string {
  const held = s.open
    .filter((r) => notHeld(r, run.settings.upstreamLatencyMs) === undefined)
    .map((r) => r.rate);
  return held.length ? String(Math.max(...held)) : 'none';
}

/** One line per system: the numbers a reader wants first, each from the sections below. */
function glanceSection(run: BenchRun, measured: SystemResult[]): string {
  const low = Math.min(...run.settings.rates);
  const direct = measured.find((s) => s.id === 'direct');
  const bare = measured.find((s) => s.id === 'bare');
  const d = openAt(direct, low);
  const rows = measured.map((s) => {
    const r = openAt(s, low);
    return [
      s.label,
      deltaMs(r?.latency.p50, d?.latency.p50),
      deltaMs(r?.latency.p99, d?.latency.p99),
      deltaMs(s.stream?.ttfb.p50, direct?.stream?.ttfb.p50),
      cpuMs(cpuPerAnswer(s.closed)),
      times(ratio(cpuPerAnswer(s.closed), cpuPerAnswer(bare?.closed))),
      int(s.closed?.throughput),
      highestHeld(run, s),
      s.id === 'direct' ? '–' : mib(s.memory?.after?.hwmKiB),
    ];
  });
  return table(
    [
      'system',
      `added p50 @ ${low} rps`,
      `added p99 @ ${low} rps`,
      'added first token p50',
      'CPU ms/answer',
      'CPU vs bare',
      'answers/s (closed loop)',
      'highest rate held, rps',
      'peak RSS MiB',
    ],
    rows,
  );
}

function failuresSection(failed: SystemResult[]): string {
  if (failed.length === 0) return '';
  const items = failed.map(
    (s) => `- **${s.label}** (${s.version}): ${s.failure!.replace(/\s+/g, ' ').trim().slice(0, 1200)}`,
  );
  return `## Not measured\n\n${items.join('\n')}\n`;
}

function errorsSection(measured: SystemResult[]): string {
  const lines: string[] = [];
  for (const s of measured) {
    for (const r of [...s.open, s.stream, s.closed]) {
      if (!r || r.errors === 0) continue;
      const kinds = Object.entries(r.errorKinds)
        .map(([k, n]) => `${n}× ${k}`)
        .join('; ');
      const what =
        r.mode === 'open' ? `${r.rate} rps${r.stream ? ' streaming' : ''}` : `closed loop c=${r.concurrency}`;
      lines.push(`- ${s.label}, ${what}: ${kinds}`);
    }
  }
  return lines.length ? `### Failed requests\n\n${lines.join('\n')}\n` : '';
}

export function renderMarkdown(run: BenchRun): string {
  const measured = run.systems.filter((s) => !s.failure);
  const failed = run.systems.filter((s) => s.failure);
  const st = run.settings;
  const m = run.machine;
  const versions = run.systems
    .map((s) => (s.version === '-' ? s.label : `${s.label} (${s.version})`))
    .join('; ');
  return `# Side-by-side: tiermesh vs peer gateways

Generated by \`make bench\` (\`bench/run.ts\`) on ${run.date}. Do not edit by hand: rerun to refresh.

**Reproduce:** \`make bench\` (installs the peers into \`.cache/bench\` and builds the compiled one into \`.cache/peers\` with
\`scripts/bench-peers.sh\`, builds tiermesh, runs everything).
One system only: \`node --import tsx bench/run.ts --only tiermesh,bare,direct\`.

## At a glance

${glanceSection(run, measured)}

"CPU ms/answer" is the CPU time the proxy process used per successful answer in the closed-loop test. Unlike latency
and throughput it barely depends on what else the machine is doing, so it is the fairest single number here.

## Machine and method

- Machine: ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB RAM, Linux ${m.kernel}, Node ${m.node}. Load average (1, 5, 15 min) at start: ${m.loadavg}${m.loadavgEnd ? `; at end: ${m.loadavgEnd}` : ''}
  (above ${m.cores} means other work was competing for the ${m.cores} cores).
- Same machine, same run, same upstream for every system: a fixture OpenAI server (\`bench/lib/fixture-upstream.ts\`, own process)
  answering every chat completion after a fixed ${st.upstreamLatencyMs} ms with the same body (${st.streamChunks} content chunks
  ${st.chunkIntervalMs} ms apart when streaming). All traffic is on 127.0.0.1.
- Systems: ${versions}. All are started first; then each test runs on each system in turn (the order alternating
  from test to test), after waiting until the previous system's process is idle, so only one system is under load at
  a time and a change in the machine's background load falls on all of them alike.
- Load generator: \`bench/lib/load.ts\`, undici in its own process. Open loop: requests are sent on a fixed schedule whatever
  the answers do, and latency is measured from the moment each request was *due*, so queueing in a slow proxy counts
  (no coordinated omission). Closed loop: ${st.concurrency} clients, each sending its next request when its previous answer ends.
  Every answer is checked (HTTP 200 and a real \`chat.completion\`, or an SSE stream of \`chat.completion.chunk\` ending in
  \`[DONE]\`): a fast error is counted as a failure, never as a fast answer.
- CPU: ${st.pinned ? 'the proxy under test is pinned to CPU 1 (`taskset`), the load generator and the fixture to CPU 0, so they do not starve one another' : 'no pinning was possible (no taskset or fewer than 2 CPUs); load generator, fixture and proxy share the CPUs'}.
  Each system gets a warm-up before it is measured. Durations: ${st.durationMs / 1000} s per rate; rates ${st.rates.join(', ')} requests/s.
- Why our own generator rather than autocannon or wrk: the question is latency at a *fixed arrival rate*, which needs an
  open-loop schedule (autocannon and wrk are closed loop; wrk2 is not packaged here), and each answer's body must be checked.
  At these rates the generator uses a small fraction of its core; the throughput test is where it could become the limit,
  so compare that table's rows with one another rather than with other machines.

## Latency added at a fixed request rate

"added" = the system's percentile minus direct's at the same rate; "vs" columns are ratios of the percentiles;
"added p50 vs bare’s" = the system's added p50 divided by the bare proxy's added p50 (how many bare proxies of overhead).

${latencySection(run, measured)}

${streamSection(run, measured)}

## Throughput and memory

${throughputSection(run, measured)}

${memorySection(measured)}

${errorsSection(measured)}
${failuresSection(failed)}
## How each peer was run

- **bare node:http proxy** (\`bench/peers/bare-proxy-server.ts\`): pipes request and response through a keep-alive agent,
  parses nothing. The floor any Node proxy sits on.
- **tiermesh** (\`node bin/tiermesh.js sidecar --config <generated>\`): one route, one \`openai-compatible\` provider (the
  fixture), one model, one tier; requests use \`model: "auto"\`, so every one is classified, routed, and checked by the
  default cascade checks. Default log level (a log line per request).
- **Noveum AI Gateway** (\`noveum-ai-gateway\` 2.0.1 from the crates registry, Rust: axum + hyper, reqwest to the upstream;
  built once by \`bench/peers/install-compiled.sh\` with \`cargo install --locked --version 2.0.1\` into
  \`.cache/peers/\`, with the crate's own release profile: fat LTO, one codegen unit): reached the fixture through its
  documented \`OPENAI_BASE_URL\` override with \`x-provider: openai\`; \`HOST=127.0.0.1\`, \`RUST_LOG=warn\` (its default,
  info, logs every request), no Nova Guard policies, no platform key, so nothing leaves the machine. Requests name
  \`gpt-4o-mini\`, a model in its pricing catalog (for an unknown model it logs a warning on every request); the fixture
  answers every model alike. Its first token comes about 40 ms late when the chunks are 2 ms apart, though it
  passes a stream on chunk by chunk (checked with 50 ms spacing): the delayed-ACK pattern of Nagle's algorithm, as
  its listener (\`axum::serve\` in its \`src/main.rs\`) does not set TCP_NODELAY on accepted connections. \`WORKER_THREADS\` is
  left to its default (twice the CPUs it counts).
- **Portkey** (\`@portkey-ai/gateway\` from npm, \`build/start-server.js --headless\`, \`NODE_ENV=production\`): reached the
  fixture through its documented headers \`x-portkey-provider: openai\` + \`x-portkey-custom-host\`. Two things had to be
  done for it to run here: \`@hono/node-server\` is held at 1.13.8 by an npm override, because with the version npm picks
  by default every *streaming* request fails with \`TypeError: immutable\` (Portkey-AI/gateway issue 1389); and it binds
  every interface by default, so a preload (\`bench/peers/loopback-only.ts\`) makes its listen() bind 127.0.0.1. Its
  OpenAI stream transformer waits 25 ms before passing on the first chunk (a \`setTimeout(…, 25)\` in its
  \`build/start-server.js\`), which shows in its first-token latency.
- **LiteLLM** (\`litellm[proxy]\` from PyPI in a venv, \`litellm --config <generated> --num_workers 1\`): model
  \`openai/bench-model\` with \`api_base\` at the fixture; no database, no master key, no callbacks, local cost map,
  telemetry off; its default logging (uvicorn access log). Pinned to 1.100.5: newer releases require a \`certifi\` newer
  than the package index here has.

## Compiled gateways: which were tried

The fastest published open gateways are compiled and claim well under 1 ms added latency. Installed only through the
package registries this machine reaches (the Go module proxy and the Rust crates registry; no release downloads, no git checkouts):

- **Bifrost** (Go, maximhq/bifrost): not installable. The Go module proxy lists no version of
  \`github.com/maximhq/bifrost/transports\` or \`.../core\` and refuses exact ones: transports v1.3.0 and core v1.15.2
  (tried before), and transports v1.4.22 (a recent stable tag, tried for this run):
  \`go mod download -json github.com/maximhq/bifrost/transports@v1.4.22\` answered \`403 Forbidden ... This module
  version is not available.\` No other tag was tried.
- **TensorZero** (Rust): the \`tensorzero\` crate in the crates registry is a 0.0.0 name placeholder; the gateway itself is not
  published there.
- **agentgateway** (Rust): no \`agentgateway\` crate in the crates registry (\`cargo info agentgateway\`: could not find it).
- **Helicone AI Gateway** (Rust): not published; its package name \`ai-gateway\` belongs in the crates registry to another
  project (LangDB's, below), and its workspace depends on unpublished crates of its own.
- **Noveum AI Gateway** (Rust, \`noveum-ai-gateway\` 2.0.1, formerly \`magicapi-ai-gateway\`, which bills itself as the
  fastest AI gateway): built and measured here.
- Published but not built: LangDB's \`ai-gateway\` 0.3.2 (Rust, actix-web, ~500 crates with its TUI and
  OpenTelemetry stack) and \`ultrafast-gateway\` 0.1.6 (Rust, axum, Redis client): one Rust release build takes many
  minutes of a 2-core machine shared with other work (this one took 7.7 min), so one compiled peer is measured: the one
  with the fewest dependencies (306 crates in its Cargo.lock, against 373 and 496) and no service it needs at run time.

## Limitations

- Two cores for everything: generator + fixture on one, the proxy on the other, and both shared with whatever else ran
  on the machine. Latency percentiles (p99 above all) and closed-loop throughput carry that noise; CPU ms per answer
  much less so. A proxy whose CPU cost per answer times the rate nears the share of a core it actually gets saturates,
  and then open-loop latency grows with the queue until requests time out (10 s): those show as failures. Python and Node peers run single-process as
  configured here (LiteLLM \`--num_workers 1\`); in production each could use more cores, and so could tiermesh replicas.
- Other work on the same machine during the run adds noise, mostly to p99; the load average above shows how busy it was.
- Chart: \`bench/latency-vs-rate.svg\` (p50 solid, p99 dashed, log scale).
`;
}
