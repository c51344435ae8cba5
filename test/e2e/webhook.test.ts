/**
 * The sidecar injector against a real kube-apiserver: the apiserver itself calls our /mutate over TLS (self-managed
 * certs, caBundle published by the server) and applies the patch, so every path and value must be valid for real.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import {
  AdmissionregistrationV1Api,
  AppsV1Api,
  CoreV1Api,
  type V1MutatingWebhook,
  type V1MutatingWebhookConfiguration,
  type V1Pod,
  type V1PodSpec,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { bundleToSecretData, renewBundle, splitPem } from '../../src/webhook/certs.js';
import { startWebhookServer, type WebhookServer } from '../../src/webhook/server.js';
import {
  applyYaml,
  ensureServiceAccount,
  freshNamespace,
  kubeConfig,
  servingCert,
} from '../cluster/fixtures.js';

const run = randomBytes(3).toString('hex');
const OWNED = `tiermesh-e2e-injector-${run}`;
const DECOY = `tiermesh-e2e-decoy-${run}`;
/** Only namespaces carrying this label are sent to our webhook, so other suites' pods are never affected. */
const SCOPE = { 'tiermesh.dev/e2e-webhook': run };

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const admission = kc.makeApiClient(AdmissionregistrationV1Api);

let server: WebhookServer;
let operatorNs: string;

function webhook(name: string, url: string, extra: Partial<V1MutatingWebhook>): V1MutatingWebhook {
  return {
    name,
    clientConfig: { url },
    rules: [
      {
        apiGroups: [''],
        apiVersions: ['v1'],
        operations: ['CREATE'],
        resources: ['pods'],
        scope: 'Namespaced',
      },
    ],
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    // Fail, not the chart's default Ignore: an injector error must fail the test instead of silently skipping.
    failurePolicy: 'Fail',
    reinvocationPolicy: 'IfNeeded',
    timeoutSeconds: 10,
    ...extra,
  };
}

/** Same shape as the chart: one entry for enabled namespaces, one for pods that opt in elsewhere. */
function injectorConfiguration(name: string, url: string): V1MutatingWebhookConfiguration {
  return {
    metadata: { name },
    webhooks: [
      webhook('namespace.inject.tiermesh.dev', url, {
        namespaceSelector: { matchLabels: { ...SCOPE, 'tiermesh.dev/inject': 'enabled' } },
        objectSelector: {
          matchExpressions: [{ key: 'tiermesh.dev/inject', operator: 'NotIn', values: ['false'] }],
        },
      }),
      webhook('pod.inject.tiermesh.dev', url, {
        namespaceSelector: {
          matchLabels: SCOPE,
          matchExpressions: [{ key: 'tiermesh.dev/inject', operator: 'NotIn', values: ['enabled'] }],
        },
        objectSelector: { matchLabels: { 'tiermesh.dev/inject': 'true' } },
      }),
    ],
  };
}

/**
 * Labels a namespace and, unless it is one the injector never touches, waits until the apiserver acts on the new
 * labels: it matches namespaceSelectors against its own namespace cache, which lags the write, so a pod created
 * right away could be judged on the old labels. A dry-run pod that asks for injection shows when it is caught up
 * (and, after a CA rotation, that the apiserver trusts the webhook's certificate again).
 */
async function labelNamespace(name: string, labels: Record<string, string>, opts = { injectable: true }) {
  const ns = await core.readNamespace({ name });
  ns.metadata = { ...ns.metadata, labels: { ...ns.metadata?.labels, ...labels } };
  await core.replaceNamespace({ name, body: ns });
  if (!opts.injectable) return;
  await vi.waitFor(
    async () => {
      const probe = await core.createNamespacedPod({
        namespace: name,
        dryRun: 'All',
        body: {
          metadata: { generateName: 'probe-', labels: { 'tiermesh.dev/inject': 'true' } },
          spec: appSpec,
        },
      });
      expect(names(probe)).toContain('tiermesh-sidecar');
    },
    { timeout: 30_000, interval: 100 },
  );
}

