import { describe, expect, it } from 'vitest';
import { type InjectorConfig, injectorConfig, SIDECAR_NAME, STATUS_ANNOTATION } from './injector-config.js';
import { escapePointerToken, type JsonPatchOp } from './json-patch.js';
import {
  type AdmittedPod,
  admittedPod,
  buildPatch,
  drainSecondsFor,
  HEALTH_PORT_NAME,
  isGuaranteed,
  keyVolumeName,
  METRICS_PORT_NAME,
  modelVolumeName,
  OPERATOR_CA_ENV,
  shouldInject,
  type sidecarContainer,
} from './patch.js';

type Sidecar = ReturnType<typeof sidecarContainer>;

const cfg: InjectorConfig = injectorConfig.parse({
  image: 'ghcr.io/tiermesh/tiermesh:0.1.0',
  version: '0.1.0',
  operatorURL: 'https://tiermesh-operator.tiermesh-system.svc:8443',
  operatorNamespace: 'tiermesh-system',
});

function pod(
  over: { labels?: Record<string, string>; annotations?: Record<string, string>; spec?: object } = {},
): AdmittedPod {
  return admittedPod.parse({
    metadata: { generateName: 'app-', labels: over.labels, annotations: over.annotations },
    spec: { containers: [{ name: 'app', image: 'app:1' }], ...over.spec },
  });
}

/** A strict RFC 6902 `add` applier: fails like the apiserver does on a missing parent or out-of-range index. */
function apply(doc: unknown, ops: JsonPatchOp[]): unknown {
  const out = structuredClone(doc) as Record<string, unknown>;
  for (const op of ops) {
    if (op.op !== 'add') throw new Error(`unexpected op ${op.op}`);
    const tokens = op.path
      .split('/')
      .slice(1)
      .map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'));
    const last = tokens.pop() as string;
    let parent: unknown = out;
    for (const t of tokens) {
      if (parent === null || typeof parent !== 'object' || !(t in parent))
        throw new Error(`missing parent at ${op.path}`);
      parent = (parent as Record<string, unknown>)[t];
    }
    if (Array.isArray(parent)) {
      if (last === '-') parent.push(op.value);
      else parent.splice(Number(last), 0, op.value);
    } else if (parent !== null && typeof parent === 'object')
      (parent as Record<string, unknown>)[last] = op.value;
    else throw new Error(`no container at ${op.path}`);
  }
  return out;
}

function patched(p: AdmittedPod, secrets: string[] = []) {
  const r = buildPatch(p, cfg, secrets);
  if (!r.ok) throw new Error(r.problems.join('; '));
  return { ops: r.ops, pod: admittedPod.parse(apply(p, r.ops)) };
}

describe('shouldInject', () => {
  it('injects pods of enabled namespaces and pods labelled true', () => {
    expect(shouldInject(pod(), 'team-a', { 'tiermesh.dev/inject': 'enabled' }, cfg).inject).toBe(true);
    expect(shouldInject(pod({ labels: { 'tiermesh.dev/inject': 'true' } }), 'team-a', {}, cfg).inject).toBe(
      true,
    );
    expect(shouldInject(pod(), 'team-a', {}, cfg).inject).toBe(false);
    expect(shouldInject(pod(), 'team-a', { 'tiermesh.dev/inject': 'true' }, cfg).inject).toBe(false);
  });

  it('lets a pod opt out of an enabled namespace', () => {
    const d = shouldInject(
      pod({ labels: { 'tiermesh.dev/inject': 'false' } }),
      'team-a',
      { 'tiermesh.dev/inject': 'enabled' },
      cfg,
    );
    expect(d).toEqual({ inject: false, reason: 'pod label tiermesh.dev/inject=false' });
  });

  it('never injects system namespaces, the operator namespace or hostNetwork pods, whatever the labels', () => {
    const asks = pod({ labels: { 'tiermesh.dev/inject': 'true' } });
    const enabled = { 'tiermesh.dev/inject': 'enabled' };
    for (const ns of ['kube-system', 'kube-public', 'kube-node-lease', 'tiermesh-system']) {
      expect(shouldInject(asks, ns, enabled, cfg).inject).toBe(false);
    }
    const host = pod({ labels: { 'tiermesh.dev/inject': 'true' }, spec: { hostNetwork: true } });
    expect(shouldInject(host, 'team-a', enabled, cfg)).toEqual({
      inject: false,
      reason: 'pod uses hostNetwork',
    });
  });
});

