/**
 * `make scale`: the operator's control plane at many sidecars, over the real protocol. A real kube-apiserver + etcd,
 * real `tiermesh operator` processes, and in this process N light sidecars running the real `ConfigStream` (SSE
 * stream, TokenReview'd projected-style tokens from the TokenRequest API, ACKs) and R budget reporters running the
 * real `AllowanceClient` and `UsageReporter`. Light = no routing proxy behind them; everything they say to the
 * operator is what a sidecar says. Prints one line per figure; not part of `make test` (minutes, and heavy).
 *
 *   tsx bench/scale.ts [--sidecars 200] [--reporters 100] [--skip-cold] [--only-storm] [--only-push] [--cpu-prof DIR] [--harness-prof FILE]
 *                      [--compiled] [--operator-root DIR] [--https] [--tickets] [--shared-pool]
 *
 * --compiled: run the operator from the build (`node bin/tiermesh.js`, as its image does; `make scale` builds first)
 * instead of from the sources through tsx, whose start-up transpiling is not the operator's cost. --operator-root DIR:
 * the checkout whose operator runs (default: this one), e.g. another branch's built tree for a before/after pair on
 * the same load. --https: the sidecar API over HTTPS (a serving certificate from the test cluster's CA), as the Helm
 * chart serves it; the light sidecars verify it, and reconnecting streams present their resumption tickets (keyed off
 * the serving key). --tickets: over plain HTTP, give the operator a ticket key file (--ticket-key-file) so streams get
 * tickets there too (an operator from before tickets does not know the flag: leave it out for the "before" runs).
 *
 * --only-storm: connect, then the reconnect storm, nothing else (to work on the storm). --only-push: connect and the
 * pushes, nothing else. --harness-prof FILE: a V8 CPU profile of this process (the light sidecars) from the restarted
 * operator serving until all streams are back. --cpu-prof DIR: the restarted operator writes a V8 CPU profile of its
 * first life after the storm into DIR (it is stopped with SIGTERM for that, so the run ends after the storm as with
 * --only-storm).
 *
 * Phases: (1) N streams connect; (2) CRD change -> route status all acked, warm token cache; (3) the same after the
 * operator's 30 s token cache has expired (cold); (4) operator SIGKILL + restart with a config change made while it
 * was down: reconnect storm settle time after it serves; (5) R reporters with concurrent load on one ModelBudget
 * through a leader failover: overspend against the limit, and the ledger against what they reported.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { subscribe } from 'node:diagnostics_channel';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { Agent, fetch as undiciFetch } from 'undici';
import { AllowanceClient } from '../src/budget/allowance.js';
import { UsageReporter } from '../src/budget/reporter.js';
import { ACK_PATH, ALLOWANCE_PATH, allowanceReply, USAGE_PATH } from '../src/operator/protocol.js';
import { ConfigStream, type SnapshotTarget } from '../src/sidecar/config-stream.js';
import { operatorFetch } from '../src/sidecar/config-stream-operator.js';
import { repoRoot } from '../test/cluster/binaries.js';
import { startControlPlane } from '../test/cluster/controlplane.js';
import { installCrds } from '../test/cluster/crds.js';
import { applyObjects, loadKubeConfig, parseObjects } from '../test/cluster/kube.js';
import { issueServingCert } from '../test/cluster/pki.js';
import { routeConfig } from '../test/helpers/config.js';
import { childrenOf, commOf, treeCpuTicks, treeMemory } from './lib/procstat.js';

const { values: args } = parseArgs({
  options: {
    sidecars: { type: 'string', default: '200' },
    reporters: { type: 'string', default: '100' },
    'skip-cold': { type: 'boolean', default: false },
    'only-storm': { type: 'boolean', default: false },
    'only-push': { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
    'harness-prof': { type: 'string' },
    compiled: { type: 'boolean', default: false },
    'operator-root': { type: 'string' },
    https: { type: 'boolean', default: false },
    tickets: { type: 'boolean', default: false },
    'shared-pool': { type: 'boolean', default: false },
  },
});
const N = Number(args.sidecars);
const R = Number(args.reporters);
const APP = 'scale-app';
const LEASE_NS = 'scale-lease';
/** Budget phase: per request, estimate and mean cost; the actual cost varies +-50% around the estimate. */
const EST = 0.003;
const LIMIT = 10;
/** TcpExt ListenOverflows from /proc/net/netstat (machine-wide): connections dropped because an accept queue was full. */
function listenOverflows(): number {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    if (!lines[i]!.startsWith('TcpExt:')) continue;
    const names = lines[i]!.split(/\s+/);
    const values = lines[i + 1]!.split(/\s+/);
    return Number(values[names.indexOf('ListenOverflows')] ?? Number.NaN);
  }
  return Number.NaN;
}
/** The p-th percentile of the numbers in xs (NaN ignored). */
function pctOf(xs: number[], p: number): number {
  const sorted = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}