const appSpec: V1PodSpec = {
  containers: [{ name: 'app', image: 'registry.example/app:1', ports: [{ containerPort: 8080 }] }],
};

function createPod(
  namespace: string,
  labels: Record<string, string> = {},
  spec: V1PodSpec = appSpec,
): Promise<V1Pod> {
  return core.createNamespacedPod({
    namespace,
    body: { metadata: { generateName: 'app-', labels: { app: 'demo', ...labels } }, spec },
  });
}

/** Every container name, app containers first, then init containers (where the native sidecar lives). */
const names = (pod: V1Pod) =>
  [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].map((c) => c.name);
const sidecarOf = (pod: V1Pod) => pod.spec?.initContainers?.find((c) => c.name === 'tiermesh-sidecar');

/** POSTs raw bytes to the webhook, trusting only its own CA, as the apiserver does. */
function post(body: string, contentType = 'application/json'): Promise<{ status: number; text: string }> {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: '/mutate',
        method: 'POST',
        ca: server.caBundle(),
        headers: { 'content-type': contentType },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function reviewOf(pod: V1Pod, namespace: string) {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `uid-${randomBytes(4).toString('hex')}`,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace,
      operation: 'CREATE',
      object: pod,
    },
  });
}

beforeAll(async () => {
  operatorNs = await freshNamespace('tiermesh-system');
  await labelNamespace(operatorNs, SCOPE, { injectable: false });
  // As the chart does: an empty Secret up front, so the operator only needs get/update on it by name.
  await core.createNamespacedSecret({
    namespace: operatorNs,
    body: { metadata: { name: 'tiermesh-webhook-certs' }, type: 'Opaque' },
  });
  server = await startWebhookServer({
    kubeConfig: kc,
    namespace: operatorNs,
    port: 0,
    certMode: 'self',
    webhookConfigName: OWNED,
    injector: {
      image: 'ghcr.io/tiermesh/tiermesh:e2e',
      version: '0.1.0-e2e',
      operatorURL: `https://tiermesh-operator.${operatorNs}.svc:8443`,
    },
  });
  const decoy = injectorConfiguration(DECOY, 'https://127.0.0.1:1/never-called');
  // The decoy selects nothing, so the apiserver never calls its unreachable URL.
  for (const w of decoy.webhooks ?? [])
    w.namespaceSelector = { matchLabels: { 'tiermesh.dev/e2e-nothing': run } };
  await admission.createMutatingWebhookConfiguration({ body: decoy });
  await admission.createMutatingWebhookConfiguration({ body: injectorConfiguration(OWNED, server.url) });
  await server.refresh(); // publishes the caBundle into OWNED, as the timer would
});

afterAll(async () => {
  for (const name of [OWNED, DECOY])
    await admission.deleteMutatingWebhookConfiguration({ name }).catch(() => undefined);
  await server?.close();
});