describe('Windows pods', () => {
  it('are never injected: the sidecar is a Linux image with a Linux securityContext', () => {
    const win = pod({ labels: { 'tiermesh.dev/inject': 'true' }, spec: { os: { name: 'windows' } } });
    expect(shouldInject(win, 'team-a', { 'tiermesh.dev/inject': 'enabled' }, cfg)).toEqual({
      inject: false,
      reason: 'pod runs on Windows (spec.os.name)',
    });
    expect(
      shouldInject(
        pod({ spec: { os: { name: 'linux' } } }),
        'team-a',
        { 'tiermesh.dev/inject': 'enabled' },
        cfg,
      ).inject,
    ).toBe(true);
  });
});

describe('QoS class', () => {
  const app = (resources: object) => pod({ spec: { containers: [{ name: 'app', image: 'a', resources }] } });
  const sidecarOf = (p: AdmittedPod) => patched(p).pod.spec.initContainers![0] as unknown as Sidecar;
  const guaranteed = { requests: { cpu: '2', memory: '1Gi' }, limits: { cpu: '2000m', memory: '1024Mi' } };

  it('a Guaranteed pod stays Guaranteed: the sidecar limits equal its requests', () => {
    const p = app(guaranteed);
    expect(isGuaranteed(p)).toBe(true);
    expect(sidecarOf(p).resources).toEqual({
      requests: { cpu: '50m', memory: '256Mi' },
      limits: { cpu: '50m', memory: '256Mi' },
    });
    // Requests default to the limits, as the apiserver defaults them.
    expect(isGuaranteed(app({ limits: { cpu: '1', memory: '1Gi' } }))).toBe(true);
  });

  it('any other pod keeps a sidecar without a cpu limit', () => {
    for (const resources of [
      {},
      { requests: { cpu: '1', memory: '1Gi' } },
      { requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: '2', memory: '1Gi' } },
      { limits: { memory: '1Gi' } },
    ]) {
      const p = app(resources);
      expect(isGuaranteed(p), JSON.stringify(resources)).toBe(false);
      expect(sidecarOf(p).resources).toEqual({
        requests: { cpu: '50m', memory: '128Mi' },
        limits: { memory: '256Mi' },
      });
    }
    // Every container counts, init containers too.
    const mixed = pod({
      spec: {
        initContainers: [{ name: 'init', image: 'i' }],
        containers: [{ name: 'app', image: 'a', resources: guaranteed }],
      },
    });
    expect(isGuaranteed(mixed)).toBe(false);
  });
});

describe('drain seconds', () => {
  it("leave delivering the usage 10 s of the pod's grace period, and at least 1 s to drain", () => {
    expect(drainSecondsFor(undefined)).toBe(20);
    expect(drainSecondsFor(120)).toBe(110);
    expect(drainSecondsFor(5)).toBe(1);
    const { pod: out } = patched(pod({ spec: { terminationGracePeriodSeconds: 300 } }));
    const args = (out.spec.initContainers![0] as unknown as Sidecar).args;
    expect(args[args.indexOf('--drain-seconds') + 1]).toBe('290');
  });
});

