/** The e2e harness itself: service-account tokens, RBAC and a loopback mutating webhook work against the real apiserver. */
import { createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  AdmissionregistrationV1Api,
  AuthenticationV1Api,
  CoreV1Api,
  type KubeConfig,
} from '@kubernetes/client-node';
import { describe, expect, onTestFinished, test } from 'vitest';
import { SERVICE_ACCOUNT_ISSUER } from '../cluster/controlplane.js';
import {
  applyYaml,
  freshNamespace,
  kubeConfig,
  serviceAccountToken,
  servingCert,
  waitFor,
} from '../cluster/fixtures.js';

/** The status code of a GET to the apiserver with a bearer token instead of the admin cert. */
async function statusWithToken(kc: KubeConfig, path: string, token: string): Promise<number> {
  const server = kc.getCurrentCluster()?.server ?? '';
  const ca = Buffer.from(kc.getCurrentCluster()?.caData ?? '', 'base64');
  return new Promise((resolve, reject) => {
    const req = request(`${server}${path}`, { ca, headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('e2e harness', () => {
  test('TokenRequest issues a token that TokenReview accepts only for its audience', async () => {
    const ns = await freshNamespace('token');
    const token = await serviceAccountToken(ns, 'app', 'tiermesh');
    const authn = kubeConfig().makeApiClient(AuthenticationV1Api);
    const ok = await authn.createTokenReview({ body: { spec: { token, audiences: ['tiermesh'] } } });
    expect(ok.status?.authenticated).toBe(true);
    expect(ok.status?.user?.username).toBe(`system:serviceaccount:${ns}:app`);
    expect(ok.status?.audiences).toEqual(['tiermesh']);
    const wrongAudience = await authn.createTokenReview({
      body: { spec: { token, audiences: ['someone-else'] } },
    });
    expect(wrongAudience.status?.authenticated).toBeFalsy();
  });

  test('RBAC is enforced for service-account tokens and follows a new RoleBinding', async () => {
    const ns = await freshNamespace('rbac');
    const token = await serviceAccountToken(ns, 'reader', SERVICE_ACCOUNT_ISSUER);
    const kc = kubeConfig();
    const path = `/api/v1/namespaces/${ns}/configmaps`;
    expect(await statusWithToken(kc, path, 'not-a-token')).toBe(401);
    expect(await statusWithToken(kc, path, token)).toBe(403);
    await applyYaml(
      `
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: read-configmaps }
rules: [{ apiGroups: [""], resources: [configmaps], verbs: [list] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: reader-reads-configmaps }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: read-configmaps }
subjects: [{ kind: ServiceAccount, name: reader, namespace: ${ns} }]
`,
      ns,
    );
    await waitFor(async () => (await statusWithToken(kc, path, token)) === 200, 30_000);
  });

  test('a mutating webhook served on 127.0.0.1 with a cluster-CA cert is called for Pods', async () => {
    const ns = await freshNamespace('webhook');
    const tls = await servingCert();
    let calls = 0;
    const server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        calls++;
        const review = JSON.parse(body) as { request: { uid: string } };
        const patch = [{ op: 'add', path: '/metadata/labels', value: { 'tiermesh.dev/mutated': 'yes' } }];
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            apiVersion: 'admission.k8s.io/v1',
            kind: 'AdmissionReview',
            response: {
              uid: review.request.uid,
              allowed: true,
              patchType: 'JSONPatch',
              patch: Buffer.from(JSON.stringify(patch)).toString('base64'),
            },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.address() as AddressInfo;

    const kc = kubeConfig();
    const admission = kc.makeApiClient(AdmissionregistrationV1Api);
    const name = `harness-${ns}`;
    await admission.createMutatingWebhookConfiguration({
      body: {
        metadata: { name },
        webhooks: [
          {
            name: 'harness.tiermesh.dev',
            admissionReviewVersions: ['v1'],
            sideEffects: 'None',
            failurePolicy: 'Fail',
            clientConfig: { url: `https://127.0.0.1:${port}/mutate`, caBundle: tls.caBundle },
            // Only this test's namespace: the webhook must not touch other tests' Pods.
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
            rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
          },
        ],
      },
    });
    onTestFinished(async () => {
      await admission.deleteMutatingWebhookConfiguration({ name });
    });

    const core = kc.makeApiClient(CoreV1Api);
    let n = 0;
    // The apiserver picks up new webhook configurations asynchronously, so retry with fresh Pods.
    const pod = await waitFor(async () => {
      const created = await core.createNamespacedPod({
        namespace: ns,
        body: { metadata: { name: `app-${n++}` }, spec: { containers: [{ name: 'app', image: 'busybox' }] } },
      });
      return created.metadata?.labels?.['tiermesh.dev/mutated'] === 'yes' && created;
    }, 30_000);
    expect(calls).toBeGreaterThan(0);
    expect(pod.spec?.serviceAccountName).toBe('default');
  });
});
