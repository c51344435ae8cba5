/**
 * What a `spec.classifier.modelRef` names, without touching the file system (the webhook and the sidecar both ask):
 * a ref with a slash or ending in `.json` is a file path (standalone), anything else a ConfigMap name (in-cluster).
 */

/** Default directory the sidecar reads ConfigMap-referenced models from (`<dir>/<name>/model.json`). */
export const DEFAULT_MODEL_DIR = '/etc/tiermesh/models';
/** The ConfigMap key that holds the model. */
export const MODEL_CONFIGMAP_KEY = 'model.json';

/** A Kubernetes object name (RFC 1123 subdomain): what a ConfigMap can be called. */
const CONFIGMAP_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function isModelFileRef(ref: string): boolean {
  return ref.includes('/') || ref.endsWith('.json');
}

/** The ConfigMap a ref names, or undefined for a file path or a string no ConfigMap can be called. */
export function modelRefConfigMap(ref: string): string | undefined {
  if (isModelFileRef(ref) || ref.length > 253 || !CONFIGMAP_NAME.test(ref)) return undefined;
  return ref;
}