describe('buildPatch', () => {
  it("tells the sidecar its pod's labels, so it runs only the routes whose podSelector selects the pod", () => {
    const env = (p: AdmittedPod) =>
      (patched(p).pod.spec.initContainers![0] as unknown as Sidecar).env.find(
        (e) => e.name === 'TIERMESH_POD_LABELS',
      );
    expect(env(pod({ labels: { app: 'frontend', 'tiermesh.dev/inject': 'true' } }))).toEqual({
      name: 'TIERMESH_POD_LABELS',
      value: JSON.stringify({ app: 'frontend', 'tiermesh.dev/inject': 'true' }),
    });
    // No labels is not "unknown": only routes without a podSelector select such a pod.
    expect(env(pod())).toEqual({ name: 'TIERMESH_POD_LABELS', value: '{}' });
  });

  it('adds the sidecar, volumes, env and status to a pod with no volumes or annotations', () => {
    const { pod: out } = patched(pod(), ['openai-key']);
    expect(out.spec.containers.map((c) => c.name)).toEqual(['app']);
    // A native sidecar: the pod had no init containers, so the patch creates the list.
    expect(out.spec.initContainers?.map((c) => c.name)).toEqual([SIDECAR_NAME]);
    const sidecar = out.spec.initContainers?.[0] as unknown as Sidecar;
    expect(sidecar.restartPolicy).toBe('Always');
    // The kubelet dials the probe-only listener on the pod IP: no Node process started per probe.
    expect(sidecar.startupProbe).toMatchObject({
      httpGet: { path: '/healthz', port: HEALTH_PORT_NAME, scheme: 'HTTP' },
      periodSeconds: 1,
      failureThreshold: 60,
    });
    expect(sidecar.startupProbe).not.toHaveProperty('exec');
    expect(sidecar.args).toEqual([
      'sidecar',
      '--operator',
      'https://tiermesh-operator.tiermesh-system.svc:8443',
      '--token-file',
      '/var/run/secrets/tiermesh/token/token',
      '--state-dir',
      '/var/lib/tiermesh',
      '--listen',
      '127.0.0.1:4000',
      // The default 30 s grace period less 10 s to deliver the drained requests' usage.
      '--drain-seconds',
      '20',
      '--health-listen',
      '0.0.0.0:4021',
    ]);
    expect(sidecar.ports).toEqual([{ name: HEALTH_PORT_NAME, containerPort: 4021, protocol: 'TCP' }]);
    expect(sidecar.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(sidecar.readinessProbe.httpGet).toEqual({
      path: '/readyz',
      port: HEALTH_PORT_NAME,
      scheme: 'HTTP',
    });
    expect(sidecar.livenessProbe.httpGet).toEqual({
      path: '/healthz',
      port: HEALTH_PORT_NAME,
      scheme: 'HTTP',
    });
    expect(sidecar.volumeMounts).toContainEqual({
      name: 'tiermesh-key-openai-key',
      mountPath: '/var/run/secrets/tiermesh/openai-key',
      readOnly: true,
    });
    const volumes = out.spec.volumes ?? [];
    expect(volumes.map((v) => v.name)).toEqual([
      'tiermesh-token',
      'tiermesh-state',
      'tiermesh-key-openai-key',
    ]);
    expect(volumes[0]).toMatchObject({
      projected: {
        sources: [
          {
            serviceAccountToken: {
              audience: 'tiermesh',
              expirationSeconds: 3600,
              path: 'token',
            },
          },
        ],
      },
    });
    expect(out.spec.containers[0]?.env).toEqual([
      { name: 'OPENAI_BASE_URL', value: 'http://127.0.0.1:4000/v1' },
      { name: 'ANTHROPIC_BASE_URL', value: 'http://127.0.0.1:4000' },
      { name: 'TIERMESH_URL', value: 'http://127.0.0.1:4000' },
    ]);
    expect(JSON.parse(out.metadata.annotations?.[STATUS_ANNOTATION] ?? '')).toEqual({
      container: SIDECAR_NAME,
      image: 'ghcr.io/tiermesh/tiermesh:0.1.0',
      version: '0.1.0',
      port: 4000,
      secrets: ['openai-key'],
      healthPort: 4021,
    });
  });

  it('appends to existing volumes, env and annotations, escaping / and ~ in the annotation key', () => {
    const p = pod({
      annotations: { 'example.com/x': 'y' },
      spec: {
        containers: [
          { name: 'app', env: [{ name: 'A', value: '1' }] },
          { name: 'worker', env: [{ name: 'OPENAI_BASE_URL', value: 'http://mine/v1' }] },
        ],
        volumes: [{ name: 'data', emptyDir: {} }],
      },
    });
    const { ops, pod: out } = patched(p);
    expect(ops).toContainEqual(
      expect.objectContaining({ path: '/metadata/annotations/tiermesh.dev~1status' }),
    );
    expect(out.metadata.annotations?.['example.com/x']).toBe('y');
    expect(out.spec.volumes?.map((v) => v.name)).toEqual(['data', 'tiermesh-token', 'tiermesh-state']);
    expect(out.spec.containers[0]?.env?.map((e) => e.name)).toEqual([
      'A',
      'OPENAI_BASE_URL',
      'ANTHROPIC_BASE_URL',
      'TIERMESH_URL',
    ]);
    // The author's own OPENAI_BASE_URL is kept.
    expect(out.spec.containers[1]?.env).toEqual([
      { name: 'OPENAI_BASE_URL', value: 'http://mine/v1' },
      { name: 'ANTHROPIC_BASE_URL', value: 'http://127.0.0.1:4000' },
      { name: 'TIERMESH_URL', value: 'http://127.0.0.1:4000' },
    ]);
    expect(escapePointerToken('a~b/c')).toBe('a~0b~1c');
  });

  it('is idempotent: an injected pod gets no ops, and an app container added later only gets the env', () => {
    const { pod: once } = patched(pod(), ['k']);
    const again = buildPatch(once, cfg, ['k', 'other']);
    expect(again).toMatchObject({ ok: true, ops: [] });

    const withNew = admittedPod.parse({
      ...once,
      spec: { ...once.spec, containers: [...once.spec.containers, { name: 'late' }] },
    });
    const { ops, pod: out } = patched(withNew, ['k']);
    expect(ops.every((o) => o.path.startsWith('/spec/containers/1/env'))).toBe(true);
    expect(out.spec.initContainers?.filter((c) => c.name === SIDECAR_NAME)).toHaveLength(1);
    expect(out.spec.containers[1]?.env?.map((e) => e.name)).toEqual([
      'OPENAI_BASE_URL',
      'ANTHROPIC_BASE_URL',
      'TIERMESH_URL',
    ]);
  });

  it('applies valid annotation overrides and rejects bad ones with every problem named', () => {
    const { pod: out } = patched(
      pod({
        annotations: {
          'tiermesh.dev/sidecar-port': '5005',
          'tiermesh.dev/sidecar-cpu': '200m',
          'tiermesh.dev/sidecar-memory': '512Mi',
        },
      }),
    );
    const sidecar = out.spec.initContainers?.[0] as unknown as Sidecar;
    expect(sidecar.args[sidecar.args.indexOf('--listen') + 1]).toBe('127.0.0.1:5005');
    expect(sidecar.resources).toEqual({
      requests: { cpu: '200m', memory: '512Mi' },
      limits: { memory: '512Mi' },
    });
    expect(out.spec.containers[0]?.env?.[0]).toEqual({
      name: 'OPENAI_BASE_URL',
      value: 'http://127.0.0.1:5005/v1',
    });

    const bad = buildPatch(
      pod({
        annotations: {
          'tiermesh.dev/sidecar-port': '80',
          'tiermesh.dev/sidecar-cpu': 'lots',
          'tiermesh.dev/sidecar-memory': '1Ti',
        },
      }),
      cfg,
      [],
    );
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.problems).toHaveLength(3);
      expect(bad.problems.join('\n')).toMatch(/sidecar-port.*sidecar-cpu.*sidecar-memory/s);
    }
  });

  it('in container mode appends an ordinary container after existing init containers are left alone', () => {
    const legacy = injectorConfig.parse({ ...cfg, mode: 'container' });
    const p = pod({ spec: { initContainers: [{ name: 'migrate' }] } });
    const r = buildPatch(p, legacy, []);
    if (!r.ok) throw new Error(r.problems.join('; '));
    const out = admittedPod.parse(apply(p, r.ops));
    expect(out.spec.containers.map((c) => c.name)).toEqual(['app', SIDECAR_NAME]);
    expect(out.spec.initContainers?.map((c) => c.name)).toEqual(['migrate']);
    const sidecar = out.spec.containers[1] as unknown as Sidecar;
    expect(sidecar.restartPolicy).toBeUndefined();
    expect(buildPatch(out, legacy, []).ok && buildPatch(out, legacy, [])).toMatchObject({ ops: [] });

    const native = admittedPod.parse(apply(p, (buildPatch(p, cfg, []) as { ops: JsonPatchOp[] }).ops));
    expect(native.spec.initContainers?.map((c) => c.name)).toEqual(['migrate', SIDECAR_NAME]);
  });

  it('refuses a sidecar port an app container already uses', () => {
    const r = buildPatch(
      pod({ spec: { containers: [{ name: 'app', ports: [{ containerPort: 4000 }] }] } }),
      cfg,
      [],
    );
    expect(r.ok).toBe(false);
  });

  it('keeps volume names valid DNS labels for long Secret names', () => {
    const long = `k${'x'.repeat(100)}`;
    const a = keyVolumeName(long);
    expect(a.length).toBeLessThanOrEqual(63);
    expect(a).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(keyVolumeName(`${long}y`)).not.toBe(a);
  });
});

