/** The `tiermesh operator` flags that configure the injector webhook, so the operator CLI can adopt them in one spread. */
import type { KubeConfig } from '@kubernetes/client-node';
import { commaList } from '../cli/args.js';
import { SIDECAR_HEALTH_PORT, SIDECAR_PORT } from '../sidecar/defaults.js';
import type { CertMode, WebhookServerOptions } from './server.js';

/** node:util parseArgs option definitions; every flag is optional and has the chart's default. */
export const webhookCliOptions = {
  'webhook-listen': { type: 'string', default: '' },
  'webhook-cert-mode': { type: 'string', default: 'self' },
  'webhook-cert-secret': { type: 'string', default: 'tiermesh-webhook-certs' },
  'webhook-cert-dir': { type: 'string', default: '/etc/tiermesh/webhook-certs' },
  'webhook-config-name': { type: 'string', default: 'tiermesh-sidecar-injector' },
  'webhook-service': { type: 'string', default: 'tiermesh-operator' },
  'sidecar-image': { type: 'string', default: '' },
  'sidecar-image-pull-policy': { type: 'string', default: 'IfNotPresent' },
  'sidecar-version': { type: 'string', default: '' },
  'sidecar-operator-url': { type: 'string', default: '' },
  'sidecar-port': { type: 'string', default: String(SIDECAR_PORT) },
  'sidecar-cpu': { type: 'string', default: '50m' },
  'sidecar-memory': { type: 'string', default: '128Mi' },
  'sidecar-memory-limit': { type: 'string', default: '256Mi' },
  'sidecar-mode': { type: 'string', default: 'native' },
  'sidecar-metrics-port': { type: 'string', default: '' },
  'sidecar-probes': { type: 'string', default: 'http' },
  'sidecar-health-port': { type: 'string', default: String(SIDECAR_HEALTH_PORT) },
  'webhook-exclude-namespaces': { type: 'string', default: '' },
} as const;

export const webhookCliHelp = `webhook (sidecar injector) options:
  --webhook-listen HOST:PORT     serve the mutating webhook here (off when empty; in-cluster: 0.0.0.0:9443)
  --webhook-cert-mode MODE       self (own CA in a Secret) | cert-manager | provided (both read --webhook-cert-dir)
  --webhook-cert-secret NAME     self mode: Secret holding the CA and serving cert
  --webhook-cert-dir DIR         cert-manager/provided: directory with tls.crt and tls.key
  --webhook-config-name NAME     self mode: the MutatingWebhookConfiguration whose caBundle is kept current
  --webhook-service NAME         Service the apiserver calls (names in the serving cert)
  --webhook-exclude-namespaces A,B  never inject pods of these namespaces (besides kube-system, kube-public,
                                 kube-node-lease and the operator's own), whatever labels ask: the chart passes
                                 webhook.excludeNamespaces, so the injector refuses them even if the webhook's
                                 namespaceSelector is edited
  --sidecar-image IMAGE          image of the injected sidecar (required with --webhook-listen)
  --sidecar-image-pull-policy P  Always | IfNotPresent | Never
  --sidecar-version V            recorded in the tiermesh.dev/status annotation
  --sidecar-operator-url URL     config stream the sidecar dials (default https://<service>.<namespace>.svc:8443)
  --sidecar-port N               default sidecar port (pods override with tiermesh.dev/sidecar-port)
  --sidecar-cpu Q, --sidecar-memory Q, --sidecar-memory-limit Q   default sidecar resources
  --sidecar-mode MODE            native (restartable init container, Kubernetes >= 1.29) | container
  --sidecar-metrics-port N       sidecars also serve /metrics (only) on 0.0.0.0:N, container port "tm-metrics"
  --sidecar-probes MODE          http (kubelet httpGet on the probe-only port) | exec (node -e fetch, as before)
  --sidecar-health-port N        http probes: sidecars serve GET /healthz and /readyz (only) on 0.0.0.0:N,
                                 container port "tm-health" (default ${SIDECAR_HEALTH_PORT})
`;

