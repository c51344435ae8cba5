/** `tiermesh sidecar`: runs the OpenAI-compatible routing proxy standalone on a YAML file of manifests. */
import { createServer, type Server } from 'node:http';
import { ConfigError, loadConfigFile } from '../config/manifests.js';
import { podLabelsFromEnv } from '../config/pod-selector.js';
import { TiermeshError } from '../errors.js';
import { listen } from '../http/listen.js';
import { isLoopbackHost } from '../http/loopback.js';
import { sendError } from '../http/reply.js';
import { defaultKeyEnv } from '../providers/keys.js';
import { startSidecar } from '../sidecar/app.js';
import { linkToOperator } from '../sidecar/config-stream-operator.js';
import { DEFAULT_MAX_BODY_BYTES, SIDECAR_HOST, SIDECAR_PORT } from '../sidecar/defaults.js';
import { serveHealthOnly } from '../sidecar/health.js';
import { RoutingTally } from '../sidecar/routing-tally.js';
import { createLogger, type Logger, logProcessEvents } from '../telemetry/logger.js';
import type { SidecarMetrics } from '../telemetry/metrics.js';
import { type HostPort, parseCliArgs, parseHostPort, parseLogLevel, untilStopSignal } from './args.js';
import { type FeedbackOptions, feedbackFlags, feedbackHelp, feedbackOptions } from './feedback-options.js';

const DEFAULT_LISTEN = `${SIDECAR_HOST}:${SIDECAR_PORT}`;

/** The injector passes the operator's CA bundle (PEM) in this variable; --operator-ca takes precedence. */
const OPERATOR_CA_ENV = 'TIERMESH_OPERATOR_CA_PEM';
/** After SIGTERM: 20 s for in-flight requests, then up to 5 s for their usage, inside a default 30 s grace period. */
const DEFAULT_DRAIN_SECONDS = 20;

const help = `usage: tiermesh sidecar (--config <file> | --operator <url> --token-file <path>) [options]

  --config <file>        ModelRoute/ModelBudget manifests (one namespace); SIGHUP reloads it
  --operator <url>       take config from the operator's stream instead, report usage, use cluster allowances
  --token-file <path>    service-account token (audience tiermesh) presented to the operator
  --state-dir <dir>      last known good config and unsent usage, kept across restarts (with --operator)
  --operator-ca <file>   PEM CA bundle to verify an https:// operator with (else $${OPERATOR_CA_ENV}: the PEM text)
  --operator-connect <host:port>  dial this address for the operator, still verifying its URL's host name
  --local-overspend-usd <usd>     per budget, most this sidecar spends beyond its slices while the operator is
                                  unreachable, before refusing/downgrading (default 1; 0 = refuse at once)
  --metrics-listen <host:port>    also serve /metrics (and nothing else) here, e.g. 0.0.0.0:9464 for Prometheus
  --health-listen <host:port>     also serve GET /healthz and /readyz (and nothing else) here, e.g. 0.0.0.0:4021
                                  for kubelet httpGet probes on the pod IP
  --listen <host:port>   address to serve on (default ${DEFAULT_LISTEN}); loopback only, unless --allow-remote
  --allow-remote         let --listen take a non-loopback address: whoever reaches it spends this sidecar's
                         provider keys and budgets (off by default; the chat API has no authentication). Also
                         turns off the browser guard (requests whose Host is not loopback, or from another
                         web origin, are otherwise refused with 403)
  --max-body-bytes <n>   largest accepted request body (default ${DEFAULT_MAX_BODY_BYTES})
  --drain-seconds <s>    after SIGTERM, how long in-flight requests may finish before connections close; with
                         --operator, their usage is then delivered for up to 5 s more (default ${DEFAULT_DRAIN_SECONDS}:
                         both within Kubernetes' default 30 s grace period; the injector sets it from the pod's)
  --log-prompts          include prompt text in request log lines (off by default)
  --log-level <level>    trace|debug|info|warn|error (default info)

feedback and decision log (docs/feedback.md):
${feedbackHelp}`;

/** "host:port", "[v6]:port" or ":port"/"port" (loopback). */
export function parseListen(value: string, flag = 'listen'): HostPort {
  return parseHostPort(flag, value, true);
}

