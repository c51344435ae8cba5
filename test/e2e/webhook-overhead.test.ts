/**
 * What the injector adds to pod creation on the real apiserver, as ratios against creating the same pod with no
 * webhook in the same run. Opt-in (it creates ~1000 pods): TIERMESH_MEASURE=1 vitest run --project e2e
 * test/e2e/webhook-overhead.test.ts. Asserts only behaviour; the ratios are printed, never asserted.
 */
import { AdmissionregistrationV1Api, CoreV1Api } from '@kubernetes/client-node';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { startWebhookServer } from '../../src/webhook/server.js';
import { freshNamespace, kubeConfig } from '../cluster/fixtures.js';

const PODS = 100;
const ROUNDS = 3;

describe.skipIf(!process.env['TIERMESH_MEASURE'])('injector overhead (measurement)', () => {
  it('prints ms per pod creation: no webhook, webhook without injection, webhook with injection', async () => {
    const kc = kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const admission = kc.makeApiClient(AdmissionregistrationV1Api);
    const operatorNs = await freshNamespace('measure-op');
    const name = `tiermesh-measure-${operatorNs}`;
    const server = await startWebhookServer({
      kubeConfig: kc,
      namespace: operatorNs,
      port: 0,
      webhookConfigName: name,
      logger: pino({ level: 'warn' }),
      injector: { image: 'tiermesh:measure', version: '0', operatorURL: 'http://op:8443' },
    });
    const scope = `m-${operatorNs}`;
    const label = async (ns: string, labels: Record<string, string>) => {
      const o = await core.readNamespace({ name: ns });
      o.metadata = { ...o.metadata, labels: { ...o.metadata?.labels, ...labels } };
      await core.replaceNamespace({ name: ns, body: o });
    };
    const [base, off, on] = [
      await freshNamespace('m-base'),
      await freshNamespace('m-off'),
      await freshNamespace('m-on'),
    ];
    await label(off, { 'tiermesh.dev/e2e-measure': scope });
    await label(on, { 'tiermesh.dev/e2e-measure': scope, 'tiermesh.dev/inject': 'enabled' });
    // One entry for both namespaces, so "off" pays the webhook round trip and decides not to inject.
    await admission.createMutatingWebhookConfiguration({
      body: {
        metadata: { name },
        webhooks: [
          {
            name: 'measure.tiermesh.dev',
            clientConfig: { url: server.url },
            rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
            admissionReviewVersions: ['v1'],
            sideEffects: 'None',
            failurePolicy: 'Fail',
            reinvocationPolicy: 'IfNeeded',
            namespaceSelector: { matchLabels: { 'tiermesh.dev/e2e-measure': scope } },
          },
        ],
      },
    });
    try {
      await server.refresh();
      const create = (ns: string) =>
        core.createNamespacedPod({
          namespace: ns,
          body: { metadata: { generateName: 'p-' }, spec: { containers: [{ name: 'app', image: 'app:1' }] } },
        });
      const msPerPod = async (ns: string) => {
        const start = performance.now();
        for (let i = 0; i < PODS; i++) await create(ns);
        return (performance.now() - start) / PODS;
      };
      await msPerPod(base); // warm-up: connections, caches
      await msPerPod(on);
      const samples: Record<'base' | 'off' | 'on', number[]> = { base: [], off: [], on: [] };
      for (let r = 0; r < ROUNDS; r++) {
        samples.base.push(await msPerPod(base));
        samples.off.push(await msPerPod(off));
        samples.on.push(await msPerPod(on));
      }
      const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] ?? Number.NaN;
      const m = { base: median(samples.base), off: median(samples.off), on: median(samples.on) };
      console.log(
        `pod creation, ms per pod (median of ${ROUNDS} x ${PODS}): no webhook ${m.base.toFixed(1)}, ` +
          `webhook/no inject ${m.off.toFixed(1)} (x${(m.off / m.base).toFixed(2)}), ` +
          `webhook/inject ${m.on.toFixed(1)} (x${(m.on / m.base).toFixed(2)})`,
      );

      expect((await create(on)).spec?.initContainers?.map((c) => c.name)).toEqual(['tiermesh-sidecar']);
      expect((await create(off)).spec?.initContainers).toBeUndefined();
    } finally {
      await admission.deleteMutatingWebhookConfiguration({ name }).catch(() => undefined);
      await server.close();
    }
  }, 600_000);
});
