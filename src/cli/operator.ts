/** `tiermesh operator`: watches ModelRoute/ModelBudget, pushes config to sidecars, keeps the budget ledger. */
import { readFileSync } from 'node:fs';
import { KubeConfig, type V1OwnerReference } from '@kubernetes/client-node';
import { pino } from 'pino';
import { serviceAccountOwner } from '../operator/lease-owner.js';
import { type HostPort, startOperator } from '../operator/operator.js';
import { logProcessEvents } from '../telemetry/logger.js';
import { webhookCliHelp, webhookCliOptions, webhookOptionsFromCli } from '../webhook/cli-options.js';
import { startWebhookServer, type WebhookServer } from '../webhook/server.js';
import { commaList, parseCliArgs, parseHostPort, parseLogLevel, untilStopSignal } from './args.js';

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

const help = `usage: tiermesh operator [options]

  --kubeconfig <path>         kubeconfig to use (default: in-cluster service account, else $KUBECONFIG / ~/.kube/config)
  --listen <host:port>        sidecar API: config stream, ACKs, usage, allowances (default 0.0.0.0:8443)
  --tls-cert-file <pem>       serve the sidecar API over HTTPS with this certificate (with --tls-key-file)
  --tls-key-file <pem>        its private key (both files are re-read every minute)
  --tls-from-webhook          serve the sidecar API with the webhook's serving certificate instead (self mode:
                              the cert Secret, following renewals; otherwise --webhook-cert-dir); needs the webhook
  --ticket-key-file <file>    a secret of at least 32 raw bytes (e.g. head -c 32 /dev/urandom; a mounted Secret, the
                              same for every replica) keying the config streams' resumption tickets; for a sidecar
                              API without TLS of its own (default: derived from the serving key; no tickets over
                              plain HTTP without it). As sensitive as a serving key
  --metrics <host:port>       /metrics, /healthz, /readyz (default 127.0.0.1:9090; "off" disables)
  --namespace-scope <a,b>     watch only these namespaces (default: all)
  --lease-namespace <ns>      namespace of the leader-election Lease (default: $POD_NAMESPACE, else default)
  --lease-name <name>         name of the Lease (default tiermesh-operator)
  --lease-duration <seconds>  leader lease duration (default 15)
  --allowance-cap-usd <usd>   largest budget slice one sidecar may hold (default 1)
  --identity <name>           leader-election identity (default: $POD_NAME or host name + random suffix)
  --shutdown-delay-seconds <s>  after SIGTERM, keep serving the webhook and sidecar API this long with /readyz at
                              503 before closing them, so the pod leaves its Service's endpoints first and no pod
                              is admitted without the sidecar meanwhile (default 0; the chart sets 5)
  --log-level <level>         trace|debug|info|warn|error (default info)

${webhookCliHelp}`;

