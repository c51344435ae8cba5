/** Small Kubernetes helpers shared by the global setup and the test fixtures: kubeconfig, server-side apply, polling. */
import {
  ApiException,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  loadYaml,
  PatchStrategy,
} from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';

export const FIELD_MANAGER = 'tiermesh-test';

/** Set for every e2e worker by global-setup.ts: the admin kubeconfig of this run's control plane. */
export const KUBECONFIG_ENV = 'KUBECONFIG_TIERMESH_TEST';

export function loadKubeConfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

/** Every non-empty document of a multi-document YAML text. */
export function parseObjects(text: string): KubernetesObject[] {
  const objects: KubernetesObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`invalid YAML: ${doc.errors[0]?.message}`);
    const value = doc.toJS() as KubernetesObject | null;
    if (value) objects.push(value);
  }
  return objects;
}

/**
 * Server-side applies each object in order (forcing ownership, like `kubectl apply --server-side --force-conflicts`).
 * Objects are in wire format (as in YAML). With `namespace`, every object's namespace is replaced by it;
 * cluster-scoped kinds ignore it.
 */
export async function applyObjects(
  kc: KubeConfig,
  objects: KubernetesObject[],
  namespace?: string,
): Promise<KubernetesObject[]> {
  const client = KubernetesObjectApi.makeApiClient(kc);
  const applied: KubernetesObject[] = [];
  for (const object of objects) {
    // KubernetesObjectApi serializes built-in kinds from client-node's model classes, whose property
    // names differ from the wire format (`_enum`, `_default`, `xKubernetesValidations`): wire-format keys
    // would be silently dropped (a CRD would lose its enums, defaults and CEL rules), so convert first.
    const spec = loadYaml<KubernetesObject>(JSON.stringify(object));
    spec.metadata ??= {};
    if (namespace) spec.metadata.namespace = namespace;
    applied.push(
      await client.patch(spec, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply),
    );
  }
  return applied;
}

/** The apiserver's own explanation from a failed call (Status.message), else the error's message. */
export function apiErrorMessage(err: unknown): string {
  if (err instanceof ApiException) {
    const body: unknown = err.body;
    if (typeof body === 'string') {
      try {
        const status = JSON.parse(body) as { message?: string };
        if (status.message) return status.message;
      } catch {
        return body;
      }
    }
    if (body && typeof body === 'object' && 'message' in body && typeof body.message === 'string')
      return body.message;
  }
  return err instanceof Error ? err.message : String(err);
}

/** The HTTP status of a failed API call, if it was one. */
export function apiErrorCode(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

/**
 * Polls `fn` every `intervalMs` until it returns something other than undefined/null/false, and returns that.
 * A throw counts as "not yet"; on timeout the last throw (or the last value) is reported.
 */
export async function waitFor<T>(
  fn: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = 'it never returned a value';
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined && value !== null && value !== false) return value;
      last = `last value: ${String(value)}`;
    } catch (err) {
      last = `last error: ${apiErrorMessage(err)}`;
    }
    if (Date.now() >= deadline) throw new Error(`waitFor timed out after ${timeoutMs} ms (${last})`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
