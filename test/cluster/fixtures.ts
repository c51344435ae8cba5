/**
 * Helpers for e2e tests against the run's real control plane (started by global-setup.ts):
 *
 *   const ns = await freshNamespace('webhook');            // unique, deleted when the test ends
 *   await applyYaml(readFileSync('examples/x.yaml', 'utf8'), ns);
 *   const token = await serviceAccountToken(ns, 'app', 'tiermesh');
 *   await waitFor(async () => (await read()).status?.ready, 30_000);
 *   const tls = await servingCert();                      // for a webhook the apiserver calls on 127.0.0.1
 *   const objects = helmTemplate('rel', ns, ['--set', 'x=y']); // the chart as `helm template` renders it
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { inject, onTestFinished } from 'vitest';
import { repoRoot } from './binaries.js';
import { apiErrorCode, applyObjects, KUBECONFIG_ENV, loadKubeConfig, parseObjects } from './kube.js';
import { issueServingCert, LOOPBACK_HOSTS } from './pki.js';

export {
  apiErrorCode,
  apiErrorMessage,
  FIELD_MANAGER,
  KUBECONFIG_ENV,
  parseObjects,
  waitFor,
} from './kube.js';

/** Path of the admin kubeconfig (system:masters, real CA and client cert) of this run's control plane. */
export function kubeconfigPath(): string {
  const path = process.env[KUBECONFIG_ENV] ?? inject('kubeconfig');
  if (!path) throw new Error(`${KUBECONFIG_ENV} is not set: run e2e tests with \`vitest run --project e2e\``);
  return path;
}

/** A fresh @kubernetes/client-node KubeConfig for the admin user; call `makeApiClient` on it. */
export function kubeConfig(): KubeConfig {
  return loadKubeConfig(kubeconfigPath());
}

function core(): CoreV1Api {
  return kubeConfig().makeApiClient(CoreV1Api);
}

/** Creates a ServiceAccount unless it already exists. */
export async function ensureServiceAccount(namespace: string, name: string): Promise<void> {
  try {
    await core().createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  } catch (err) {
    if (apiErrorCode(err) !== 409) throw err;
  }
}

/**
 * Creates a namespace named `<prefix>-<random>` with its `default` ServiceAccount (there is no
 * controller-manager to create it, and Pod admission needs it). Called inside a test, the namespace
 * is deleted when the test finishes; called from a beforeAll it lives until the control plane stops.
 * Without a namespace controller a deleted namespace stays Terminating, so never reuse a name.
 */
export async function freshNamespace(prefix = 'e2e'): Promise<string> {
  const base =
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-')
      .slice(0, 50)
      .replace(/-+$/, '') || 'e2e';
  const name = `${base}-${randomBytes(4).toString('hex')}`;
  const api = core();
  await api.createNamespace({ body: { metadata: { name, labels: { 'tiermesh.dev/e2e': 'true' } } } });
  await ensureServiceAccount(name, 'default');
  try {
    onTestFinished(async () => {
      await api.deleteNamespace({ name }).catch(() => undefined);
    });
  } catch {
    // Not inside a test (e.g. beforeAll): the namespace is thrown away with the control plane.
  }
  return name;
}

/** Server-side applies every document of a YAML text, in order, with each namespaced object moved into `namespace`. */
export async function applyYaml(text: string, namespace?: string): Promise<KubernetesObject[]> {
  return applyObjects(kubeConfig(), parseObjects(text), namespace);
}

/**
 * A bound service-account token from the TokenRequest API (creating the ServiceAccount if needed),
 * valid for `audience`, as a Pod's projected token would be. TokenReview accepts it while the SA exists.
 */
export async function serviceAccountToken(
  namespace: string,
  serviceAccount: string,
  audience: string,
  expirationSeconds = 3600,
): Promise<string> {
  await ensureServiceAccount(namespace, serviceAccount);
  const res = await core().createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace,
    body: { spec: { audiences: [audience], expirationSeconds } },
  });
  if (!res.status?.token)
    throw new Error(`TokenRequest for ${namespace}/${serviceAccount} returned no token`);
  return res.status.token;
}

/**
 * A TLS serving certificate for a loopback test server, signed by the cluster CA, so the apiserver
 * trusts it: pass `cert`/`key` to https.createServer and `caBundle` to a webhook's clientConfig.
 */
export async function servingCert(
  hosts: string[] = LOOPBACK_HOSTS,
): Promise<{ cert: string; key: string; ca: string; caBundle: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'tiermesh-cert-'));
  try {
    const pki = { caCert: inject('caCert'), caKey: inject('caKey') };
    const { certFile, keyFile } = await issueServingCert(pki, dir, 'server', hosts);
    const ca = await readFile(pki.caCert, 'utf8');
    return {
      cert: await readFile(certFile, 'utf8'),
      key: await readFile(keyFile, 'utf8'),
      ca,
      caBundle: Buffer.from(ca).toString('base64'),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The newest helm that scripts/helm-bin.sh put in .cache/bin (or TIERMESH_CLUSTER_BIN_DIR), if any. */
function helmBinary(): string | undefined {
  const binDir = process.env['TIERMESH_CLUSTER_BIN_DIR'] ?? join(repoRoot, '.cache/bin');
  return existsSync(binDir)
    ? readdirSync(binDir)
        .filter((f) => /^helm-v\d/.test(f))
        .sort()
        .map((f) => join(binDir, f))
        .at(-1)
    : undefined;
}

/** charts/tiermesh as `helm template <release> --namespace <namespace> ...extraArgs` renders it. */
export function helmTemplate(
  release: string,
  namespace: string,
  extraArgs: string[] = [],
): KubernetesObject[] {
  const helm = helmBinary();
  if (!helm) throw new Error('no helm in .cache/bin: run `make helm` (scripts/helm-bin.sh)');
  const out = execFileSync(
    helm,
    ['template', release, join(repoRoot, 'charts/tiermesh'), '--namespace', namespace, ...extraArgs],
    { encoding: 'utf8' },
  );
  return parseObjects(out);
}
