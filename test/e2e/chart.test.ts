/**
 * The Helm chart against a real kube-apiserver: every rendered object (default and ci/ values) is accepted by a
 * server-side dry run, and the RBAC it grants is exactly what docs/rbac.md promises (checked with SubjectAccessReview).
 */
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  ApiextensionsV1Api,
  AuthorizationV1Api,
  type KubernetesObject,
  KubernetesObjectApi,
  loadYaml,
  PatchStrategy,
  RbacAuthorizationV1Api,
  type V1Deployment,
  type V1MutatingWebhookConfiguration,
  type V1ResourceAttributes,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  apiErrorMessage,
  applyYaml,
  FIELD_MANAGER,
  freshNamespace,
  helmTemplate,
  kubeConfig,
  waitFor,
} from '../cluster/fixtures.js';

const root = join(import.meta.dirname, '../..');
const chart = join(root, 'charts/tiermesh');

const kc = kubeConfig();
const release = `tm-${randomBytes(3).toString('hex')}`;
/** The chart's fullname for a release whose name does not contain "tiermesh". */
const fullname = `${release}-tiermesh`;
let namespace: string;

function render(extraArgs: string[] = []): KubernetesObject[] {
  return helmTemplate(release, namespace, extraArgs);
}

/** Stand-ins for cert-manager's and the Prometheus Operator's CRDs, so their objects can be dry-run too. */
const stubCrds = [
  { group: 'cert-manager.io', kind: 'Certificate', plural: 'certificates' },
  { group: 'cert-manager.io', kind: 'Issuer', plural: 'issuers' },
  { group: 'monitoring.coreos.com', kind: 'ServiceMonitor', plural: 'servicemonitors' },
  { group: 'monitoring.coreos.com', kind: 'PodMonitor', plural: 'podmonitors' },
  { group: 'monitoring.coreos.com', kind: 'PrometheusRule', plural: 'prometheusrules' },
].map(
  ({ group, kind, plural }) => `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: ${plural}.${group} }
spec:
  group: ${group}
  scope: Namespaced
  names: { kind: ${kind}, plural: ${plural}, listKind: ${kind}List, singular: ${kind.toLowerCase()} }
  versions:
    - name: v1
      served: true
      storage: true
      schema: { openAPIV3Schema: { type: object, x-kubernetes-preserve-unknown-fields: true } }
`,
);