export async function run(args: string[]): Promise<number> {
  const values = parseCliArgs(
    args,
    {
      kubeconfig: { type: 'string' },
      listen: { type: 'string', default: '0.0.0.0:8443' },
      metrics: { type: 'string', default: '127.0.0.1:9090' },
      'tls-cert-file': { type: 'string' },
      'tls-key-file': { type: 'string' },
      'tls-from-webhook': { type: 'boolean', default: false },
      'ticket-key-file': { type: 'string' },
      // Hidden, for tests only: the ticket review bound (10 minutes) made small enough to watch its re-reviews.
      'ticket-review-bound-seconds': { type: 'string' },
      'namespace-scope': { type: 'string' },
      'lease-namespace': { type: 'string' },
      'lease-name': { type: 'string', default: 'tiermesh-operator' },
      'lease-duration': { type: 'string', default: '15' },
      identity: { type: 'string' },
      'allowance-cap-usd': { type: 'string', default: '1' },
      'shutdown-delay-seconds': { type: 'string', default: '0' },
      ...webhookCliOptions,
      'log-level': { type: 'string', default: 'info' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    help,
  );
  if (typeof values === 'number') return values;
  let listen: HostPort;
  let metrics: HostPort | undefined;
  let leaseDurationSeconds: number;
  let reviewBoundMs: number | undefined;
  let capUSD: number;
  let shutdownDelaySeconds: number;
  try {
    listen = parseHostPort('listen', values['listen'] as string);
    parseLogLevel(values['log-level'] as string);
    metrics = values['metrics'] === 'off' ? undefined : parseHostPort('metrics', values['metrics'] as string);
    if (!values['tls-cert-file'] !== !values['tls-key-file'])
      throw new Error('--tls-cert-file and --tls-key-file go together');
    if (values['tls-from-webhook'] && values['tls-cert-file'])
      throw new Error('--tls-from-webhook and --tls-cert-file exclude each other');
    capUSD = Number(values['allowance-cap-usd']);
    if (!(capUSD > 0)) throw new Error('--allowance-cap-usd: expected a positive number of USD');
    leaseDurationSeconds = Number(values['lease-duration']);
    if (!Number.isInteger(leaseDurationSeconds) || leaseDurationSeconds < 2)
      throw new Error('--lease-duration: expected whole seconds >= 2');
    shutdownDelaySeconds = Number(values['shutdown-delay-seconds']);
    if (!Number.isInteger(shutdownDelaySeconds) || shutdownDelaySeconds < 0 || shutdownDelaySeconds > 300)
      throw new Error('--shutdown-delay-seconds: expected whole seconds from 0 to 300');
    const bound = values['ticket-review-bound-seconds'] as string | undefined;
    if (bound !== undefined) {
      reviewBoundMs = Number(bound) * 1000;
      if (!Number.isInteger(Number(bound)) || Number(bound) < 2)
        throw new Error('--ticket-review-bound-seconds: expected whole seconds >= 2');
    }
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 2;
  }

  const logger = pino({
    level: values['log-level'] as string,
    base: { component: 'operator' },
    redact: {
      paths: [
        'token',
        '*.token',
        'ticket',
        '*.ticket',
        'headers.authorization',
        'headers["x-tiermesh-ticket"]',
      ],
      censor: '[redacted]',
    },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
  logProcessEvents(logger);
  const kc = new KubeConfig();
  try {
    if (values['kubeconfig']) kc.loadFromFile(values['kubeconfig'] as string);
    else kc.loadFromDefault();
  } catch (e) {
    // Past flag parsing everything is a JSON log line: in a pod, stderr and stdout end up in one log.
    logger.fatal({ err: (e as Error).message }, 'cannot load kubeconfig');
    return 1;
  }
  const podNamespace = process.env['POD_NAMESPACE'] ?? readServiceAccountNamespace();
  let webhookOptions: ReturnType<typeof webhookOptionsFromCli>;
  try {
    webhookOptions = webhookOptionsFromCli(values, {
      kubeConfig: kc,
      namespace: podNamespace ?? 'default',
      version: process.env['TIERMESH_VERSION'] ?? '0.1.0',
    });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 2;
  }
  if (values['tls-from-webhook'] && !webhookOptions) {
    process.stderr.write('--tls-from-webhook needs the webhook (--webhook-listen)\n');
    return 2;
  }
  // Started first when it lends its certificate: the sidecar API must not come up on plain HTTP meanwhile.
  const webhook =
    webhookOptions && values['tls-from-webhook']
      ? await startWebhookServer({ ...webhookOptions, logger })
      : undefined;
  const scope = commaList(values['namespace-scope'] as string | undefined);

  const leaseNamespace = (values['lease-namespace'] as string | undefined) ?? podNamespace ?? 'default';
  // In a pod (in-cluster credentials), the Lease belongs to the pod's ServiceAccount and goes with the release.
  const leaseOwner = values['kubeconfig'] ? undefined : readServiceAccountOwner(leaseNamespace);
  const operator = await startOperator({
    kubeConfig: kc,
    listen,
    metrics,
    namespaces: scope,
    leaseNamespace,
    leaseName: values['lease-name'] as string,
    ...(leaseOwner ? { leaseOwner } : {}),
    tls: webhook
      ? { load: async () => webhook.servingCert() }
      : values['tls-cert-file']
        ? { certFile: values['tls-cert-file'] as string, keyFile: values['tls-key-file'] as string }
        : undefined,
    ticketKeyFile: values['ticket-key-file'] as string | undefined,
    ...(reviewBoundMs ? { ticketReviewBoundMs: reviewBoundMs } : {}),
    leaseDurationSeconds,
    grants: { capUSD },
    ...(values['identity'] || process.env['POD_NAME']
      ? { identity: (values['identity'] as string | undefined) ?? process.env['POD_NAME'] }
      : {}),
    logger,
  });
  let served: WebhookServer | undefined;
  if (webhookOptions) {
    const started = webhook ?? (await startWebhookServer({ ...webhookOptions, logger }));
    served = started;
    operator.addCloser(() => started.close());
    logger.info({ url: started.url }, `tiermesh webhook serving on ${started.url}`);
  }
  logger.info({ url: operator.url }, `tiermesh operator serving sidecars on ${operator.url}`);
  if (operator.metricsUrl)
    logger.info(
      { url: `${operator.metricsUrl}/metrics` },
      `tiermesh operator metrics on ${operator.metricsUrl}/metrics`,
    );

  return untilStopSignal(async (signal) => {
    if (shutdownDelaySeconds > 0) {
      // The pod is leaving its Service's endpoints, but kube-proxy and the apiserver's kept-alive connections still
      // send it calls for a moment: a closed webhook port then admits pods without the sidecar (failurePolicy
      // Ignore) or refuses them (Fail). So keep serving, unready and closing each connection after its answer.
      logger.info({ signal, delaySeconds: shutdownDelaySeconds }, 'shutting down: draining before closing');
      operator.drain();
      served?.drain();
      await new Promise((resolve) => setTimeout(resolve, shutdownDelaySeconds * 1000));
    }
    logger.info({ signal }, 'shutting down: releasing the lease');
    return operator.stop();
  });
}

function readServiceAccountOwner(namespace: string): V1OwnerReference | undefined {
  try {
    return serviceAccountOwner(readFileSync(`${SERVICE_ACCOUNT_DIR}/token`, 'utf8'), namespace);
  } catch {
    return undefined;
  }
}

function readServiceAccountNamespace(): string | undefined {
  try {
    return readFileSync(`${SERVICE_ACCOUNT_DIR}/namespace`, 'utf8').trim();
  } catch {
    return undefined;
  }
}
