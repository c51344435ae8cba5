import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { webhookCliOptions, webhookOptionsFromCli } from './cli-options.js';
import { injectorConfig } from './injector-config.js';
import { admittedPod, shouldInject } from './patch.js';

const ctx = { kubeConfig: new KubeConfig(), namespace: 'tiermesh-system', version: '0.1.0' };
const parse = (args: string[]) => parseArgs({ args, options: webhookCliOptions, strict: true }).values;

describe('webhookOptionsFromCli', () => {
  it('is off without --webhook-listen', () => {
    expect(webhookOptionsFromCli(parse([]), ctx)).toBeUndefined();
  });

  it('builds server options whose injector config validates', () => {
    const o = webhookOptionsFromCli(
      parse([
        '--webhook-listen',
        '0.0.0.0:9443',
        '--sidecar-image',
        'img:1',
        '--sidecar-port',
        '4100',
        '--webhook-cert-mode',
        'cert-manager',
      ]),
      ctx,
    );
    expect(o).toMatchObject({
      host: '0.0.0.0',
      port: 9443,
      certMode: 'cert-manager',
      certDir: '/etc/tiermesh/webhook-certs',
    });
    const cfg = injectorConfig.parse({ operatorNamespace: ctx.namespace, ...o?.injector });
    expect(cfg).toMatchObject({
      image: 'img:1',
      port: 4100,
      version: '0.1.0',
      operatorURL: 'https://tiermesh-operator.tiermesh-system.svc:8443',
    });
  });

  it('--webhook-exclude-namespaces reaches the injector, which then refuses those namespaces whatever they ask', () => {
    const o = webhookOptionsFromCli(
      parse([
        '--webhook-listen',
        '0.0.0.0:9443',
        '--sidecar-image',
        'img:1',
        '--webhook-exclude-namespaces',
        'kube-system, batch-jobs ,',
      ]),
      ctx,
    );
    const cfg = injectorConfig.parse({ operatorNamespace: ctx.namespace, ...o?.injector });
    expect(cfg.extraSystemNamespaces).toEqual(['kube-system', 'batch-jobs']);
    const pod = admittedPod.parse({ metadata: {}, spec: { containers: [{ name: 'app' }] } });
    expect(shouldInject(pod, 'batch-jobs', { 'tiermesh.dev/inject': 'enabled' }, cfg).inject).toBe(false);
    expect(shouldInject(pod, 'team-a', { 'tiermesh.dev/inject': 'enabled' }, cfg).inject).toBe(true);
  });

  it('names the bad flag', () => {
    expect(() => webhookOptionsFromCli(parse(['--webhook-listen', 'nope']), ctx)).toThrow(/--webhook-listen/);
    expect(() =>
      webhookOptionsFromCli(
        parse(['--webhook-listen', ':9443', '--sidecar-image', 'i', '--sidecar-mode', 'x']),
        ctx,
      ),
    ).toThrow(/--sidecar-mode/);
    expect(() => webhookOptionsFromCli(parse(['--webhook-listen', ':9443']), ctx)).toThrow(/--sidecar-image/);
    expect(() =>
      webhookOptionsFromCli(
        parse(['--webhook-listen', ':9443', '--sidecar-image', 'i', '--webhook-cert-mode', 'x']),
        ctx,
      ),
    ).toThrow(/--webhook-cert-mode/);
  });

  it('turns on the sidecar metrics port only when asked, and refuses a bad one', () => {
    const base = ['--webhook-listen', ':9443', '--sidecar-image', 'i'];
    expect(webhookOptionsFromCli(parse(base), ctx)?.injector.metricsPort).toBeUndefined();
    expect(
      webhookOptionsFromCli(parse([...base, '--sidecar-metrics-port', '9464']), ctx)?.injector.metricsPort,
    ).toBe(9464);
    expect(() => webhookOptionsFromCli(parse([...base, '--sidecar-metrics-port', '80']), ctx)).toThrow(
      /--sidecar-metrics-port/,
    );
  });

  it('probes over HTTP on port 4021 by default; exec on request; refuses a bad or clashing health port', () => {
    const base = ['--webhook-listen', ':9443', '--sidecar-image', 'i'];
    expect(webhookOptionsFromCli(parse(base), ctx)?.injector).toMatchObject({
      probes: 'http',
      healthPort: 4021,
    });
    expect(webhookOptionsFromCli(parse([...base, '--sidecar-probes', 'exec']), ctx)?.injector.probes).toBe(
      'exec',
    );
    expect(() => webhookOptionsFromCli(parse([...base, '--sidecar-probes', 'tcp']), ctx)).toThrow(
      /--sidecar-probes: expected http or exec, got "tcp"/,
    );
    expect(() => webhookOptionsFromCli(parse([...base, '--sidecar-health-port', '80']), ctx)).toThrow(
      /--sidecar-health-port/,
    );
    expect(() =>
      webhookOptionsFromCli(
        parse([...base, '--sidecar-metrics-port', '9464', '--sidecar-health-port', '9464']),
        ctx,
      ),
    ).toThrow(/also the sidecar's metrics port/);
    expect(() => webhookOptionsFromCli(parse([...base, '--sidecar-health-port', '4000']), ctx)).toThrow(
      /also the sidecar's API port/,
    );
  });
});
