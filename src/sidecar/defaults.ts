/** The sidecar's defaults, said once: the CLI, the embeddable app and the injector all start from these. */

/** Loopback only: the chat API spends this pod's budget with its keys. */
export const SIDECAR_HOST = '127.0.0.1';
export const SIDECAR_PORT = 4000;
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
/**
 * The injected sidecar's probe-only listener on the pod IP (GET /healthz and /readyz, nothing else), which the
 * kubelet's httpGet probes dial. Not Istio's 15021, so a pod in both meshes does not see two listeners collide.
 */
export const SIDECAR_HEALTH_PORT = 4021;