/** Server-side apply with dryRun=All: the apiserver runs defaulting, validation and admission, and stores nothing. */
async function dryRunAll(objects: KubernetesObject[]): Promise<string[]> {
  const client = KubernetesObjectApi.makeApiClient(kc);
  const rejected: string[] = [];
  for (const o of objects) {
    const spec = loadYaml<KubernetesObject>(JSON.stringify(o));
    try {
      await client.patch(spec, undefined, 'All', FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
    } catch (e) {
      rejected.push(`${o.kind} ${o.metadata?.name}: ${apiErrorMessage(e)}`);
    }
  }
  return rejected;
}

beforeAll(async () => {
  namespace = await freshNamespace('tiermesh-chart');
  await applyYaml(stubCrds.join('---\n'));
  const ext = kc.makeApiClient(ApiextensionsV1Api);
  for (const name of [
    'certificates.cert-manager.io',
    'issuers.cert-manager.io',
    'servicemonitors.monitoring.coreos.com',
    'podmonitors.monitoring.coreos.com',
    'prometheusrules.monitoring.coreos.com',
  ]) {
    await waitFor(async () =>
      (await ext.readCustomResourceDefinition({ name })).status?.conditions?.some(
        (c) => c.type === 'Established' && c.status === 'True',
      ),
    );
  }
});

afterAll(async () => {
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  await rbac.deleteClusterRoleBinding({ name: fullname }).catch(() => undefined);
  await rbac.deleteClusterRole({ name: fullname }).catch(() => undefined);
});

describe('helm chart (real apiserver)', () => {
  const valueFiles = readdirSync(join(chart, 'ci')).filter((f) => f.endsWith('-values.yaml'));

  it.each(['default', ...valueFiles])(
    'every object rendered with %s values passes a server-side dry run',
    async (file) => {
      const objects = render(file === 'default' ? [] : ['-f', join(chart, 'ci', file)]);
      expect(objects.length).toBeGreaterThan(5);
      expect(await dryRunAll(objects)).toEqual([]);
    },
  );

  it('renders the operator and webhook as promised', () => {
    const objects = render();
    const byKind = (kind: string) => objects.filter((o) => o.kind === kind);
    const deployment = byKind('Deployment')[0] as V1Deployment | undefined;
    expect(deployment?.spec?.replicas).toBe(2);
    expect(deployment?.spec?.template.spec?.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65532,
    });
    const webhooks =
      (byKind('MutatingWebhookConfiguration')[0] as V1MutatingWebhookConfiguration | undefined)?.webhooks ??
      [];
    expect(webhooks).toHaveLength(2);
    for (const w of webhooks) {
      expect(w).toMatchObject({
        failurePolicy: 'Ignore',
        reinvocationPolicy: 'IfNeeded',
        sideEffects: 'None',
      });
      expect(JSON.stringify(w.namespaceSelector)).toContain('kube-system');
      expect(JSON.stringify(w.namespaceSelector)).toContain(namespace);
    }
    // A list that replaces the default one still leaves the system namespaces out of both entries.
    const replaced = render(['--set', 'webhook.excludeNamespaces={istio-system}']).find(
      (o) => o.kind === 'MutatingWebhookConfiguration',
    ) as V1MutatingWebhookConfiguration | undefined;
    for (const w of replaced?.webhooks ?? []) {
      const names = w.namespaceSelector?.matchExpressions?.find(
        (e) => e.key === 'kubernetes.io/metadata.name',
      );
      expect(names?.values).toEqual(
        expect.arrayContaining(['kube-system', 'kube-public', 'kube-node-lease', 'istio-system', namespace]),
      );
    }
    expect(replaced?.webhooks).toHaveLength(2);
    // Two replicas, one may go; a replica that is not Ready never blocks a node drain.
    expect((byKind('PodDisruptionBudget')[0] as { spec?: unknown } | undefined)?.spec).toMatchObject({
      minAvailable: 1,
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    });
    expect(byKind('ServiceMonitor')).toHaveLength(0);
    expect(byKind('CustomResourceDefinition')).toHaveLength(0);
    expect(byKind('ConfigMap')[0]?.metadata?.labels?.['grafana_dashboard']).toBe('1');
  });

  it('grants the operator exactly the documented rights', async () => {
    const objects = render().filter((o) =>
      ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(o.kind ?? ''),
    );
    await applyYaml(objects.map((o) => JSON.stringify(o)).join('\n---\n'));
    const authz = kc.makeApiClient(AuthorizationV1Api);
    const user = `system:serviceaccount:${namespace}:${fullname}`;
    const can = async (attrs: V1ResourceAttributes) =>
      (await authz.createSubjectAccessReview({ body: { spec: { user, resourceAttributes: attrs } } })).status
        ?.allowed === true;

    const allowed: V1ResourceAttributes[] = [
      { group: 'tiermesh.dev', resource: 'modelroutes', verb: 'watch' },
      {
        group: 'tiermesh.dev',
        resource: 'modelbudgets',
        subresource: 'status',
        verb: 'patch',
        namespace: 'team-a',
      },
      { group: '', resource: 'events', verb: 'create', namespace: 'team-a' },
      { group: 'authentication.k8s.io', resource: 'tokenreviews', verb: 'create' },
      { group: '', resource: 'namespaces', verb: 'get', name: 'team-a' },
      {
        group: 'admissionregistration.k8s.io',
        resource: 'mutatingwebhookconfigurations',
        verb: 'patch',
        name: `${fullname}-sidecar-injector`,
      },
      { group: '', resource: 'secrets', verb: 'update', namespace, name: `${fullname}-webhook-certs` },
      {
        group: 'coordination.k8s.io',
        resource: 'leases',
        verb: 'update',
        namespace,
        name: 'tiermesh-operator',
      },
      { group: 'coordination.k8s.io', resource: 'leases', verb: 'create', namespace },
      // Replicas watch the one Lease for each other's stream counts (fieldSelector metadata.name: checked by name).
      {
        group: 'coordination.k8s.io',
        resource: 'leases',
        verb: 'watch',
        namespace,
        name: 'tiermesh-operator',
      },
    ];
    const denied: V1ResourceAttributes[] = [
      { group: 'tiermesh.dev', resource: 'modelroutes', verb: 'update', namespace: 'team-a' },
      { group: 'tiermesh.dev', resource: 'modelroutes', verb: 'delete', namespace: 'team-a' },
      { group: '', resource: 'secrets', verb: 'get', namespace, name: 'someone-elses-secret' },
      { group: '', resource: 'secrets', verb: 'list', namespace },
      { group: '', resource: 'secrets', verb: 'get', namespace: 'team-a', name: `${fullname}-webhook-certs` },
      { group: '', resource: 'secrets', verb: 'create', namespace },
      {
        group: 'admissionregistration.k8s.io',
        resource: 'mutatingwebhookconfigurations',
        verb: 'patch',
        name: 'other-webhook',
      },
      { group: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations', verb: 'list' },
      { group: 'coordination.k8s.io', resource: 'leases', verb: 'update', namespace, name: 'kube-scheduler' },
      // ...and no other Lease: not a namespace-wide list or watch.
      { group: 'coordination.k8s.io', resource: 'leases', verb: 'list', namespace },
      { group: 'coordination.k8s.io', resource: 'leases', verb: 'watch', namespace },
      {
        group: 'coordination.k8s.io',
        resource: 'leases',
        verb: 'update',
        namespace: 'kube-system',
        name: 'tiermesh-operator',
      },
      { group: '', resource: 'pods', verb: 'list', namespace: 'team-a' },
      { group: '', resource: 'namespaces', verb: 'update', name: 'team-a' },
      // Nothing caches namespaces, and the cert Secret is read and replaced, never patched.
      { group: '', resource: 'namespaces', verb: 'list' },
      { group: '', resource: 'namespaces', verb: 'watch' },
      { group: '', resource: 'secrets', verb: 'patch', namespace, name: `${fullname}-webhook-certs` },
    ];
    const wrongly = async (list: V1ResourceAttributes[], expected: boolean) =>
      (
        await Promise.all(
          list.map(async (a) => ((await can(a)) === expected ? undefined : JSON.stringify(a))),
        )
      ).filter(Boolean);
    expect(await wrongly(allowed, true)).toEqual([]);
    expect(await wrongly(denied, false)).toEqual([]);
  });
});
