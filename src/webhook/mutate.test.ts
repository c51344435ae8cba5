import { describe, expect, it } from 'vitest';
import { parseReview } from './admission.js';
import { injectorConfig } from './injector-config.js';
import type { JsonPatchOp } from './json-patch.js';
import { type MutateDeps, mutate } from './mutate.js';

const cfg = injectorConfig.parse({
  image: 'tiermesh:test',
  version: '0.1.0',
  operatorURL: 'https://op.tiermesh-system.svc:8443',
  operatorNamespace: 'tiermesh-system',
});
const deps: MutateDeps = {
  cfg,
  namespaceLabels: async (ns): Promise<Record<string, string>> =>
    ns === 'on' ? { 'tiermesh.dev/inject': 'enabled' } : {},
  routesIn: async () => [
    {
      spec: {
        providers: [{ apiKey: { secretKeyRef: { name: 'openai', key: 'k' } } }],
        classifier: { mode: 'learned', modelRef: 'support-model' },
      },
    },
  ],
};

function reviewOf(object: unknown, extra: object = {}) {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'u1',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      namespace: 'on',
      operation: 'CREATE',
      object,
      ...extra,
    },
  };
}
const podObj = { metadata: { name: 'p' }, spec: { containers: [{ name: 'app', image: 'a' }] } };

async function run(body: unknown) {
  const parsed = parseReview(body);
  if (parsed.kind !== 'ok') throw new Error(parsed.kind);
  return mutate(parsed.request, deps);
}

