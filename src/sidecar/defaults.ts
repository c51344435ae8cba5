/** The sidecar's defaults, said once: the CLI, the embeddable app and the injector all start from these. */

/** Loopback only: the chat API spends this pod's budget with its keys. */
export const SIDECAR_HOST = '127.0.0.1';
export const SIDECAR_PORT = 4000;
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
