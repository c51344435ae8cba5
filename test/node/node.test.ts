/**
 * The test node itself, as a workload sees it: a plain pod runs from a locally built image, gets a pod IP from the
 * 198.18.0.0/24 bridge, reaches another pod through a Service by its DNS name (CoreDNS on the node), and cannot
 * resolve a name outside the cluster (nothing is forwarded off the machine).
 */
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { type ClusterTools, clusterTools } from './cluster.js';
import { nodeSkip, realNode } from './real-node.js';

const SERVER = `
const http = require('node:http');
http.createServer((req, res) => res.end(JSON.stringify({ pod: process.env.POD_NAME, ip: process.env.POD_IP })))
  .listen(8080, '0.0.0.0');
`;

const CLIENT = `
const dns = require('node:dns/promises');
(async () => {
  const svc = 'echo.' + process.env.NS + '.svc.cluster.local';
  const [resolved] = await dns.resolve4(svc);
  const answer = await (await fetch('http://echo:8080/')).json();
  let outside;
  try { await dns.resolve4('registry.npmjs.org'); outside = 'resolved'; } catch (e) { outside = e.code; }
  console.log(JSON.stringify({ resolved, answer, outside }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

describe.skipIf(nodeSkip())('the real test node', () => {
  let t: ClusterTools;
  beforeAll(() => {
    t = clusterTools(realNode());
  });

  it('runs a plain pod that reaches another through a Service resolved by CoreDNS, and nothing outside', async () => {
    const ns = await t.newNamespace('node-basic');
    const image = inject('nodeImages').nodeBase.ref;
    const env = [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      { name: 'NS', value: ns },
    ];
    const objects = [
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'echo', namespace: ns },
        spec: {
          selector: { matchLabels: { app: 'echo' } },
          template: {
            metadata: { labels: { app: 'echo' } },
            spec: {
              securityContext: { runAsNonRoot: true, runAsUser: 65532 },
              containers: [
                {
                  name: 'echo',
                  image,
                  imagePullPolicy: 'Never',
                  command: ['node', '-e', SERVER],
                  env,
                  ports: [{ containerPort: 8080 }],
                  readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
                },
              ],
            },
          },
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'echo', namespace: ns },
        spec: { selector: { app: 'echo' }, ports: [{ port: 8080 }] },
      },
    ];
    await t.kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
    const [server] = await t.readyPods(ns, 'app=echo');
    expect(server?.status?.podIP).toMatch(/^198\.18\.0\.\d+$/);

    const core = t.coreApi();
    const svc = await core.readNamespacedService({ name: 'echo', namespace: ns });
    expect(svc.spec?.clusterIP).toMatch(/^198\.19\.0\.\d+$/);
    await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: 'client' },
        spec: {
          restartPolicy: 'Never',
          securityContext: { runAsNonRoot: true, runAsUser: 65532 },
          containers: [
            { name: 'client', image, imagePullPolicy: 'Never', command: ['node', '-e', CLIENT], env },
          ],
        },
      },
    });
    const { exitCode, log } = await t.finished(ns, 'client', 'client');
    expect(exitCode, log).toBe(0);
    const result = JSON.parse(log.trim().split('\n').at(-1) ?? '{}') as {
      resolved: string;
      answer: { pod: string; ip: string };
      outside: string;
    };
    expect(result.resolved).toBe(svc.spec?.clusterIP);
    expect(result.answer).toEqual({ pod: server?.metadata?.name, ip: server?.status?.podIP });
    // CoreDNS serves cluster.local only: an outside name is refused, not forwarded.
    expect(result.outside).toMatch(/^(EREFUSED|ENOTFOUND|ESERVFAIL)$/);

    // The host reaches Services through the veth, as the apiserver does when it calls a webhook.
    const viaHost = await (await fetch(`http://${svc.spec?.clusterIP}:8080/`)).json();
    expect(viaHost).toEqual(result.answer);
  });
});