/** CPU milliseconds between two process.cpuUsage() readings. */
const cpuMsSince = (a: NodeJS.CpuUsage, b: NodeJS.CpuUsage) =>
  ((b.user - a.user + b.system - a.system) / 1000).toFixed(0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const line = (s: string) => process.stdout.write(`${s}\n`);

async function until<T>(
  what: string,
  fn: () => Promise<T | false | undefined> | T | false | undefined,
  ms = 120_000,
  every = 20,
) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(every);
  }
}

interface Op {
  child: ChildProcess;
  url: string;
  metricsUrl: string;
  /** performance.now() when it printed "serving sidecars on". */
  servingAt: number;
  /** This process's CPU use (process.cpuUsage()) at that moment. */
  servingCpu: NodeJS.CpuUsage;
  out(): string;
}

/** PEM files of the sidecar API's serving certificate (--https). */
let operatorTls: { certFile: string; keyFile: string } | undefined;
/** The ticket key file (--tickets). */
let ticketKeyFile: string | undefined;

async function startOperator(
  kubeconfig: string,
  port: number,
  identity: string,
  nodeFlags: string[] = [],
): Promise<Op> {
  const child = spawn(
    process.execPath,
    [
      ...nodeFlags,
      ...(args.compiled ? ['bin/tiermesh.js'] : ['--import', 'tsx', 'cmd/tiermesh.ts']),
      'operator',
      ...(operatorTls
        ? ['--tls-cert-file', operatorTls.certFile, '--tls-key-file', operatorTls.keyFile]
        : []),
      ...(ticketKeyFile ? ['--ticket-key-file', ticketKeyFile] : []),
      '--kubeconfig',
      kubeconfig,
      '--listen',
      `127.0.0.1:${port}`,
      '--metrics',
      `127.0.0.1:${port + 1}`,
      '--lease-namespace',
      LEASE_NS,
      '--lease-duration',
      '3',
      '--identity',
      identity,
      // Info, not warn: the 'serving sidecars on' line awaited below is an info log line.
      '--log-level',
      'info',
    ],
    { cwd: args['operator-root'] ?? repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let servingAt = 0;
  let servingCpu = process.cpuUsage();
  child.stdout!.on('data', (d) => {
    out += d;
    if (!servingAt && out.includes('serving sidecars on')) {
      servingAt = performance.now();
      servingCpu = process.cpuUsage();
    }
  });
  child.stderr!.on('data', (d) => {
    out = (out + d).slice(-20_000);
  });
  await until(
    `operator ${identity} serving`,
    () => servingAt > 0 || (child.exitCode !== null && Promise.reject(new Error(out))),
    60_000,
  );
  return {
    child,
    url: `${operatorTls ? 'https' : 'http'}://127.0.0.1:${port}`,
    metricsUrl: `http://127.0.0.1:${port + 1}/metrics`,
    servingAt,
    servingCpu,
    out: () => out,
  };
}

async function kill(op: Op): Promise<void> {
  if (op.child.exitCode !== null || op.child.signalCode !== null) return;
  op.child.kill('SIGKILL');
  await new Promise((r) => op.child.once('exit', r));
}

/** TokenReviews a connect or message caused (not the background re-reviews of open streams' tokens). */
const CONNECT_REVIEWS = 'tiermesh_operator_token_reviews_total{reason="connect"}';
/** With --https: the sidecar API's full and resumed TLS handshakes. */
const FULL_HANDSHAKES = 'tiermesh_operator_tls_handshakes_total{session="new"}';
const RESUMED_HANDSHAKES = 'tiermesh_operator_tls_handshakes_total{session="resumed"}';

async function metric(op: Op, name: string): Promise<number> {
  const text = await (await fetch(op.metricsUrl)).text();
  const series = name.replace(/[{}]/g, '\\$&');
  return Number(new RegExp(`^${series} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
}

/** A sidecar's config store without the proxy behind it: remembers the version it applied. */
function lightStore(): SnapshotTarget & { version: string | undefined; appliedAt: number } {
  const s = {
    version: undefined as string | undefined,
    /** performance.now() when it last applied a new version. */
    appliedAt: 0,
    get current() {
      return s.version ? { snapshot: { version: s.version } } : undefined;
    },
    apply(input: unknown) {
      const v = (input as { version?: unknown }).version;
      if (typeof v !== 'string') return { ok: false as const, error: 'no version' };
      const changed = v !== s.version;
      s.version = v;
      if (changed) s.appliedAt = performance.now();
      return { ok: true as const, version: v, changed };
    },
  };
  return s;
}

async function main(): Promise<void> {
  const started = performance.now();
  const cp = await startControlPlane();
  const dir = mkdtempSync(join(tmpdir(), 'tm-scale-'));
  const ops: Op[] = [];
  const streams: ConfigStream[] = [];
  try {
    if (args.https) operatorTls = await issueServingCert(cp.pki, dir, 'operator');
    if (args.tickets) {
      ticketKeyFile = join(dir, 'ticket-key');
      writeFileSync(ticketKeyFile, randomBytes(32).toString('base64'), { mode: 0o600 });
    }
    /**
     * Each light sidecar's HTTP client: its own connection pool, as every real sidecar (its own process) has; over
     * HTTPS the very client a sidecar given the CA uses. --shared-pool puts them all in one pool, as the harness did
     * before 2026-12-01: undici then looks for a free connection among all 1,000+ (the streams' included) on every
     * ACK, a cost no sidecar has.
     */
    const transport = (): typeof fetch => {
      if (args.https) return operatorFetch({ file: cp.pki.caCert });
      const agent = new Agent();
      return ((input: string | URL, init?: RequestInit) =>
        undiciFetch(input, { ...(init as object), dispatcher: agent } as Parameters<
          typeof undiciFetch
        >[1])) as unknown as typeof fetch;
    };
    const shared = args['shared-pool'] ? (args.https ? transport() : fetch) : undefined;
    /** Per config version, when each ACK of it was answered (performance.now()): where a push's status time goes. */
    const acksAnswered = new Map<string, number[]>();
    /** Every stream request the light sidecars made: when it started and when its answer came (NaN: failed). */
    const streamTries: { startedAt: number; answeredAt: number }[] = [];
    const lightFetch = (): typeof fetch => {
      const base = shared ?? transport();
      return (async (input: string | URL, init?: RequestInit) => {
        const startedAt = performance.now();
        const res = await base(input, init).catch((e) => {
          if (init?.method !== 'POST') streamTries.push({ startedAt, answeredAt: Number.NaN });
          throw e;
        });
        if (init?.method !== 'POST') streamTries.push({ startedAt, answeredAt: performance.now() });
        if (init?.method === 'POST' && String(input).endsWith(ACK_PATH)) {
          const version = (JSON.parse(String(init.body)) as { version: string }).version;
          const at = acksAnswered.get(version) ?? [];
          acksAnswered.set(version, at);
          at.push(performance.now());
        }
        return res;
      }) as typeof fetch;
    };
    const http = lightFetch();
    const kc: KubeConfig = loadKubeConfig(cp.kubeconfigPath);
    await installCrds(kc, join(repoRoot, 'crds'));
    const core = kc.makeApiClient(CoreV1Api);
    const custom = kc.makeApiClient(CustomObjectsApi);
    for (const name of [APP, LEASE_NS]) await core.createNamespace({ body: { metadata: { name } } });
    await core.createNamespacedServiceAccount({ namespace: APP, body: { metadata: { name: 'app' } } });
    const manifests = (cheap: string) =>
      parseObjects(
        routeConfig({
          namespace: APP,
          upstreams: [{ name: 'up', baseURL: 'http://127.0.0.1:9/v1' }],
          cheap: [{ name: cheap, upstreams: ['up'], inputPerMTok: 1, outputPerMTok: 2 }],
          premium: [{ name: 'big', upstreams: ['up'], inputPerMTok: 1, outputPerMTok: 2 }],
          budgets: [{ name: 'team', window: { period: 'daily' }, limit: { usd: LIMIT }, action: 'reject' }],
        }),
      );
    await applyObjects(kc, manifests('small-0'), APP);
    // One token per light sidecar, as every pod has its own: a cold cache costs one TokenReview per stream.
    const tokenFiles: string[] = [];
    for (let i = 0; i < Math.max(N, R); i++) {
      const res = await core.createNamespacedServiceAccountToken({
        name: 'app',
        namespace: APP,
        body: { spec: { audiences: ['tiermesh'], expirationSeconds: 3600 } },
      });
      const f = join(dir, `token-${i}`);
      writeFileSync(f, res.status!.token!);
      tokenFiles.push(f);
    }
    // Below the kernel's ephemeral range (32768 up), where outgoing connections of other processes take ports.
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    let op = await startOperator(cp.kubeconfigPath, port, 'scale-op-a');
    ops.push(op);
    const baseline = treeMemory(op.child.pid!);
    line(
      `# tiermesh scale harness: ${N} light sidecars (real ConfigStream), ${R} budget reporters; apiserver + etcd + operator on this machine (${(performance.now() - started).toFixed(0)} ms to set up)`,
    );
    line(`operator idle RSS: ${((baseline?.rssKiB ?? 0) / 1024).toFixed(0)} MiB`);

    const route = async () =>
      (await custom.getNamespacedCustomObject({
        group: 'tiermesh.dev',
        version: 'v1alpha1',
        namespace: APP,
        plural: 'modelroutes',
        name: 'default',
      })) as { status?: { configVersion?: string; sidecars?: { connected: number; acked: number } } };

    // (1) N streams.
    const stores = Array.from({ length: N }, () => lightStore());
    const t1 = performance.now();
    const connectReviews0 = await metric(op, CONNECT_REVIEWS);
    for (let i = 0; i < N; i++) {
      const s = new ConfigStream({
        operator: op.url,
        tokenFile: tokenFiles[i]!,
        sidecarId: `light-${i}`,
        store: stores[i]!,
        fetch: lightFetch(),
      });
      s.start();
      streams.push(s);
    }
    const first = await until('all acked', async () => {
      const r = await route();
      return r.status?.sidecars?.acked === N && r;
    });
    line(
      `connect: ${N} streams opened and status all acked in ${(performance.now() - t1).toFixed(0)} ms; ` +
        `${(await metric(op, CONNECT_REVIEWS)) - connectReviews0} TokenReviews`,
    );

    // (2)/(3) CRD change -> status all acked.
    let gen = 1;
    /** CPU ticks of the control plane's own processes (kube-apiserver, etcd), which run as this process's children. */
    const controlPlaneTicks = () =>
      childrenOf(process.pid)
        // By name prefix: the binaries carry their version (kube-apiserver-v1.34.4, cut to 15 characters in comm).
        .filter((pid) => /^(kube-apiserver|etcd)/.test(commOf(pid)))
        .reduce((sum, pid) => sum + treeCpuTicks(pid), 0);
    const push = async (label: string) => {
      const before = (await route()).status?.configVersion;
      const reviews0 = await metric(op, CONNECT_REVIEWS);
      const cpu0 = treeCpuTicks(op.child.pid!);
      const selfCpu0 = process.cpuUsage();
      const cp0 = controlPlaneTicks();
      const t0 = performance.now();
      await applyObjects(kc, manifests(`small-${gen++}`), APP);
      let delivered = 0;
      /** The route status's acked count for the new version as the polls saw it change, ms after the write. */
      const seen: string[] = [];
      const r = await until(
        `${label} all acked`,
        async () => {
          if (!delivered) {
            const v = stores[0]!.version;
            if (v !== before && stores.every((s) => s.version === v)) delivered = performance.now() - t0;
          }
          const o = await route();
          if (o.status?.configVersion !== before) {
            const acked = o.status?.sidecars?.acked ?? 0;
            if (seen.at(-1)?.split('@')[0] !== String(acked))
              seen.push(`${acked}@${(performance.now() - t0).toFixed(0)}`);
          }
          return o.status?.configVersion !== before && o.status?.sidecars?.acked === N && o;
        },
        120_000,
        10,
      );
      const statusMs = performance.now() - t0;
      if (!delivered) delivered = statusMs;
      const answered = (acksAnswered.get(r.status?.configVersion ?? '') ?? []).map((t) => t - t0);
      const selfCpu = process.cpuUsage(selfCpu0);
      const cpCpuMs = (controlPlaneTicks() - cp0) * 10;
      const reviews = (await metric(op, CONNECT_REVIEWS)) - reviews0;
      const cpuMs = (treeCpuTicks(op.child.pid!) - cpu0) * 10;
      const mem = treeMemory(op.child.pid!);
      line(
        `push (${label}): CRD write -> all ${N} serving it ${delivered.toFixed(0)} ms, status all acked ${statusMs.toFixed(0)} ms; ` +
          `${reviews} TokenReviews, operator CPU ${cpuMs} ms, RSS ${((mem?.rssKiB ?? 0) / 1024).toFixed(0)} MiB (version ${r.status?.configVersion})`,
      );
      line(
        `push (${label}) detail: ${answered.length} ACKs answered, p50/max ${pctOf(answered, 50).toFixed(0)}/${pctOf(answered, 100).toFixed(0)} ms after the write; ` +
          `status acked as polled (count@ms) ${seen.join(' ')}; CPU until all acked: harness (light sidecars) ` +
          `${((selfCpu.user + selfCpu.system) / 1000).toFixed(0)} ms, apiserver+etcd ${cpCpuMs} ms`,
      );
    };
    await sleep(2_000);
    if (!args['only-storm']) for (let i = 0; i < 3; i++) await push(`warm ${i + 1}`);
    if (!args['skip-cold'] && !args['only-storm']) {
      line('waiting 31 s for the operator token cache (30 s) to expire ...');
      await sleep(31_000);
      await push('cold token cache');
    }
    void first;
    if (args['only-push']) return;

    // (4) Reconnect storm: SIGKILL, a change while down, restart (same identity: renews its own Lease at once).
    const oldVersion = stores[0]!.version;
    // Every connection attempt the light sidecars make (undici's channels), to split the storm's client work into
    // attempts refused while the operator was down or starting and connections made after it served.
    const attempts: { at: number; ok: boolean }[] = [];
    subscribe('undici:client:connected', () => attempts.push({ at: performance.now(), ok: true }));
    subscribe('undici:client:connectError', () => attempts.push({ at: performance.now(), ok: false }));
    await kill(op);
    await applyObjects(kc, manifests(`small-${gen++}`), APP);
    await sleep(1_000);
    const stormReviews0 = 0; // a new process: its counter starts at 0
    const cpTicks0 = controlPlaneTicks();
    const overflows0 = listenOverflows();
    const selfCpu0 = process.cpuUsage();
    const restartAt = performance.now();
    const profDir = args['cpu-prof'];
    op = await startOperator(
      cp.kubeconfigPath,
      port,
      'scale-op-a',
      profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir] : [],
    );
    ops.push(op);
    const serving = op.servingAt;
    // --harness-prof FILE: a CPU profile of this process (the light sidecars) from the operator serving to all back.
    const harnessProf = args['harness-prof'] ? new Session() : undefined;
    if (harnessProf) {
      harnessProf.connect();
      await harnessProf.post('Profiler.enable');
      await harnessProf.post('Profiler.setSamplingInterval', { interval: 200 });
      await harnessProf.post('Profiler.start');
    }
    /** When each light sidecar was first seen connected again (polled every 10 ms), from the operator serving. */
    const backAt = new Array<number>(N).fill(Number.NaN);
    const versionAfter = await until(
      'all streams back on the latest version',
      () => {
        const now = performance.now();
        for (let i = 0; i < N; i++) if (Number.isNaN(backAt[i]!) && streams[i]!.connected) backAt[i] = now;
        const v = stores[0]!.version;
        return (
          v !== oldVersion && stores.every((s) => s.version === v) && streams.every((s) => s.connected) && v
        );
      },
      120_000,
      10,
    );
    const storm = performance.now() - serving;
    if (harnessProf) {
      const { profile } = await harnessProf.post('Profiler.stop');
      writeFileSync(args['harness-prof']!, JSON.stringify(profile));
      harnessProf.disconnect();
    }
    await until(
      'status all acked after restart',
      async () => {
        const r = await route();
        return r.status?.sidecars?.acked === N && r.status.sidecars.connected === N;
      },
      120_000,
      10,
    );
    const stormStatus = performance.now() - serving;
    const opCpuMs = treeCpuTicks(op.child.pid!) * 10;
    const cpCpuMs = (controlPlaneTicks() - cpTicks0) * 10;
    const self = process.cpuUsage(selfCpu0);
    const stormCpuEnd = process.cpuUsage();
    const stormReviews = (await metric(op, CONNECT_REVIEWS)) - stormReviews0;
    // An operator from before the counter (--operator-root) has no such series.
    const [full, resumed] = [await metric(op, FULL_HANDSHAKES), await metric(op, RESUMED_HANDSHAKES)];
    const handshakes =
      args.https && !Number.isNaN(full) ? `TLS handshakes ${full} full, ${resumed} resumed; ` : '';
    const overflows = listenOverflows() - overflows0;
    const rel = (xs: number[]) => [50, 90, 100].map((p) => (pctOf(xs, p) - serving).toFixed(0)).join('/');
    const afterServing = attempts.filter((a) => a.at >= serving);
    const triedAfter = streamTries.filter((t) => t.startedAt >= serving && !Number.isNaN(t.answeredAt));
    const waits = triedAfter.map((t) => serving + t.answeredAt - t.startedAt);
    const triesLine = `stream requests started after serving ${triedAfter.length}: started p50/p90/max ${rel(triedAfter.map((t) => t.startedAt))}, answered after ${rel(waits)} ms; `;
    const attemptsLine =
      triesLine +
      `connection attempts from the SIGKILL: ${attempts.length - afterServing.length} before serving (` +
      `${attempts.filter((a) => a.at < serving && !a.ok).length} refused), after: ${afterServing.filter((a) => a.ok).length} connected, ` +
      `${afterServing.filter((a) => !a.ok).length} failed (connected p50/p90/max ${rel(afterServing.filter((a) => a.ok).map((a) => a.at))} ms from serving); `;
    line(
      `reconnect storm: operator SIGKILLed, config changed meanwhile, restarted: all ${N} streams on the new version ` +
        `${storm.toFixed(0)} ms after it served, status all acked after ${stormStatus.toFixed(0)} ms (${versionAfter})`,
    );
    line(
      `reconnect storm detail: operator process start -> serving ${(serving - restartAt).toFixed(0)} ms; ` +
        `streams back (p50/p90/max, ms from serving) ${rel(backAt)}, new version applied ${rel(stores.map((s) => s.appliedAt))}; ` +
        `${stormReviews} TokenReviews; ${handshakes}${attemptsLine}CPU from restart to all acked: operator ${opCpuMs} ms (start-up included), ` +
        `apiserver+etcd ${cpCpuMs} ms, harness (light sidecars) ${((self.user + self.system) / 1000).toFixed(0)} ms (${cpuMsSince(op.servingCpu, stormCpuEnd)} ms of it after serving); ` +
        `${overflows} connections dropped by full accept queues (machine-wide)`,
    );
    if (profDir) {
      // SIGTERM: a clean exit, so V8 writes the profile; a new operator takes its place for what follows.
      op.child.kill('SIGTERM');
      await new Promise((r) => op.child.once('exit', r));
      line(`cpu profile of the restarted operator written to ${profDir}`);
    }
    if (args['only-storm'] || profDir) return;

    // (5) Budget: R reporters, 2 concurrent requests each, through a leader failover.
    const opB = await startOperator(cp.kubeconfigPath, port + 2, 'scale-op-b');
    ops.push(opB);
    // A Service in front of two replicas: try one, on a refusal (503 from the follower) or a dead one, the other.
    const replicas = [op, opB];
    const post = async (path: string, tokenFile: string, body: unknown): Promise<unknown> => {
      const token = readFileSync(tokenFile, 'utf8').trim();
      let last: unknown;
      for (const r of replicas) {
        try {
          const res = await http(`${r.url}${path}`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify(body),
            signal: AbortSignal.timeout(10_000),
          });
          const text = await res.text();
          if (res.status === 200) return JSON.parse(text);
          last = new Error(`${res.status} ${text.slice(0, 200)}`);
        } catch (e) {
          last = e;
        }
      }
      throw last;
    };
    let reported = 0;
    let served = 0;
    let refused = 0;
    const reporters = Array.from({ length: R }, (_, i) => {
      const sidecarId = `reporter-${i}`;
      const stateDir = join(dir, sidecarId);
      mkdirSync(stateDir, { recursive: true });
      const allowance = new AllowanceClient({
        request: async (budget, local, wantUSD) =>
          allowanceReply.parse(
            await post(ALLOWANCE_PATH, tokenFiles[i]!, {
              sidecarId,
              budget,
              ...(local ? { local } : {}),
              ...(wantUSD !== undefined ? { wantUSD } : {}),
            }),
          ),
        localOverspendUSD: 0,
      });
      const reporter = new UsageReporter({
        sidecarId,
        stateDir,
        send: async (batch) => void (await post(USAGE_PATH, tokenFiles[i]!, batch)),
      });
      return { allowance, reporter };
    });
    // Each reporter is a sidecar with its own config stream (on the replica that will take over), so slices are
    // sized by every sidecar the replicas see: the N on the leader plus these R, shared through the Lease.
    for (let i = 0; i < R; i++) {
      const s = new ConfigStream({
        operator: opB.url,
        tokenFile: tokenFiles[i]!,
        sidecarId: `reporter-${i}`,
        store: lightStore(),
        fetch: lightFetch(),
      });
      s.start();
      streams.push(s);
    }
    await until('reporter streams counted', async () => {
      const r = await route();
      return r.status?.sidecars?.connected === N + R;
    });
    await Promise.all(reporters.map((r) => r.allowance.prefetch(['team'])));
    const leaderOf = async () => {
      for (const r of replicas)
        if ((await metric(r, 'tiermesh_operator_leader').catch(() => 0)) === 1) return r;
      return undefined;
    };
    let failedOver = false;
    let failoverMs = 0;
    /** When the surviving replica was seen leading after the failover (refusals before it are the failover's). */
    let leaderBackAt = Number.POSITIVE_INFINITY;
    const t5 = performance.now();
    const worker = async (r: (typeof reporters)[number]) => {
      let inARow = 0;
      // Done once refused for 3 s straight with a leader answering: the budget is spent cluster-wide.
      while (
        !(inARow >= 60 && performance.now() > leaderBackAt + 3_000) &&
        performance.now() - t5 < 180_000
      ) {
        if (!r.allowance.tryReserve('team', EST)) {
          inARow++;
          refused++;
          await sleep(50);
          continue;
        }
        inARow = 0;
        await sleep(20 + Math.random() * 30);
        const usd = EST * (0.5 + Math.random());
        r.allowance.record('team', { usd, reservedUSD: EST });
        r.reporter.add({
          route: 'default',
          model: 'small-x',
          inputTokens: 1000,
          outputTokens: 1000,
          costUSD: usd,
          baselineCostUSD: usd,
          at: Date.now(),
        });
        reported += usd;
        served++;
        if (!failedOver && reported > LIMIT / 2) {
          failedOver = true;
          // The leader dies mid-load; the other replica takes the Lease once it expires and loads status.grants.
          void (async () => {
            const l = await leaderOf();
            if (l) await kill(l);
            const t = performance.now();
            await until('a new leader', async () => (await leaderOf()) !== undefined, 60_000, 50);
            leaderBackAt = performance.now();
            failoverMs = leaderBackAt - t;
          })();
        }
      }
    };
    await Promise.all(reporters.flatMap((r) => [worker(r), worker(r)]));
    const loadMs = performance.now() - t5;
    await Promise.all(reporters.map((r) => r.reporter.drain(60_000)));
    const budget = async () =>
      (await custom.getNamespacedCustomObject({
        group: 'tiermesh.dev',
        version: 'v1alpha1',
        namespace: APP,
        plural: 'modelbudgets',
        name: 'team',
      })) as { status?: { spentUSD?: number; reporters?: Record<string, number>; grants?: object } };
    const b = await until(
      'ledger caught up',
      async () => {
        const o = await budget();
        return Math.abs((o.status?.spentUSD ?? 0) - reported) < 1e-6 && o;
      },
      60_000,
      100,
    ).catch(async () => budget());
    const ledger = b.status?.spentUSD ?? 0;
    line(
      `budget: ${R} reporters x 2 concurrent requests, $${LIMIT} limit, ~$${EST}/request (+-50%), leader SIGKILLed at half (${(failoverMs / 1000).toFixed(1)} s without a leader): ` +
        `served ${served}, refused ${refused} in ${(loadMs / 1000).toFixed(1)} s; reported $${reported.toFixed(4)}, ` +
        `overspend $${(reported - LIMIT).toFixed(4)} (${(((reported - LIMIT) / LIMIT) * 100).toFixed(2)}% of the limit); ` +
        `ledger $${ledger.toFixed(4)} (${Math.abs(ledger - reported) < 1e-6 ? 'exact' : `off by ${(ledger - reported).toFixed(6)}`})`,
    );
    const held = Object.values(
      (b.status?.grants ?? {}) as Record<string, { usd: number; expiresAt: number }>,
    );
    line(
      `budget: ${held.length} slices outstanding in status.grants at the end, $${held.reduce((a, g) => a + g.usd, 0).toFixed(4)}`,
    );
    const entries0 = Object.keys(b.status?.reporters ?? {}).length;
    await Promise.all(reporters.map((r) => r.reporter.close(10_000)));
    const after = await budget();
    line(
      `reporters: ${entries0} dedup entries in status before the reporters shut down, ${Object.keys(after.status?.reporters ?? {}).length} after (retired)`,
    );
  } finally {
    for (const s of streams) void s.stop();
    for (const o of ops) await kill(o).catch(() => undefined);
    await cp.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`scale harness failed: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  },
);