describe('sidecar injection webhook (real apiserver)', () => {
  it('publishes its caBundle only into the configuration it owns', async () => {
    const owned = await admission.readMutatingWebhookConfiguration({ name: OWNED });
    const expected = Buffer.from(server.caBundle() ?? '').toString('base64');
    expect(expected).not.toBe('');
    expect(owned.webhooks?.map((w) => w.clientConfig.caBundle)).toEqual([expected, expected]);

    const decoyBefore = await admission.readMutatingWebhookConfiguration({ name: DECOY });
    expect(decoyBefore.webhooks?.every((w) => w.clientConfig.caBundle === undefined)).toBe(true);
    await server.refresh(); // nothing to change: no write at all
    const ownedAfter = await admission.readMutatingWebhookConfiguration({ name: OWNED });
    expect(ownedAfter.metadata?.resourceVersion).toBe(owned.metadata?.resourceVersion);
    const decoyAfter = await admission.readMutatingWebhookConfiguration({ name: DECOY });
    expect(decoyAfter.metadata?.resourceVersion).toBe(decoyBefore.metadata?.resourceVersion);

    const secret = await core.readNamespacedSecret({ name: 'tiermesh-webhook-certs', namespace: operatorNs });
    expect(secret.type).toBe('Opaque');
    expect(Object.keys(secret.data ?? {}).sort()).toEqual([
      'ca-bundle.crt',
      'ca.crt',
      'ca.key',
      'tls.crt',
      'tls.key',
    ]);
  });

  it('injects pods created from a Deployment template in an enabled namespace, and leaves the Deployment alone', async () => {
    const ns = await freshNamespace('inject-on');
    await labelNamespace(ns, { ...SCOPE, 'tiermesh.dev/inject': 'enabled' });
    await applyYaml(
      `apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default }
spec:
  providers:
    - { name: openai, type: openai, apiKey: { secretKeyRef: { name: openai-key, key: apiKey } } }
    - { name: sim, type: simulated }
  models:
    - { name: gpt-4o-mini, targets: [{ provider: openai }], pricing: { inputPerMTok: 0.15, outputPerMTok: 0.6 }, contextWindow: 128000 }
    - { name: small, targets: [{ provider: sim }], pricing: { inputPerMTok: 0, outputPerMTok: 0 }, contextWindow: 8192 }
  tiers:
    - { name: cheap, models: [small] }
    - { name: strong, models: [gpt-4o-mini] }
  classifier: { mode: learned, modelRef: support-model }
`,
      ns,
    );

    const template = { metadata: { labels: { app: 'demo' } }, spec: appSpec };
    const deployment = await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'demo' },
        spec: { replicas: 1, selector: { matchLabels: { app: 'demo' } }, template },
      },
    });
    expect(names({ spec: deployment.spec?.template.spec } as V1Pod)).toEqual(['app']);
    expect(deployment.spec?.template.metadata?.annotations?.['tiermesh.dev/status']).toBeUndefined();

    // No controller-manager runs in the harness, so create the ReplicaSet's pod ourselves from the same template.
    const pod = await createPod(ns);
    expect(names(pod)).toEqual(['app', 'tiermesh-sidecar']);
    const sidecar = sidecarOf(pod);
    // The pod's labels at admission: the sidecar runs only the routes whose podSelector selects them.
    expect(sidecar?.env).toContainEqual({ name: 'TIERMESH_POD_LABELS', value: '{"app":"demo"}' });
    // A native sidecar: a restartable init container, so Jobs finish and the proxy listens before the app starts.
    expect(sidecar?.restartPolicy).toBe('Always');
    // The kubelet probes the probe-only listener on the pod IP; the API itself stays on loopback.
    expect(sidecar?.startupProbe?.httpGet).toEqual({ path: '/healthz', port: 'tm-health', scheme: 'HTTP' });
    expect(sidecar?.args).toEqual(expect.arrayContaining(['--listen', '127.0.0.1:4000']));
    expect(sidecar?.ports).toContainEqual({ name: 'tm-health', containerPort: 4021, protocol: 'TCP' });
    expect(sidecar?.image).toBe('ghcr.io/tiermesh/tiermesh:e2e');
    expect(sidecar?.args).toContain(`https://tiermesh-operator.${operatorNs}.svc:8443`);
    expect(sidecar?.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
    expect(pod.spec?.containers[0]?.env).toEqual([
      { name: 'OPENAI_BASE_URL', value: 'http://127.0.0.1:4000/v1' },
      { name: 'ANTHROPIC_BASE_URL', value: 'http://127.0.0.1:4000' },
      { name: 'TIERMESH_URL', value: 'http://127.0.0.1:4000' },
    ]);
    const volumes = Object.fromEntries((pod.spec?.volumes ?? []).map((v) => [v.name, v]));
    expect(volumes['tiermesh-token']?.projected?.sources?.[0]?.serviceAccountToken).toEqual({
      audience: 'tiermesh',
      expirationSeconds: 3600,
      path: 'token',
    });
    expect(volumes['tiermesh-key-openai-key']?.secret).toMatchObject({
      secretName: 'openai-key',
      optional: true,
    });
    expect(volumes['tiermesh-state']?.emptyDir).toBeDefined();
    // The route's learned model: its ConfigMap (which does not exist: optional) is mounted read-only for the sidecar.
    expect(volumes['tiermesh-model-support-model']?.configMap).toMatchObject({
      name: 'support-model',
      optional: true,
      items: [{ key: 'model.json', path: 'model.json' }],
    });
    expect(sidecar?.volumeMounts).toContainEqual(
      expect.objectContaining({
        name: 'tiermesh-model-support-model',
        mountPath: '/etc/tiermesh/models/support-model',
        readOnly: true,
      }),
    );
    // The ServiceAccount admission plugin's own volume is still there: our patch appended, not replaced.
    expect(Object.keys(volumes).some((v) => v.startsWith('kube-api-access-'))).toBe(true);
    expect(JSON.parse(pod.metadata?.annotations?.['tiermesh.dev/status'] ?? '{}')).toMatchObject({
      container: 'tiermesh-sidecar',
      image: 'ghcr.io/tiermesh/tiermesh:e2e',
      version: '0.1.0-e2e',
      secrets: ['openai-key'],
      models: ['support-model'],
    });

    // Re-invocation: the stored, already-injected pod sent through /mutate again yields no patch.
    const again = await post(reviewOf(pod, ns));
    expect(again.status).toBe(200);
    const response = JSON.parse(again.text).response;
    expect(response).toMatchObject({ allowed: true });
    expect(response.patch).toBeUndefined();

    const stored = await apps.readNamespacedDeployment({ name: 'demo', namespace: ns });
    expect(stored.spec?.template.spec?.containers.map((c) => c.name)).toEqual(['app']);
  });

  it('applies annotation overrides and rejects a pod whose override is invalid', async () => {
    const ns = await freshNamespace('inject-ann');
    await labelNamespace(ns, { ...SCOPE, 'tiermesh.dev/inject': 'enabled' });
    const ok = await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: {
          generateName: 'app-',
          annotations: { 'tiermesh.dev/sidecar-port': '4500', 'tiermesh.dev/sidecar-memory': '192Mi' },
        },
        spec: appSpec,
      },
    });
    const sidecar = sidecarOf(ok);
    expect(sidecar?.args?.[sidecar.args.indexOf('--listen') + 1]).toBe('127.0.0.1:4500');
    expect(sidecar?.resources?.limits?.memory).toBe('192Mi');

    const bad = core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { generateName: 'app-', annotations: { 'tiermesh.dev/sidecar-cpu': 'a lot' } },
        spec: appSpec,
      },
    });
    await expect(bad).rejects.toThrow(/tiermesh\.dev\/sidecar-cpu/);
  });

  it('injects an opted-in pod in an ordinary namespace but not its opted-out or unlabelled neighbours', async () => {
    const ns = await freshNamespace('inject-pod');
    await labelNamespace(ns, SCOPE);
    expect(names(await createPod(ns, { 'tiermesh.dev/inject': 'true' }))).toEqual([
      'app',
      'tiermesh-sidecar',
    ]);
    expect(names(await createPod(ns))).toEqual(['app']);

    const enabled = await freshNamespace('inject-opt-out');
    await labelNamespace(enabled, { ...SCOPE, 'tiermesh.dev/inject': 'enabled' });
    const optedOut = await createPod(enabled, { 'tiermesh.dev/inject': 'false' });
    expect(names(optedOut)).toEqual(['app']);
    // And the server agrees when asked directly (the objectSelector kept the apiserver from asking).
    const direct = JSON.parse((await post(reviewOf(optedOut, enabled))).text).response;
    expect(direct).toMatchObject({ allowed: true });
    expect(direct.patch).toBeUndefined();
  });

  it('never injects system namespaces or its own namespace, even when asked', async () => {
    await labelNamespace('kube-system', SCOPE, { injectable: false });
    try {
      await ensureServiceAccount('kube-system', 'default');
      const pod = await createPod('kube-system', { 'tiermesh.dev/inject': 'true' });
      expect(names(pod)).toEqual(['app']);
      await core.deleteNamespacedPod({ name: pod.metadata?.name ?? '', namespace: 'kube-system' });
    } finally {
      const ks = await core.readNamespace({ name: 'kube-system' });
      delete ks.metadata?.labels?.['tiermesh.dev/e2e-webhook'];
      await core.replaceNamespace({ name: 'kube-system', body: ks });
    }
    expect(names(await createPod(operatorNs, { 'tiermesh.dev/inject': 'true' }))).toEqual(['app']);
  });

  it('patches a pod with no volumes, init containers or annotations at all', async () => {
    const ns = await freshNamespace('inject-bare');
    await labelNamespace(ns, { ...SCOPE, 'tiermesh.dev/inject': 'enabled' });
    // No token automount: the ServiceAccount plugin adds no volume, so our patch must create spec.volumes.
    const pod = await createPod(ns, {}, { ...appSpec, automountServiceAccountToken: false });
    expect(pod.spec?.volumes?.map((v) => v.name)).toEqual(['tiermesh-token', 'tiermesh-state']);
    expect(names(pod)).toEqual(['app', 'tiermesh-sidecar']);
    expect(Object.keys(pod.metadata?.annotations ?? {})).toEqual(['tiermesh.dev/status']);
  });

  it('skips hostNetwork pods', async () => {
    const ns = await freshNamespace('inject-host');
    await labelNamespace(ns, { ...SCOPE, 'tiermesh.dev/inject': 'enabled' });
    expect(names(await createPod(ns, {}, { ...appSpec, hostNetwork: true }))).toEqual(['app']);
  });

  it('skips Windows pods, which the apiserver would refuse with the Linux sidecar', async () => {
    const ns = await freshNamespace('inject-win');
    await labelNamespace(ns, { ...SCOPE, 'tiermesh.dev/inject': 'enabled' });
    const win = await createPod(ns, {}, { ...appSpec, os: { name: 'windows' } });
    expect(names(win)).toEqual(['app']);
  });

  it('keeps a Guaranteed pod Guaranteed, as the apiserver classifies it', async () => {
    const ns = await freshNamespace('inject-qos');
    await labelNamespace(ns, { ...SCOPE, 'tiermesh.dev/inject': 'enabled' });
    const resources = { requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: '1', memory: '1Gi' } };
    const guaranteed = await createPod(ns, {}, { containers: [{ ...appSpec.containers[0]!, resources }] });
    expect(names(guaranteed)).toEqual(['app', 'tiermesh-sidecar']);
    expect(guaranteed.status?.qosClass).toBe('Guaranteed');
    const burstable = await createPod(ns, {}, appSpec);
    expect(names(burstable)).toEqual(['app', 'tiermesh-sidecar']);
    expect(burstable.status?.qosClass).toBe('Burstable');
  });

  it('answers a bad request cleanly', async () => {
    const notJson = await post('{ this is not json');
    expect(notJson.status).toBe(400);
    expect(notJson.text).toMatch(/not valid JSON/);

    const notReview = await post(JSON.stringify({ kind: 'Pod' }));
    expect(notReview.status).toBe(400);
    expect(notReview.text).toMatch(/AdmissionReview/);

    const malformed = await post(
      JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u-1' } }),
    );
    expect(malformed.status).toBe(200);
    expect(JSON.parse(malformed.text)).toMatchObject({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'u-1', allowed: false, status: { code: 400 } },
    });

    const wrongType = await post('<xml/>', 'application/xml');
    expect(wrongType.status).toBe(415);
  });

  it('rolls its CA over before expiry without a restart: old and new CA published, the apiserver keeps calling it', async () => {
    const served = async () =>
      new Promise<string>((resolve, reject) => {
        const url = new URL(server.url);
        const socket = connect({ host: url.hostname, port: Number(url.port), ca: server.caBundle() }, () => {
          resolve(socket.getPeerX509Certificate()?.fingerprint256 ?? '');
          socket.end();
        });
        socket.on('error', reject);
      });
    const servedBefore = await served();

    // A bundle whose 30-day CA was issued 25 days ago: still valid, but in the last third of its life.
    const day = 86_400_000;
    const aging = await renewBundle(undefined, {
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      caValidityDays: 30,
      now: new Date(Date.now() - 25 * day),
    });
    const secret = await core.readNamespacedSecret({ name: 'tiermesh-webhook-certs', namespace: operatorNs });
    secret.data = bundleToSecretData(aging);
    await core.replaceNamespacedSecret({
      name: 'tiermesh-webhook-certs',
      namespace: operatorNs,
      body: secret,
    });

    await server.refresh();
    const bundle = server.caBundle() ?? '';
    const cas = splitPem(bundle);
    expect(cas).toHaveLength(2);
    expect(cas[1]).toBe(aging.caCert);
    expect(cas[0]).not.toBe(aging.caCert);
    const owned = await admission.readMutatingWebhookConfiguration({ name: OWNED });
    expect(owned.webhooks?.[0]?.clientConfig.caBundle).toBe(Buffer.from(bundle).toString('base64'));
    expect(await served()).not.toBe(servedBefore);

    const ns = await freshNamespace('inject-rotated');
    await labelNamespace(ns, { ...SCOPE, 'tiermesh.dev/inject': 'enabled' });
    expect(names(await createPod(ns))).toEqual(['app', 'tiermesh-sidecar']);
  });
});

