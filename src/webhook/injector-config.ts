/** What the injector adds to a pod (image, operator URL, defaults) and the per-pod annotations that override it. */
import { z } from 'zod';
import { SIDECAR_HEALTH_PORT, SIDECAR_PORT } from '../sidecar/defaults.js';

export const INJECT_LABEL = 'tiermesh.dev/inject';
export const STATUS_ANNOTATION = 'tiermesh.dev/status';
export const PORT_ANNOTATION = 'tiermesh.dev/sidecar-port';
export const CPU_ANNOTATION = 'tiermesh.dev/sidecar-cpu';
export const MEMORY_ANNOTATION = 'tiermesh.dev/sidecar-memory';
export const SIDECAR_NAME = 'tiermesh-sidecar';

/** Namespaces whose pods are never injected, whatever their labels say. */
export const SYSTEM_NAMESPACES = ['kube-system', 'kube-public', 'kube-node-lease'] as const;

/** CPU as the apiserver writes it: millicores, or cores with at most 3 decimals. */
const cpuQuantity = /^(?:[1-9][0-9]{0,5}m|[0-9]{1,3}(?:\.[0-9]{1,3})?)$/;
/** Memory in binary or decimal units; plain bytes are allowed but rarely what anyone means. */
const memoryQuantity = /^[1-9][0-9]{0,9}(?:Ki|Mi|Gi|K|M|G)?$/;

export const injectorConfig = z.object({
  image: z.string().min(1),
  imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).default('IfNotPresent'),
  version: z.string().min(1),
  /** Config stream endpoint the sidecar dials, e.g. https://tiermesh-operator.tiermesh-system.svc:8443 */
  operatorURL: z.string().regex(/^https?:\/\/[^\s]+$/),
  /** The operator's own namespace: never injected (its pods would wait for themselves). */
  operatorNamespace: z.string().min(1),
  port: z.number().int().min(1024).max(65535).default(SIDECAR_PORT),
  resources: z
    .object({
      cpuRequest: z.string().regex(cpuQuantity).default('50m'),
      // Measured on the test node (docs/testing.md): 93–100 MiB RSS idle, up to 111 MiB under load.
      memoryRequest: z.string().regex(memoryQuantity).default('128Mi'),
      memoryLimit: z.string().regex(memoryQuantity).default('256Mi'),
    })
    .default({ cpuRequest: '50m', memoryRequest: '128Mi', memoryLimit: '256Mi' }),
  extraSystemNamespaces: z.array(z.string()).default([]),
  /**
   * native: a restartable init container (Kubernetes >= 1.29), so the proxy is listening before the app starts and
   * Jobs still complete when the app exits. container: an ordinary container, for older clusters.
   */
  mode: z.enum(['native', 'container']).default('native'),
  /** When set, the sidecar also serves /metrics (only) on 0.0.0.0:<metricsPort>, a named container port. */
  metricsPort: z.number().int().min(1024).max(65535).optional(),
  /**
   * http: the kubelet's httpGet probes dial the sidecar's probe-only listener on 0.0.0.0:<healthPort> (GET /healthz
   * and /readyz, nothing else). exec: `node -e fetch(...)` inside the container against the loopback API, as
   * before; each probe then starts a Node process (slower pod start, more CPU), kept for clusters that forbid
   * extra listening ports. A pod that already declares healthPort gets exec probes rather than a clash.
   */
  probes: z.enum(['http', 'exec']).default('http'),
  healthPort: z.number().int().min(1024).max(65535).default(SIDECAR_HEALTH_PORT),
});
export type InjectorConfig = z.infer<typeof injectorConfig>;
export type InjectorConfigInput = z.input<typeof injectorConfig>;

export interface SidecarSettings {
  port: number;
  /** The probe-only listener's port when the kubelet probes over HTTP; undefined: exec probes. */
  healthPort: number | undefined;
  cpuRequest: string;
  memoryRequest: string;
  memoryLimit: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; problems: string[] };

const MIB: Record<string, number> = {
  '': 1 / 2 ** 20,
  Ki: 1 / 1024,
  Mi: 1,
  Gi: 1024,
  K: 1e3 / 2 ** 20,
  M: 1e6 / 2 ** 20,
  G: 1e9 / 2 ** 20,
};

export function memoryMiB(q: string): number {
  const m = /^([0-9]+)([A-Za-z]*)$/.exec(q);
  return m ? Number(m[1]) * (MIB[m[2] ?? ''] ?? Number.NaN) : Number.NaN;
}

export function cpuMillis(q: string): number {
  return q.endsWith('m') ? Number(q.slice(0, -1)) : Number(q) * 1000;
}

/**
 * The sidecar's port and resources for one pod: config defaults, overridden by the pod's annotations.
 * Bad values are reported, not ignored: a silently dropped override is harder to debug than a rejected pod.
 * A memory override sets request and limit alike, so the sidecar is never OOM-killed below what was asked for.
 */
export function sidecarSettings(
  cfg: InjectorConfig,
  annotations: Record<string, string> | undefined,
  usedPorts: ReadonlySet<number>,
): Parsed<SidecarSettings> {
  const a = annotations ?? {};
  const problems: string[] = [];
  const out: SidecarSettings = { port: cfg.port, healthPort: undefined, ...cfg.resources };

  const port = a[PORT_ANNOTATION];
  if (port !== undefined) {
    const n = /^[0-9]{1,5}$/.test(port) ? Number(port) : Number.NaN;
    if (!(n >= 1024 && n <= 65535))
      problems.push(`${PORT_ANNOTATION}: "${port}" must be an integer from 1024 to 65535`);
    else out.port = n;
  }
  if (usedPorts.has(out.port)) {
    problems.push(
      `${PORT_ANNOTATION}: port ${out.port} is already a containerPort of this pod; pick another with the annotation`,
    );
  }

  // A pod that already uses the health port (or picked it for the sidecar) keeps working, with exec probes.
  const clash =
    usedPorts.has(cfg.healthPort) || out.port === cfg.healthPort || cfg.metricsPort === cfg.healthPort;
  if (cfg.probes === 'http' && !clash) out.healthPort = cfg.healthPort;

  const cpu = a[CPU_ANNOTATION];
  if (cpu !== undefined) {
    if (!cpuQuantity.test(cpu) || cpuMillis(cpu) < 1 || cpuMillis(cpu) > 8000) {
      problems.push(`${CPU_ANNOTATION}: "${cpu}" must be a CPU quantity from 1m to 8 (e.g. 100m, 0.5)`);
    } else out.cpuRequest = cpu;
  }

  const memory = a[MEMORY_ANNOTATION];
  if (memory !== undefined) {
    const mib = memoryMiB(memory);
    if (!memoryQuantity.test(memory) || !(mib >= 32 && mib <= 8192)) {
      problems.push(
        `${MEMORY_ANNOTATION}: "${memory}" must be a memory quantity from 32Mi to 8Gi (e.g. 128Mi)`,
      );
    } else {
      out.memoryRequest = memory;
      out.memoryLimit = memory;
    }
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: out };
}
