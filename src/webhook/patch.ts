/** The injection decision and the JSON Patch that adds the tiermesh sidecar to a pod: pure, so every rule is unit-tested. */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { POD_LABELS_ENV } from '../config/pod-selector.js';
import { DEFAULT_MODEL_DIR, MODEL_CONFIGMAP_KEY } from '../routing/learned/model-ref-kind.js';
import {
  INJECT_LABEL,
  type InjectorConfig,
  SIDECAR_NAME,
  type SidecarSettings,
  STATUS_ANNOTATION,
  SYSTEM_NAMESPACES,
  sidecarSettings,
} from './injector-config.js';
import { appendAll, type JsonPatchOp, pointer, setKeys } from './json-patch.js';
import { parseQuantity } from './quantity.js';

export const TOKEN_DIR = '/var/run/secrets/tiermesh/token';
export const TOKEN_PATH = `${TOKEN_DIR}/token`;
export const KEYS_DIR = '/var/run/secrets/tiermesh';
export const STATE_DIR = '/var/lib/tiermesh';
export const TOKEN_AUDIENCE = 'tiermesh';
export const TOKEN_EXPIRATION_SECONDS = 3600;
const TOKEN_VOLUME = 'tiermesh-token';
const STATE_VOLUME = 'tiermesh-state';
/** The image runs as this uid/gid (Dockerfile); stated again here so runAsNonRoot can be verified by the kubelet. */
const SIDECAR_UID = 65532;
/** PEM CA bundle the sidecar verifies the operator's HTTPS certificate with (read by `tiermesh sidecar`). */
export const OPERATOR_CA_ENV = 'TIERMESH_OPERATOR_CA_PEM';
/** Named container port of the sidecar's /metrics-only listener (the PodMonitor scrapes it by this name). */
export const METRICS_PORT_NAME = 'tm-metrics';
/** Named container port of the sidecar's probe-only listener (GET /healthz and /readyz), dialled by the kubelet. */
export const HEALTH_PORT_NAME = 'tm-health';
/** Where ConfigMap-referenced learned models are mounted (`<dir>/<ConfigMap>/model.json`, read by model-ref.ts). */
export const MODEL_DIR = DEFAULT_MODEL_DIR;
export const MODEL_DIR_ENV = 'TIERMESH_MODEL_DIR';

/** Kubernetes' default terminationGracePeriodSeconds. */
const DEFAULT_GRACE_SECONDS = 30;
/**
 * What a sidecar needs after its in-flight requests, within the pod's grace period: up to 5 s to deliver the usage
 * they spent (reporter.close), and a margin. The state dir is an emptyDir: usage not delivered by the SIGKILL is lost.
 */
const AFTER_DRAIN_SECONDS = 10;

/** How long the sidecar lets in-flight requests finish after SIGTERM (`--drain-seconds`), from the pod's grace. */
export function drainSecondsFor(graceSeconds: number | undefined): number {
  return Math.max(1, (graceSeconds ?? DEFAULT_GRACE_SECONDS) - AFTER_DRAIN_SECONDS);
}

/** What the injector learns at admission time rather than from its static config. */
export interface AdmissionExtras {
  /** CA bundle (PEM) that verifies the operator's serving certificate; injected for https:// operator URLs. */
  operatorCA?: string | undefined;
  /** ConfigMaps holding the learned models (`modelRef`) of the routes that select the pod. */
  models?: readonly string[] | undefined;
}

const envVar = z.looseObject({ name: z.string() });
const quantities = z.record(z.string(), z.union([z.string(), z.number()])).optional();
const container = z.looseObject({
  name: z.string().min(1),
  env: z.array(envVar).optional(),
  envFrom: z.array(z.unknown()).optional(),
  ports: z.array(z.looseObject({ containerPort: z.number().int() })).optional(),
  // Only read for the QoS class; a malformed one is the apiserver's to refuse, not a reason to deny here.
  resources: z.looseObject({ requests: quantities, limits: quantities }).optional().catch(undefined),
});