export async function run(args: string[]): Promise<number> {
  const values = parseCliArgs(
    args,
    {
      config: { type: 'string' },
      operator: { type: 'string' },
      'token-file': { type: 'string' },
      'state-dir': { type: 'string' },
      'operator-ca': { type: 'string' },
      'operator-connect': { type: 'string' },
      'metrics-listen': { type: 'string' },
      'local-overspend-usd': { type: 'string' },
      'health-listen': { type: 'string' },
      listen: { type: 'string', default: DEFAULT_LISTEN },
      'allow-remote': { type: 'boolean', default: false },
      'max-body-bytes': { type: 'string' },
      'drain-seconds': { type: 'string' },
      'log-prompts': { type: 'boolean', default: false },
      'log-level': { type: 'string', default: 'info' },
      ...feedbackFlags,
      help: { type: 'boolean', short: 'h', default: false },
    },
    help,
  );
  if (typeof values === 'number') return values;
  const configPath = values['config'] as string | undefined;
  const operatorURL = values['operator'] as string | undefined;
  if (!configPath === !operatorURL) {
    process.stderr.write(`exactly one of --config or --operator is required\n\n${help}`);
    return 2;
  }
  if (operatorURL && !values['token-file']) {
    process.stderr.write(`--operator needs --token-file\n\n${help}`);
    return 2;
  }
  let listen: HostPort;
  let connectTo: HostPort | undefined;
  let metricsListen: HostPort | undefined;
  let healthListen: HostPort | undefined;
  let maxBodyBytes = DEFAULT_MAX_BODY_BYTES;
  let drainMs = DEFAULT_DRAIN_SECONDS * 1000;
  let localOverspendUSD: number | undefined;
  let quality: FeedbackOptions;
  let podLabels: Record<string, string> | undefined;
  try {
    // Set by the injector: the sidecar runs only the routes whose podSelector selects its pod.
    podLabels = podLabelsFromEnv(process.env);
    if (values['local-overspend-usd'] !== undefined) {
      localOverspendUSD = Number(values['local-overspend-usd']);
      if (!Number.isFinite(localOverspendUSD) || localOverspendUSD < 0)
        throw new Error('--local-overspend-usd: expected a number of USD >= 0');
    }
    quality = feedbackOptions(values);
    listen = parseListen(values['listen'] as string);
    if (!isLoopbackHost(listen.host) && values['allow-remote'] !== true)
      throw new Error(
        `--listen: ${listen.host} is not a loopback address; the chat API spends this sidecar's keys and has no ` +
          'authentication, so it serves on 127.0.0.1 or ::1 (--allow-remote to serve elsewhere anyway)',
      );
    parseLogLevel(values['log-level'] as string);
    if (values['operator-connect'] !== undefined)
      connectTo = parseListen(values['operator-connect'] as string, 'operator-connect');
    if (values['metrics-listen'] !== undefined)
      metricsListen = parseListen(values['metrics-listen'] as string, 'metrics-listen');
    if (values['health-listen'] !== undefined)
      healthListen = parseListen(values['health-listen'] as string, 'health-listen');
    if (values['max-body-bytes'] !== undefined) {
      maxBodyBytes = Number(values['max-body-bytes']);
      if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1)
        throw new Error('--max-body-bytes: expected a positive integer');
    }
    if (values['drain-seconds'] !== undefined) {
      const seconds = Number(values['drain-seconds']);
      if (!Number.isFinite(seconds) || seconds < 0)
        throw new Error('--drain-seconds: expected a number of seconds >= 0');
      drainMs = seconds * 1000;
    }
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 2;
  }

  if (operatorURL) {
    return runWithOperator({
      operator: operatorURL,
      tokenFile: values['token-file'] as string,
      stateDir: values['state-dir'] as string | undefined,
      caFile: values['operator-ca'] as string | undefined,
      caPem: process.env[OPERATOR_CA_ENV] || undefined,
      connectTo,
      metricsListen,
      healthListen,
      listen,
      allowRemote: values['allow-remote'] === true,
      maxBodyBytes,
      drainMs,
      localOverspendUSD,
      logPrompts: values['log-prompts'] === true,
      logLevel: values['log-level'] as string,
      quality,
      podLabels,
    });
  }
  let snapshot: Awaited<ReturnType<typeof loadConfigFile>>;
  try {
    snapshot = await loadConfigFile(configPath!);
  } catch (e) {
    process.stderr.write(`${e instanceof ConfigError ? e.message : String(e)}\n`);
    return 1;
  }
  const logger = createLogger({ level: values['log-level'] as string });
  logProcessEvents(logger);
  let sidecar: Awaited<ReturnType<typeof startSidecar>>;
  try {
    sidecar = await startSidecar({
      ...listen,
      allowRemote: values['allow-remote'] === true,
      maxBodyBytes,
      logPrompts: values['log-prompts'] === true,
      logger,
      snapshot,
      podLabels,
      ...quality,
    });
  } catch (e) {
    return cannotStart(logger, e, { listen, decisionLog: quality.decisionLog?.path });
  }
  // A log line like every other: stdout is JSON lines only (the URL is in msg too, for a human and for tests).
  logger.info(
    { url: `${sidecar.url}/v1`, version: snapshot.version },
    `tiermesh sidecar listening on ${sidecar.url}/v1 (config ${snapshot.version})`,
  );
  let side: SideListeners;
  try {
    side = await serveSideListeners(sidecar, logger, { metricsListen, healthListen });
  } catch (e) {
    await sidecar.close(0);
    return cannotStart(logger, e, { metricsListen, healthListen });
  }

  const reload = async () => {
    try {
      const r = sidecar.store.apply(await loadConfigFile(configPath!));
      // A new version is logged once, as "config applied", by the sidecar itself.
      if (r.ok) {
        if (!r.changed) logger.info({ version: r.version }, 'config file re-read: unchanged');
      } else logger.error({ error: r.error }, 'config reload refused; still serving the previous version');
    } catch (e) {
      logger.error(
        { error: e instanceof ConfigError ? e.problems : String(e) },
        'config reload failed; still serving the previous version',
      );
    }
  };
  process.on('SIGHUP', () => void reload());

  return untilStopSignal((signal) => {
    logger.info(
      { signal, inFlight: sidecar.server.inFlight() },
      'shutting down: draining in-flight requests',
    );
    side.close();
    return sidecar.close(drainMs);
  });
}

