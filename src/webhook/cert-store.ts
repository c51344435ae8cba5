/** Keeps the webhook certs in one Secret (safe with several replicas racing) and publishes the CA into the owned webhook config. */
import {
  type AdmissionregistrationV1Api,
  ApiException,
  type CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type V1Secret,
} from '@kubernetes/client-node';
import {
  bundleFromSecretData,
  bundleToSecretData,
  type CertBundle,
  type CertRequest,
  judgeBundle,
  renewBundle,
} from './certs.js';

const MANAGED_BY = {
  'app.kubernetes.io/managed-by': 'tiermesh-operator',
  'app.kubernetes.io/part-of': 'tiermesh',
};

function status(e: unknown): number | undefined {
  return e instanceof ApiException ? e.code : undefined;
}

async function readSecret(core: CoreV1Api, namespace: string, name: string): Promise<V1Secret | undefined> {
  try {
    return await core.readNamespacedSecret({ name, namespace });
  } catch (e) {
    if (status(e) === 404) return undefined;
    throw e;
  }
}

/**
 * The current bundle from Secret `namespace/name`, renewing it first when it is missing, expiring or lacks a name.
 * Writes are conditional (create, or replace at the read resourceVersion): when another replica wins the race,
 * its bundle is read back and used, so all replicas serve certificates from the same CA.
 */
export async function ensureCertSecret(
  core: CoreV1Api,
  opts: { namespace: string; name: string } & CertRequest,
): Promise<{ bundle: CertBundle; renewed: string | undefined }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const secret = await readSecret(core, opts.namespace, opts.name);
    const current = bundleFromSecretData(secret?.data);
    const verdict = judgeBundle(current, opts);
    if (verdict.action === 'keep') return { bundle: current as CertBundle, renewed: undefined };

    const bundle = await renewBundle(current, opts);
    const body: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      // Opaque, not kubernetes.io/tls: the chart pre-creates the Secret empty (so RBAC needs no `create`), and
      // a Secret's type cannot change afterwards, while a tls-typed Secret cannot be empty.
      type: secret?.type ?? 'Opaque',
      metadata: {
        name: opts.name,
        namespace: opts.namespace,
        labels: { ...secret?.metadata?.labels, ...MANAGED_BY },
        annotations: secret?.metadata?.annotations,
        resourceVersion: secret?.metadata?.resourceVersion,
      },
      data: bundleToSecretData(bundle),
    };
    try {
      if (secret) await core.replaceNamespacedSecret({ name: opts.name, namespace: opts.namespace, body });
      else await core.createNamespacedSecret({ namespace: opts.namespace, body });
      return { bundle, renewed: verdict.reason };
    } catch (e) {
      if (status(e) !== 409) throw e; // another replica wrote first: read its bundle on the next pass
    }
  }
  throw new Error(
    `webhook cert Secret ${opts.namespace}/${opts.name} kept changing under us; giving up this round`,
  );
}

/**
 * Sets clientConfig.caBundle on every webhook of the one MutatingWebhookConfiguration named `name` (never any other),
 * guarded by a `test` of its resourceVersion so a concurrent edit is not overwritten. Returns whether it changed.
 */
export async function publishCaBundle(
  admission: AdmissionregistrationV1Api,
  name: string,
  caBundlePem: string,
): Promise<boolean> {
  const encoded = Buffer.from(caBundlePem).toString('base64');
  for (let attempt = 0; attempt < 5; attempt++) {
    const cfg = await admission.readMutatingWebhookConfiguration({ name });
    const webhooks = cfg.webhooks ?? [];
    const stale = webhooks.flatMap((w, i) => (w.clientConfig.caBundle === encoded ? [] : [i]));
    if (stale.length === 0) return false;
    const ops = [
      { op: 'test', path: '/metadata/resourceVersion', value: cfg.metadata?.resourceVersion },
      ...stale.map((i) => ({ op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: encoded })),
    ];
    try {
      await admission.patchMutatingWebhookConfiguration(
        { name, body: ops },
        setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
      );
      return true;
    } catch (e) {
      // 422/409: the object changed between read and patch (failed test op); read it again.
      if (status(e) !== 422 && status(e) !== 409) throw e;
    }
  }
  throw new Error(`MutatingWebhookConfiguration ${name} kept changing; caBundle not published this round`);
}