describe('webhook with a mounted certificate (certMode provided / cert-manager)', () => {
  it('serves the files it is given and picks up a renewed certificate on refresh, without touching any Secret', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tiermesh-certdir-'));
    const ns = await freshNamespace('certdir');
    let mounted: WebhookServer | undefined;
    try {
      const first = await servingCert();
      await writeFile(join(dir, 'tls.crt'), first.cert);
      await writeFile(join(dir, 'tls.key'), first.key);
      mounted = await startWebhookServer({
        kubeConfig: kc,
        namespace: ns,
        port: 0,
        certMode: 'provided',
        certDir: dir,
        webhookConfigName: OWNED,
        injector: { image: 'x:1', version: '0', operatorURL: 'http://op:8443' },
      });
      expect(mounted.caBundle()).toBeUndefined();
      const fingerprint = () =>
        new Promise<string>((resolve, reject) => {
          const url = new URL(mounted?.url ?? '');
          const socket = connect({ host: url.hostname, port: Number(url.port), ca: first.ca }, () => {
            resolve(socket.getPeerX509Certificate()?.fingerprint256 ?? '');
            socket.end();
          });
          socket.on('error', reject);
        });
      const before = await fingerprint();

      // cert-manager renews by rewriting the mounted Secret's files.
      const second = await servingCert();
      await writeFile(join(dir, 'tls.crt'), second.cert);
      await writeFile(join(dir, 'tls.key'), second.key);
      await mounted.refresh();
      expect(await fingerprint()).not.toBe(before);

      const secrets = await core.listNamespacedSecret({ namespace: ns });
      expect(secrets.items.map((x) => x.metadata?.name)).toEqual([]);
      // The owned configuration still carries the self-mode server's CA: a provided-mode server never publishes.
      const owned = await admission.readMutatingWebhookConfiguration({ name: OWNED });
      expect(owned.webhooks?.[0]?.clientConfig.caBundle).toBe(
        Buffer.from(server.caBundle() ?? '').toString('base64'),
      );
    } finally {
      await mounted?.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