describe('learned-model ConfigMaps (spec.classifier.modelRef)', () => {
  it('mounts each model ConfigMap read-only at <model dir>/<name>, only its model.json, and records it', () => {
    const r = buildPatch(pod(), cfg, ['k'], { models: ['support-model', 'team.v2'] });
    if (!r.ok) throw new Error(r.problems.join('; '));
    const out = admittedPod.parse(apply(pod(), r.ops));
    const sidecar = out.spec.initContainers?.[0] as unknown as Sidecar;
    expect(sidecar.volumeMounts).toContainEqual({
      name: 'tiermesh-model-support-model',
      mountPath: '/etc/tiermesh/models/support-model',
      readOnly: true,
    });
    expect(sidecar.env).toContainEqual({ name: 'TIERMESH_MODEL_DIR', value: '/etc/tiermesh/models' });
    const dotted = modelVolumeName('team.v2');
    expect(dotted).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(dotted).not.toBe(modelVolumeName('team-v2'));
    expect(sidecar.volumeMounts).toContainEqual({
      name: dotted,
      mountPath: '/etc/tiermesh/models/team.v2',
      readOnly: true,
    });
    const volumes = out.spec.volumes ?? [];
    expect(volumes.find((v) => v.name === 'tiermesh-model-support-model')).toEqual({
      name: 'tiermesh-model-support-model',
      configMap: {
        name: 'support-model',
        optional: true,
        items: [{ key: 'model.json', path: 'model.json' }],
        defaultMode: 0o444,
      },
    });
    // Every mount has its volume, and names stay unique.
    const names = volumes.map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
    for (const m of sidecar.volumeMounts) expect(names).toContain(m.name);
    expect(JSON.parse(out.metadata.annotations?.[STATUS_ANNOTATION] ?? '').models).toEqual([
      'support-model',
      'team.v2',
    ]);
  });

  it('adds no model volume, env or status field when no route references a model', () => {
    const { pod: out } = patched(pod(), ['k']);
    const sidecar = out.spec.initContainers?.[0] as unknown as Sidecar;
    expect(sidecar.env.map((e) => e.name)).not.toContain('TIERMESH_MODEL_DIR');
    expect((out.spec.volumes ?? []).some((v) => v.name.startsWith('tiermesh-model-'))).toBe(false);
    expect(JSON.parse(out.metadata.annotations?.[STATUS_ANNOTATION] ?? '')).not.toHaveProperty('models');
  });
});