/** The parts of a Pod the injector reads; everything else passes through untouched. */
export const admittedPod = z.looseObject({
  metadata: z
    .looseObject({
      name: z.string().optional(),
      generateName: z.string().optional(),
      namespace: z.string().optional(),
      labels: z.record(z.string(), z.string()).optional(),
      annotations: z.record(z.string(), z.string()).optional(),
    })
    .default({}),
  spec: z.looseObject({
    hostNetwork: z.boolean().optional(),
    os: z.looseObject({ name: z.string().optional() }).optional(),
    terminationGracePeriodSeconds: z.number().int().nonnegative().optional(),
    containers: z.array(container).min(1),
    initContainers: z.array(container).optional(),
    volumes: z.array(z.looseObject({ name: z.string() })).optional(),
  }),
});
export type AdmittedPod = z.infer<typeof admittedPod>;

/** What the status annotation records, so a re-invocation (or a human) can tell what was injected. */
export const injectionStatus = z.object({
  container: z.string(),
  image: z.string(),
  version: z.string(),
  port: z.number().int(),
  secrets: z.array(z.string()),
  /** Model ConfigMaps mounted (absent in annotations written before models were mounted). */
  models: z.array(z.string()).optional(),
  /** The probe-only listener the kubelet's httpGet probes dial; absent: exec probes. */
  healthPort: z.number().int().optional(),
});
export type InjectionStatus = z.infer<typeof injectionStatus>;

export type Decision = { inject: true; reason: string } | { inject: false; reason: string };

/**
 * The decision the pod alone settles, or undefined when it depends on the namespace label. Opt-out and safety rules
 * come first so no label combination can override them: system namespaces (and the operator's own) and hostNetwork
 * pods (a loopback port there is the node's) never get the sidecar.
 */
export function podDecision(pod: AdmittedPod, namespace: string, cfg: InjectorConfig): Decision | undefined {
  const system = new Set<string>([...SYSTEM_NAMESPACES, cfg.operatorNamespace, ...cfg.extraSystemNamespaces]);
  if (system.has(namespace)) return { inject: false, reason: `namespace ${namespace} is a system namespace` };
  if (pod.spec.hostNetwork) return { inject: false, reason: 'pod uses hostNetwork' };
  // The sidecar image is Linux-only, and the apiserver forbids its Linux securityContext on a Windows pod.
  if (pod.spec.os?.name === 'windows') return { inject: false, reason: 'pod runs on Windows (spec.os.name)' };
  const podLabel = pod.metadata.labels?.[INJECT_LABEL];
  if (podLabel === 'false') return { inject: false, reason: `pod label ${INJECT_LABEL}=false` };
  if (podLabel === 'true') return { inject: true, reason: `pod label ${INJECT_LABEL}=true` };
  return undefined;
}

export function namespaceDecision(namespaceLabels: Record<string, string> | undefined): Decision {
  if (namespaceLabels?.[INJECT_LABEL] === 'enabled') {
    return { inject: true, reason: `namespace label ${INJECT_LABEL}=enabled` };
  }
  return { inject: false, reason: 'neither the pod nor its namespace asks for injection' };
}

/**
 * The pod's QoS class is Guaranteed: every container (init containers too, as the kubelet counts them) limits cpu
 * and memory, with requests equal to the limits (a missing request defaults to the limit).
 */
export function isGuaranteed(pod: AdmittedPod): boolean {
  return [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].every((c) =>
    (['cpu', 'memory'] as const).every((r) => {
      const limit = parseQuantity(c.resources?.limits?.[r]);
      const request = c.resources?.requests?.[r];
      return limit !== undefined && (request === undefined || parseQuantity(request) === limit);
    }),
  );
}

/** Whether a pod gets the sidecar. */
export function shouldInject(
  pod: AdmittedPod,
  namespace: string,
  namespaceLabels: Record<string, string> | undefined,
  cfg: InjectorConfig,
): Decision {
  return podDecision(pod, namespace, cfg) ?? namespaceDecision(namespaceLabels);
}

/**
 * Already carries the sidecar container (a re-invocation, or a spec copied from an injected pod): only the env of
 * new app containers may be missing, and no opt-in can take the sidecar away. The status annotation alone proves
 * nothing (it can be copied or written by hand): such a pod is decided like any other, and injected in full.
 */