export type WebhookCliValues = { [K in keyof typeof webhookCliOptions]?: string | boolean | undefined };

function hostPort(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value);
  const port = Number(m?.[3]);
  if (!m || !(port >= 0 && port <= 65535))
    throw new Error(`--webhook-listen: expected host:port, got "${value}"`);
  return { host: m[1] || m[2] || '127.0.0.1', port };
}

/**
 * Server options from parsed flags, or undefined when --webhook-listen is empty (webhook off).
 * Throws with the offending flag named; the injector config itself is validated again by startWebhookServer.
 */
export function webhookOptionsFromCli(
  v: WebhookCliValues,
  ctx: { kubeConfig: KubeConfig; namespace: string; version: string },
): WebhookServerOptions | undefined {
  const s = (k: keyof typeof webhookCliOptions) => {
    const value = v[k] ?? webhookCliOptions[k].default;
    return typeof value === 'string' ? value : '';
  };
  if (!s('webhook-listen')) return undefined;
  const { host, port } = hostPort(s('webhook-listen'));
  const certMode = s('webhook-cert-mode');
  if (certMode !== 'self' && certMode !== 'cert-manager' && certMode !== 'provided') {
    throw new Error(`--webhook-cert-mode: expected self, cert-manager or provided, got "${certMode}"`);
  }
  if (!s('sidecar-image')) throw new Error('--sidecar-image is required when the webhook is enabled');
  const mode = s('sidecar-mode');
  if (mode !== 'native' && mode !== 'container')
    throw new Error(`--sidecar-mode: expected native or container, got "${mode}"`);
  const sidecarPort = Number(s('sidecar-port'));
  const metricsPort = s('sidecar-metrics-port') ? Number(s('sidecar-metrics-port')) : undefined;
  if (
    metricsPort !== undefined &&
    !(Number.isInteger(metricsPort) && metricsPort >= 1024 && metricsPort <= 65535)
  )
    throw new Error(
      `--sidecar-metrics-port: expected a port from 1024 to 65535, got "${s('sidecar-metrics-port')}"`,
    );
  const probes = s('sidecar-probes');
  if (probes !== 'http' && probes !== 'exec')
    throw new Error(`--sidecar-probes: expected http or exec, got "${probes}"`);
  const healthPort = Number(s('sidecar-health-port'));
  if (!(Number.isInteger(healthPort) && healthPort >= 1024 && healthPort <= 65535))
    throw new Error(
      `--sidecar-health-port: expected a port from 1024 to 65535, got "${s('sidecar-health-port')}"`,
    );
  if (probes === 'http' && (healthPort === metricsPort || healthPort === sidecarPort))
    throw new Error(
      `--sidecar-health-port: ${healthPort} is also the sidecar's ${healthPort === metricsPort ? 'metrics' : 'API'} port; pick another`,
    );
  const service = s('webhook-service');
  const excluded = commaList(s('webhook-exclude-namespaces'));
  return {
    kubeConfig: ctx.kubeConfig,
    namespace: ctx.namespace,
    host,
    port,
    certMode: certMode as CertMode,
    certSecretName: s('webhook-cert-secret'),
    certDir: s('webhook-cert-dir'),
    webhookConfigName: s('webhook-config-name'),
    serviceName: service,
    injector: {
      image: s('sidecar-image'),
      imagePullPolicy: s('sidecar-image-pull-policy') as 'Always' | 'IfNotPresent' | 'Never',
      version: s('sidecar-version') || ctx.version,
      operatorURL: s('sidecar-operator-url') || `https://${service}.${ctx.namespace}.svc:8443`,
      port: sidecarPort,
      mode,
      probes,
      healthPort,
      ...(metricsPort !== undefined ? { metricsPort } : {}),
      ...(excluded.length > 0 ? { extraSystemNamespaces: excluded } : {}),
      resources: {
        cpuRequest: s('sidecar-cpu'),
        memoryRequest: s('sidecar-memory'),
        memoryLimit: s('sidecar-memory-limit'),
      },
    },
  };
}