describe('operator TLS and metrics port', () => {
  const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  const sidecarOf = (p: AdmittedPod, c: InjectorConfig, operatorCA?: string) => {
    const r = buildPatch(p, c, [], { operatorCA });
    if (!r.ok) throw new Error(r.problems.join('; '));
    const out = admittedPod.parse(apply(p, r.ops));
    return out.spec.initContainers?.find((x) => x.name === SIDECAR_NAME) as unknown as Sidecar;
  };

  it('points the sidecar at the https operator URL and hands it the CA bundle to verify it with', () => {
    const s = sidecarOf(pod(), cfg, CA);
    expect(s.args.slice(0, 3)).toEqual([
      'sidecar',
      '--operator',
      'https://tiermesh-operator.tiermesh-system.svc:8443',
    ]);
    expect(s.env).toContainEqual({ name: OPERATOR_CA_ENV, value: CA });
  });

  it('passes no CA for an http:// operator (the insecure opt-out) or when none is known', () => {
    const plain = injectorConfig.parse({
      ...cfg,
      operatorURL: 'http://tiermesh-operator.tiermesh-system.svc:8443',
    });
    expect(sidecarOf(pod(), plain, CA).env.map((e) => e.name)).not.toContain(OPERATOR_CA_ENV);
    expect(sidecarOf(pod(), cfg, undefined).env.map((e) => e.name)).not.toContain(OPERATOR_CA_ENV);
  });

  it('exposes only a /metrics listener on the pod IP when a metrics port is configured; chat stays on loopback', () => {
    const withMetrics = injectorConfig.parse({ ...cfg, metricsPort: 9464 });
    const s = sidecarOf(pod(), withMetrics, CA);
    expect(s.args).toContain('127.0.0.1:4000');
    expect(s.args.slice(-4)).toEqual(['--metrics-listen', '0.0.0.0:9464', '--health-listen', '0.0.0.0:4021']);
    expect(s.ports).toEqual([
      { name: METRICS_PORT_NAME, containerPort: 9464, protocol: 'TCP' },
      { name: HEALTH_PORT_NAME, containerPort: 4021, protocol: 'TCP' },
    ]);
    expect(sidecarOf(pod(), cfg, CA).ports?.map((p) => p.name)).toEqual([HEALTH_PORT_NAME]);
  });

  it('refuses a pod whose own port collides with the metrics port', () => {
    const withMetrics = injectorConfig.parse({ ...cfg, metricsPort: 9464 });
    const p = pod({ spec: { containers: [{ name: 'app', image: 'a', ports: [{ containerPort: 9464 }] }] } });
    const r = buildPatch(p, withMetrics, []);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.problems[0]).toMatch(/metrics port 9464/);
  });
});