export function isInjected(pod: AdmittedPod): boolean {
  return [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].some((c) => c.name === SIDECAR_NAME);
}

/**
 * Volume names are DNS labels (<= 63, no dots); a long or dotted object name keeps a readable prefix and gets a
 * hash that keeps distinct names distinct.
 */
function volumeName(prefix: string, object: string): string {
  const name = `${prefix}${object}`;
  if (name.length <= 63 && !name.includes('.')) return name;
  const hash = createHash('sha256').update(object).digest('hex').slice(0, 8);
  return `${name.replaceAll('.', '-').slice(0, 54).replace(/-+$/, '')}-${hash}`;
}

export const keyVolumeName = (secret: string): string => volumeName('tiermesh-key-', secret);
export const modelVolumeName = (configMap: string): string => volumeName('tiermesh-model-', configMap);

/**
 * With a health port, an httpGet probe of the probe-only listener on the pod IP (the API stays on loopback, which
 * the kubelet cannot reach). Without one, an exec probe that starts a Node process inside the container to fetch
 * the loopback API: the compatibility path, one Node start-up per probe.
 */
function probe(
  s: SidecarSettings,
  path: string,
  periodSeconds: number,
  initialDelaySeconds: number,
  failureThreshold = 3,
) {
  const script = `fetch('http://127.0.0.1:${s.port}${path}',{signal:AbortSignal.timeout(2000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`;
  const action =
    s.healthPort === undefined
      ? { exec: { command: ['node', '-e', script] } }
      : { httpGet: { path, port: HEALTH_PORT_NAME, scheme: 'HTTP' } };
  return {
    ...action,
    periodSeconds,
    initialDelaySeconds,
    timeoutSeconds: 3,
    failureThreshold,
  };
}