describe('mutate', () => {
  it('answers with a base64 JSONPatch that mounts the route Secrets', async () => {
    const { response } = await run(reviewOf(podObj));
    expect(response).toMatchObject({ uid: 'u1', allowed: true, patchType: 'JSONPatch' });
    const ops = JSON.parse(Buffer.from(response.patch ?? '', 'base64').toString()) as JsonPatchOp[];
    expect(JSON.stringify(ops)).toContain('"secretName":"openai"');
    // The route's learned model ConfigMap is mounted too.
    expect(JSON.stringify(ops)).toContain('"configMap":{"name":"support-model"');
  });

  it('warns that the injected base URL overrides one an envFrom source may set, unless env sets it', async () => {
    const app = (extra: object) => ({
      name: 'app',
      image: 'a',
      envFrom: [{ configMapRef: { name: 'cfg' } }],
      ...extra,
    });
    const warned = await run(reviewOf({ metadata: { name: 'p' }, spec: { containers: [app({})] } }));
    expect(warned.response.warnings).toEqual([
      expect.stringMatching(/container "app" uses envFrom.*OPENAI_BASE_URL/),
    ]);
    const env = [
      { name: 'OPENAI_BASE_URL', value: 'http://mine' },
      { name: 'ANTHROPIC_BASE_URL', value: 'http://mine' },
      { name: 'TIERMESH_URL', value: 'http://mine' },
    ];
    const own = await run(reviewOf({ metadata: { name: 'p' }, spec: { containers: [app({ env })] } }));
    expect(own.response.warnings).toBeUndefined();
    expect((await run(reviewOf(podObj))).response.warnings).toBeUndefined();
  });

  it('allows without a patch when the namespace does not ask for injection', async () => {
    const { response, reason } = await run(reviewOf(podObj, { namespace: 'off' }));
    expect(response).toEqual({ uid: 'u1', allowed: true });
    expect(reason).toMatch(/neither/);
  });

  it('denies a malformed Pod and bad annotations with a 400 naming the problem', async () => {
    const bad = await run(reviewOf({ spec: { containers: 'nope' } }));
    expect(bad.response).toMatchObject({ allowed: false, status: { code: 400 } });
    expect(bad.response.status?.message).toContain('object.spec.containers');
    const ann = await run(
      reviewOf({ ...podObj, metadata: { annotations: { 'tiermesh.dev/sidecar-port': 'x' } } }),
    );
    expect(ann.response.status?.message).toContain('tiermesh.dev/sidecar-port');
  });

  it('answers a re-invocation without any cluster lookup', async () => {
    const first = await run(reviewOf(podObj));
    const ops = JSON.parse(Buffer.from(first.response.patch ?? '', 'base64').toString()) as JsonPatchOp[];
    const status = (ops.at(-1) as { value: Record<string, string> }).value['tiermesh.dev/status'] ?? '';
    // What the first pass left: the status annotation and the sidecar container.
    const injected = {
      metadata: { ...podObj.metadata, annotations: { 'tiermesh.dev/status': status } },
      spec: { ...podObj.spec, initContainers: [{ name: 'tiermesh-sidecar', image: 'tiermesh:test' }] },
    };
    const failing: MutateDeps = {
      cfg,
      namespaceLabels: () => Promise.reject(new Error('no lookups expected')),
      routesIn: () => Promise.reject(new Error('no lookups expected')),
    };
    const parsed = parseReview(reviewOf(injected));
    if (parsed.kind !== 'ok') throw new Error(parsed.kind);
    const again = await mutate(parsed.request, failing);
    expect(again.reason).toBe('already injected');
    // The app container lacks the env in this hand-built pod, so only env ops come back.
    const envOps = JSON.parse(Buffer.from(again.response.patch ?? '', 'base64').toString()) as JsonPatchOp[];
    expect(envOps.map((o) => o.path)).toEqual(['/spec/containers/0/env']);
  });

  it('a status annotation alone (copied or hand-written) is not an opt-in and not an injection', async () => {
    let lookups = 0;
    const counting: MutateDeps = {
      ...deps,
      namespaceLabels: (ns) => {
        lookups++;
        return deps.namespaceLabels(ns);
      },
    };
    const decide = async (annotation: string, namespace: string) => {
      const parsed = parseReview(
        reviewOf(
          { ...podObj, metadata: { name: 'p', annotations: { 'tiermesh.dev/status': annotation } } },
          { namespace },
        ),
      );
      if (parsed.kind !== 'ok') throw new Error(parsed.kind);
      const out = await mutate(parsed.request, counting);
      const ops = out.response.patch
        ? (JSON.parse(Buffer.from(out.response.patch, 'base64').toString()) as JsonPatchOp[])
        : [];
      return { reason: out.reason, ops: JSON.stringify(ops) };
    };
    const copied = JSON.stringify({
      container: 'tiermesh-sidecar',
      image: 'tiermesh:old',
      version: '0.0.1',
      port: 4000,
      secrets: [],
    });
    // Not opted in: nothing at all, whatever the annotation says.
    for (const annotation of ['copied-by-hand', copied]) {
      const off = await decide(annotation, 'off');
      expect(off).toEqual({ reason: expect.stringMatching(/neither/), ops: '[]' });
    }
    expect(lookups).toBe(2);
    // Opted in: a full injection (sidecar, Secret volumes, a fresh annotation), not env aimed at a missing proxy.
    const on = await decide(copied, 'on');
    expect(on.ops).toContain('"name":"tiermesh-sidecar"');
    expect(on.ops).toContain('"secretName":"openai"');
    expect(on.ops).toContain('\\"image\\":\\"tiermesh:test\\"');
  });

  it('ignores non-Pod kinds with a warning', async () => {
    const { response } = await run(
      reviewOf({}, { kind: { group: 'apps', version: 'v1', kind: 'Deployment' } }),
    );
    expect(response).toMatchObject({ allowed: true, warnings: [expect.stringContaining('Deployment')] });
    expect(response.patch).toBeUndefined();
  });
});

describe('parseReview', () => {
  it('tells a malformed review (answered in-band) from something that is not a review', () => {
    expect(parseReview({ hello: 1 }).kind).toBe('not-a-review');
    expect(
      parseReview({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'x' } })
        .kind,
    ).toBe('not-a-review');
    expect(
      parseReview({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'x' } }),
    ).toMatchObject({
      kind: 'invalid',
      uid: 'x',
    });
  });
});