describe('probes', () => {
  const sidecarOf = (p: AdmittedPod, c: InjectorConfig) => {
    const r = buildPatch(p, c, []);
    if (!r.ok) throw new Error(r.problems.join('; '));
    const out = admittedPod.parse(apply(p, r.ops));
    const status = JSON.parse(out.metadata.annotations?.[STATUS_ANNOTATION] ?? '') as Record<string, unknown>;
    const s = [...out.spec.containers, ...(out.spec.initContainers ?? [])].find(
      (x) => x.name === SIDECAR_NAME,
    );
    return { s: s as unknown as Sidecar, status };
  };
  const probesOf = (s: Sidecar) => [s.startupProbe, s.readinessProbe, s.livenessProbe];

  it('exec probes on request: each fetches the loopback API, and no port is opened on the pod IP', () => {
    const { s, status } = sidecarOf(pod(), injectorConfig.parse({ ...cfg, probes: 'exec' }));
    expect(s.args).not.toContain('--health-listen');
    expect(s.ports).toBeUndefined();
    expect(s.startupProbe?.exec?.command.join(' ')).toContain('http://127.0.0.1:4000/healthz');
    expect(s.readinessProbe.exec?.command.join(' ')).toContain('http://127.0.0.1:4000/readyz');
    expect(s.livenessProbe.exec?.command.join(' ')).toContain('http://127.0.0.1:4000/healthz');
    for (const p of probesOf(s)) expect(p).not.toHaveProperty('httpGet');
    expect(status).not.toHaveProperty('healthPort');
  });

  it('follows a configured health port and a per-pod sidecar port; http probes name the port, not its number', () => {
    const c = injectorConfig.parse({ ...cfg, healthPort: 15500 });
    const { s, status } = sidecarOf(pod({ annotations: { 'tiermesh.dev/sidecar-port': '5000' } }), c);
    expect(s.args).toContain('127.0.0.1:5000');
    expect(s.args.slice(-2)).toEqual(['--health-listen', '0.0.0.0:15500']);
    expect(s.ports).toEqual([{ name: HEALTH_PORT_NAME, containerPort: 15500, protocol: 'TCP' }]);
    for (const p of probesOf(s)) expect(p?.httpGet?.port).toBe(HEALTH_PORT_NAME);
    expect(status['healthPort']).toBe(15500);
  });

  it('falls back to exec probes for a pod that already uses the health port, rather than refusing it', () => {
    const app = { name: 'app', image: 'a', ports: [{ containerPort: 4021 }] };
    const { s, status } = sidecarOf(pod({ spec: { containers: [app] } }), cfg);
    expect(s.args).not.toContain('--health-listen');
    expect(s.ports).toBeUndefined();
    expect(s.readinessProbe.exec?.command.join(' ')).toContain('http://127.0.0.1:4000/readyz');
    expect(status).not.toHaveProperty('healthPort');
    // The same when the pod moves the sidecar's own API port onto it.
    const moved = sidecarOf(pod({ annotations: { 'tiermesh.dev/sidecar-port': '4021' } }), cfg);
    expect(moved.s.args).toContain('127.0.0.1:4021');
    expect(moved.s.args).not.toContain('--health-listen');
    expect(moved.s.livenessProbe.exec?.command.join(' ')).toContain('http://127.0.0.1:4021/healthz');
  });

  it('container mode gets http readiness and liveness probes and no startup probe', () => {
    const { s } = sidecarOf(pod(), injectorConfig.parse({ ...cfg, mode: 'container' }));
    expect(s).not.toHaveProperty('startupProbe');
    expect(s.readinessProbe.httpGet?.path).toBe('/readyz');
    expect(s.livenessProbe.httpGet?.path).toBe('/healthz');
  });
});