export function sidecarContainer(
  cfg: InjectorConfig,
  s: SidecarSettings,
  secrets: readonly string[],
  extras: AdmissionExtras = {},
  /** The pod it joins: its grace period, labels and QoS class shape the sidecar. */
  pod?: AdmittedPod,
) {
  const graceSeconds = pod?.spec.terminationGracePeriodSeconds;
  const podLabels = pod?.metadata.labels ?? {};
  const guaranteed = pod !== undefined && isGuaranteed(pod);
  // Only for https: a CA beside an http:// URL would suggest a protection that is not there.
  const ca = cfg.operatorURL.startsWith('https://') ? extras.operatorCA : undefined;
  const models = extras.models ?? [];
  const ports = [
    ...(cfg.metricsPort
      ? [{ name: METRICS_PORT_NAME, containerPort: cfg.metricsPort, protocol: 'TCP' }]
      : []),
    ...(s.healthPort !== undefined
      ? [{ name: HEALTH_PORT_NAME, containerPort: s.healthPort, protocol: 'TCP' }]
      : []),
  ];
  return {
    name: SIDECAR_NAME,
    image: cfg.image,
    imagePullPolicy: cfg.imagePullPolicy,
    args: [
      'sidecar',
      '--operator',
      cfg.operatorURL,
      '--token-file',
      TOKEN_PATH,
      '--state-dir',
      STATE_DIR,
      '--listen',
      `127.0.0.1:${s.port}`,
      // In-flight requests get the pod's grace period less what delivering their usage takes.
      '--drain-seconds',
      String(drainSecondsFor(graceSeconds)),
      // /metrics only, on the pod IP so Prometheus can scrape it; the chat API stays on loopback.
      ...(cfg.metricsPort ? ['--metrics-listen', `0.0.0.0:${cfg.metricsPort}`] : []),
      // /healthz and /readyz only, on the pod IP for the kubelet's httpGet probes.
      ...(s.healthPort !== undefined ? ['--health-listen', `0.0.0.0:${s.healthPort}`] : []),
    ],
    ...(ports.length > 0 ? { ports } : {}),
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      // The routes the sidecar runs are those whose podSelector selects these labels (the ones the Secrets and
      // models mounted here were chosen by); labels changed after admission are not seen until the pod is replaced.
      { name: POD_LABELS_ENV, value: JSON.stringify(podLabels) },
      ...(ca ? [{ name: OPERATOR_CA_ENV, value: ca }] : []),
      ...(models.length > 0 ? [{ name: MODEL_DIR_ENV, value: MODEL_DIR }] : []),
    ],
    // A Guaranteed pod stays Guaranteed (its cpu pinning and eviction order depend on it): limits equal requests,
    // at the memory limit. Otherwise Burstable: no cpu limit to throttle the proxy.
    resources: guaranteed
      ? {
          requests: { cpu: s.cpuRequest, memory: s.memoryLimit },
          limits: { cpu: s.cpuRequest, memory: s.memoryLimit },
        }
      : {
          requests: { cpu: s.cpuRequest, memory: s.memoryRequest },
          limits: { memory: s.memoryLimit },
        },
    readinessProbe: probe(s, '/readyz', 5, 1),
    livenessProbe: probe(s, '/healthz', 10, 10),
    // Native mode: the kubelet starts the app only once this passes, i.e. once the proxy listens (not once it has
    // config: an unreachable operator must not keep the app from starting).
    ...(cfg.mode === 'native'
      ? { restartPolicy: 'Always', startupProbe: probe(s, '/healthz', 1, 0, 60) }
      : {}),
    securityContext: {
      runAsNonRoot: true,
      runAsUser: SIDECAR_UID,
      runAsGroup: SIDECAR_UID,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: [
      { name: TOKEN_VOLUME, mountPath: TOKEN_DIR, readOnly: true },
      { name: STATE_VOLUME, mountPath: STATE_DIR },
      ...secrets.map((name) => ({
        name: keyVolumeName(name),
        mountPath: `${KEYS_DIR}/${name}`,
        readOnly: true,
      })),
      ...models.map((name) => ({
        name: modelVolumeName(name),
        mountPath: `${MODEL_DIR}/${name}`,
        readOnly: true,
      })),
    ],
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
}

export function sidecarVolumes(secrets: readonly string[], models: readonly string[] = []) {
  return [
    {
      name: TOKEN_VOLUME,
      projected: {
        sources: [
          {
            serviceAccountToken: {
              audience: TOKEN_AUDIENCE,
              expirationSeconds: TOKEN_EXPIRATION_SECONDS,
              path: 'token',
            },
          },
        ],
      },
    },
    { name: STATE_VOLUME, emptyDir: { sizeLimit: '64Mi' } },
    // optional: a missing key Secret must not keep the app from starting; the sidecar reports the provider unusable.
    ...secrets.map((name) => ({ name: keyVolumeName(name), secret: { secretName: name, optional: true } })),
    // Only the model key, read-only for the sidecar's uid. optional: a missing ConfigMap must not keep the app from
    // starting; the sidecar refuses the config version that references it and says why (model-ref.ts).
    ...models.map((name) => ({
      name: modelVolumeName(name),
      configMap: {
        name,
        optional: true,
        items: [{ key: MODEL_CONFIGMAP_KEY, path: MODEL_CONFIGMAP_KEY }],
        defaultMode: 0o444,
      },
    })),
  ];
}

/**
 * What points an app's SDKs at the sidecar: the OpenAI SDKs (and LangChain, LiteLLM, the Vercel AI SDK's OpenAI
 * provider) read OPENAI_BASE_URL, the Anthropic SDKs ANTHROPIC_BASE_URL (without /v1: they add /v1/messages), as the
 * sidecar serves both APIs (docs/apis.md); TIERMESH_URL is the sidecar itself (feedback, explain).
 */
export function appEnv(port: number): { name: string; value: string }[] {
  return [
    { name: 'OPENAI_BASE_URL', value: `http://127.0.0.1:${port}/v1` },
    { name: 'ANTHROPIC_BASE_URL', value: `http://127.0.0.1:${port}` },
    { name: 'TIERMESH_URL', value: `http://127.0.0.1:${port}` },
  ];
}

/**
 * What the pod author should know: an app container that takes its environment from `envFrom` (a ConfigMap or
 * Secret the injector does not read) may set OPENAI_BASE_URL there, and the injected `env` entry wins over it.
 */
export function envFromWarnings(pod: AdmittedPod): string[] {
  const names = appEnv(0).map((e) => e.name);
  const listed = `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
  return pod.spec.containers
    .filter((c) => c.name !== SIDECAR_NAME && (c.envFrom?.length ?? 0) > 0)
    .filter((c) => !names.every((n) => (c.env ?? []).some((e) => e.name === n)))
    .map(
      (c) =>
        `tiermesh: container "${c.name}" uses envFrom; the injected ${listed} override any value it sets there (set them in env to keep yours)`,
    );
}

/** Env ops for every app container missing a variable; a value the pod author set is theirs and is kept. */
function envOps(pod: AdmittedPod, port: number): JsonPatchOp[] {
  const ops: JsonPatchOp[] = [];
  pod.spec.containers.forEach((c, i) => {
    if (c.name === SIDECAR_NAME) return;
    const have = new Set((c.env ?? []).map((e) => e.name));
    const missing = appEnv(port).filter((e) => !have.has(e.name));
    ops.push(...appendAll(pointer('spec', 'containers', i, 'env'), c.env, missing));
  });
  return ops;
}

function existingStatus(pod: AdmittedPod): InjectionStatus | undefined {
  const raw = pod.metadata.annotations?.[STATUS_ANNOTATION];
  if (raw === undefined) return undefined;
  try {
    const r = injectionStatus.safeParse(JSON.parse(raw));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

export type PatchResult =
  | { ok: true; ops: JsonPatchOp[]; status: InjectionStatus | undefined }
  | { ok: false; problems: string[] };

/**
 * The JSON Patch for a pod that should be injected. On re-invocation (reinvocationPolicy: IfNeeded, after another
 * webhook changed the pod) the sidecar is not added again; only app containers added since then get the env.
 */
export function buildPatch(
  pod: AdmittedPod,
  cfg: InjectorConfig,
  secrets: readonly string[],
  extras: AdmissionExtras = {},
): PatchResult {
  if (isInjected(pod)) {
    const previous = existingStatus(pod);
    return { ok: true, ops: previous ? envOps(pod, previous.port) : [], status: previous };
  }

  const usedPorts = new Set(
    [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].flatMap((c) =>
      (c.ports ?? []).map((p) => p.containerPort),
    ),
  );
  const settings = sidecarSettings(cfg, pod.metadata.annotations, usedPorts);
  if (!settings.ok) return settings;
  const s = settings.value;
  if (cfg.metricsPort !== undefined && (usedPorts.has(cfg.metricsPort) || s.port === cfg.metricsPort)) {
    return {
      ok: false,
      problems: [
        `sidecar metrics port ${cfg.metricsPort} is already used by this pod (or its sidecar port); change metrics.podMonitor.port or the pod`,
      ],
    };
  }
  // The key-file path is /var/run/secrets/tiermesh/<secret>, so a Secret named like the token dir would shadow it.
  const mounted = secrets.filter((name) => name !== 'token');
  const status: InjectionStatus = {
    container: SIDECAR_NAME,
    image: cfg.image,
    version: cfg.version,
    port: s.port,
    secrets: mounted,
    ...(extras.models && extras.models.length > 0 ? { models: [...extras.models] } : {}),
    ...(s.healthPort !== undefined ? { healthPort: s.healthPort } : {}),
  };

  const ops: JsonPatchOp[] = [
    ...envOps(pod, s.port),
    ...(cfg.mode === 'native'
      ? // Last among the init containers: ordinary init containers before it run to completion without the proxy.
        appendAll(pointer('spec', 'initContainers'), pod.spec.initContainers, [
          sidecarContainer(cfg, s, mounted, extras, pod),
        ])
      : [
          {
            op: 'add' as const,
            path: pointer('spec', 'containers', '-'),
            value: sidecarContainer(cfg, s, mounted, extras, pod),
          },
        ]),
    ...appendAll(pointer('spec', 'volumes'), pod.spec.volumes, sidecarVolumes(mounted, extras.models)),
    ...setKeys(pointer('metadata', 'annotations'), pod.metadata.annotations, {
      [STATUS_ANNOTATION]: JSON.stringify(status),
    }),
  ];
  return { ok: true, ops, status };
}