/** Cluster mode: config from the operator's stream, usage reported to it, spending within its allowances. */
async function runWithOperator(o: {
  operator: string;
  tokenFile: string;
  stateDir: string | undefined;
  caFile: string | undefined;
  caPem: string | undefined;
  connectTo: HostPort | undefined;
  metricsListen: HostPort | undefined;
  healthListen: HostPort | undefined;
  listen: HostPort;
  allowRemote: boolean;
  maxBodyBytes: number;
  drainMs: number;
  localOverspendUSD: number | undefined;
  logPrompts: boolean;
  logLevel: string;
  quality: FeedbackOptions;
  podLabels: Record<string, string> | undefined;
}): Promise<number> {
  const logger = createLogger({ level: o.logLevel });
  logProcessEvents(logger);
  // Counted by the sidecar's recorder, sent to the operator on the usage batches (ModelRoute.status.routing).
  const routingTally = new RoutingTally(Date.now());
  const link = linkToOperator({
    routingTally,
    operator: o.operator,
    tokenFile: o.tokenFile,
    stateDir: o.stateDir,
    caFile: o.caFile,
    caPem: o.caPem,
    connectTo: o.connectTo,
    localOverspendUSD: o.localOverspendUSD,
    logger,
  });
  let sidecar: Awaited<ReturnType<typeof startSidecar>>;
  try {
    sidecar = await startSidecar({
      ...o.listen,
      allowRemote: o.allowRemote,
      // In a cluster keys come from mounted Secrets only (keys.ts: `fileKeys`).
      keyEnv: { ...defaultKeyEnv(), fileKeys: false },
      maxBodyBytes: o.maxBodyBytes,
      logPrompts: o.logPrompts,
      logger,
      allowance: link.allowance,
      routingTally,
      onUsage: (u) => link.report(u),
      podLabels: o.podLabels,
      ...o.quality,
    });
  } catch (e) {
    await link.stop();
    return cannotStart(logger, e, { listen: o.listen, decisionLog: o.quality.decisionLog?.path });
  }
  link.allowance.listen({
    local: (budget, on) => sidecar.metrics.budgetLocal(budget, on),
    localSpent: (budget, usd) => sidecar.metrics.budgetLocalSpent(budget, usd),
  });
  link.attach(sidecar.store);
  logger.info(
    { url: `${sidecar.url}/v1`, operator: o.operator, sidecarId: link.sidecarId },
    `tiermesh sidecar listening on ${sidecar.url}/v1 (config from ${o.operator}, id ${link.sidecarId})`,
  );
  const at = { metricsListen: o.metricsListen, healthListen: o.healthListen };
  let side: SideListeners;
  try {
    side = await serveSideListeners(sidecar, logger, at);
  } catch (e) {
    await sidecar.close(0);
    await link.stop();
    return cannotStart(logger, e, at);
  }
  return untilStopSignal((signal) => {
    logger.info(
      { signal, inFlight: sidecar.server.inFlight() },
      'shutting down: draining requests, then usage',
    );
    side.close();
    return sidecar.close(o.drainMs).then(() => link.stop());
  });
}

