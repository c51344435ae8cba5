import { describe, expect, it } from 'vitest';
import { modelConfigMaps, providerKeySecrets } from './secret-refs.js';

const route = (providers: unknown[], podSelector?: unknown) => ({ spec: { providers, podSelector } });
const key = (name: string) => ({
  name: 'p',
  type: 'openai',
  apiKey: { secretKeyRef: { name, key: 'apiKey' } },
});

describe('providerKeySecrets', () => {
  it('collects the Secrets of routes that select the pod, sorted and de-duplicated', () => {
    const routes = [
      route([key('openai'), key('anthropic'), { name: 'sim', type: 'simulated' }]),
      route([key('openai')]),
      route([key('billing-only')], { matchLabels: { app: 'billing' } }),
      { spec: 'garbage' },
    ];
    expect(providerKeySecrets(routes, { app: 'web' })).toEqual(['anthropic', 'openai']);
    expect(providerKeySecrets(routes, { app: 'billing' })).toEqual(['anthropic', 'billing-only', 'openai']);
  });

  it('a route whose podSelector does not parse selects no pod: its Secrets are not mounted namespace-wide', () => {
    const routes = [
      route([key('shared')]),
      route([key('billing-only')], {
        matchExpressions: [{ key: 'app', operator: 'Equals', values: ['billing'] }],
      }),
      route([key('billing-too')], { matchLabels: { app: 7 } }),
      route([key('billing-also')], 'app=billing'),
    ];
    expect(providerKeySecrets(routes, { app: 'web' })).toEqual(['shared']);
    // No podSelector key at all (not even undefined): the whole namespace.
    expect(providerKeySecrets([{ spec: { providers: [key('all')] } }], { app: 'web' })).toEqual(['all']);
    expect(
      modelConfigMaps([{ spec: { providers: [], podSelector: 'x', classifier: { modelRef: 'm' } } }], {}),
    ).toEqual([]);
  });

  it('skips env/file key sources and invalid Secret names', () => {
    const routes = [route([{ apiKey: { env: 'OPENAI_API_KEY' } }, key('Bad_Name')])];
    expect(providerKeySecrets(routes, {})).toEqual([]);
  });

  it('mounts Secrets named as Kubernetes allows: DNS-1123 subdomains up to 253 characters', () => {
    const long = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}`;
    const routes = [route([key('llm.openai'), key(long)]), route([key(`${long}.${'d'.repeat(63)}`)])];
    expect(providerKeySecrets(routes, {})).toEqual([long, 'llm.openai']);
  });
});

describe('modelConfigMaps', () => {
  const withModel = (modelRef: string, mode?: string, podSelector?: unknown) => ({
    spec: { providers: [], podSelector, classifier: { ...(mode ? { mode } : {}), modelRef } },
  });
  it('collects the ConfigMap refs of learned and hybrid routes that select the pod, sorted and de-duplicated', () => {
    const routes = [
      withModel('support-model'),
      withModel('support-model', 'hybrid'),
      withModel('billing-model', 'learned', { matchLabels: { app: 'billing' } }),
      withModel('rules-only', 'rules'),
      { spec: { providers: [], classifier: 'garbage' } },
    ];
    expect(modelConfigMaps(routes, { app: 'web' })).toEqual(['support-model']);
    expect(modelConfigMaps(routes, { app: 'billing' })).toEqual(['billing-model', 'support-model']);
  });

  it('never mounts file-path refs (standalone) or names no ConfigMap can have', () => {
    const routes = [
      withModel('./my-model/model.json'),
      withModel('model.json'),
      withModel('/etc/passwd'),
      withModel('Bad_Name'),
      withModel('..'),
    ];
    expect(modelConfigMaps(routes, {})).toEqual([]);
  });
});