/** The optional /metrics-only and health-only listeners beside the API. */
interface SideListeners {
  close(): void;
}

/** Starts them; if one cannot listen, closes what did start and throws its error. */
async function serveSideListeners(
  sidecar: Awaited<ReturnType<typeof startSidecar>>,
  logger: Logger,
  at: { metricsListen?: HostPort | undefined; healthListen?: HostPort | undefined },
): Promise<SideListeners> {
  const servers: Server[] = [];
  const close = () => {
    for (const s of servers) s.close();
  };
  try {
    if (at.metricsListen) servers.push(await serveMetricsOnly(sidecar.metrics, at.metricsListen, logger));
    if (at.healthListen) servers.push((await serveHealthOnly(sidecar.store, at.healthListen, logger)).server);
  } catch (e) {
    close();
    throw e;
  }
  return { close };
}

/**
 * A start-up failure as one fatal JSON line naming the flag behind it (a port in use, a decision log that cannot be
 * opened), instead of Node's plain-text error on stderr; the exit code is 1.
 */
function cannotStart(
  logger: Logger,
  e: unknown,
  flags: {
    listen?: HostPort;
    metricsListen?: HostPort;
    healthListen?: HostPort;
    decisionLog?: string | undefined;
  },
): number {
  const err = e as NodeJS.ErrnoException & { address?: string; port?: number };
  let flag: string | undefined;
  if (flags.decisionLog !== undefined && err.path === flags.decisionLog)
    flag = `--decision-log ${flags.decisionLog}`;
  else if (err.syscall === 'listen' || err.code === 'EADDRINUSE' || err.code === 'EADDRNOTAVAIL') {
    const at = (hp: HostPort | undefined) => hp !== undefined && hp.port === err.port;
    const which = at(flags.metricsListen)
      ? ['--metrics-listen', flags.metricsListen]
      : at(flags.healthListen)
        ? ['--health-listen', flags.healthListen]
        : ['--listen', flags.listen ?? flags.metricsListen ?? flags.healthListen];
    const hp = which[1] as HostPort | undefined;
    flag = `${which[0]}${hp ? ` ${hp.host}:${hp.port}` : ''}`;
  }
  const why = `${flag ? `${flag}: ` : ''}${err.message ?? String(e)}`;
  logger.fatal({ error: why }, `tiermesh sidecar cannot start: ${why}`);
  return 1;
}

/**
 * /metrics and nothing else, for a Prometheus scrape on the pod IP: the chat API (which spends this pod's budget
 * with its keys) stays on loopback, and metrics carry no prompts or keys.
 */
async function serveMetricsOnly(metrics: SidecarMetrics, at: HostPort, logger: Logger): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      sendError(res, new TiermeshError('TM_NOT_FOUND', 'only GET /metrics is served here'));
      return;
    }
    metrics.text().then(
      ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body),
      (e: unknown) => sendError(res, e),
    );
  });
  const url = `${await listen(server, at.host, at.port)}/metrics`;
  logger.info({ url }, `tiermesh sidecar metrics on ${url}`);
  return server;
}
