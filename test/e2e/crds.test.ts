/** The generated CRDs against a real kube-apiserver: they establish, every example applies, every invalid example is refused by field. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiextensionsV1Api, type KubernetesObject, KubernetesObjectApi } from '@kubernetes/client-node';
import { describe, expect, inject, test } from 'vitest';
import { repoRoot } from '../cluster/binaries.js';
import { isEstablished } from '../cluster/crds.js';
import {
  apiErrorCode,
  apiErrorMessage,
  applyYaml,
  freshNamespace,
  kubeConfig,
  parseObjects,
} from '../cluster/fixtures.js';

const yamlFiles = (dir: string) =>
  readdirSync(join(repoRoot, dir))
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => join(dir, f));

const read = (file: string) => readFileSync(join(repoRoot, file), 'utf8');

/** `# expect-field:` and `# expect-reason:` header lines of an invalid example. */
function expectations(text: string): { field: string; reason: string } {
  const field = /^# expect-field: (.+)$/m.exec(text)?.[1]?.trim();
  const reason = /^# expect-reason: (.+)$/m.exec(text)?.[1]?.trim();
  if (!field || !reason) throw new Error('invalid example lacks # expect-field: / # expect-reason: lines');
  return { field, reason };
}

describe('CRDs', () => {
  test('every CRD in crds/ is installed, its names accepted and Established', async () => {
    const api = kubeConfig().makeApiClient(ApiextensionsV1Api);
    const expected = yamlFiles('crds').flatMap((f) => parseObjects(read(f)).map((o) => o.metadata?.name));
    expect(expected.length).toBeGreaterThanOrEqual(2);
    expect([...inject('crds')].sort()).toEqual([...expected].sort());
    for (const name of expected) {
      const crd = await api.readCustomResourceDefinition({ name: name ?? '' });
      expect(isEstablished(crd), `${name} Established`).toBe(true);
      expect(crd.status?.conditions?.find((c) => c.type === 'NamesAccepted')?.status).toBe('True');
    }
  });

  test.each(yamlFiles('examples'))('%s applies cleanly, server-side, with nothing pruned', async (file) => {
    const ns = await freshNamespace('example');
    const input = parseObjects(read(file));
    expect(input.length).toBeGreaterThan(0);
    const applied = await applyYaml(read(file), ns);
    const client = KubernetesObjectApi.makeApiClient(kubeConfig());
    for (const [i, object] of input.entries()) {
      const stored = await client.read<KubernetesObject & { spec?: unknown }>({
        apiVersion: object.apiVersion ?? '',
        kind: object.kind ?? '',
        metadata: { name: object.metadata?.name ?? '', namespace: ns },
      });
      expect(stored.metadata?.uid).toBe(applied[i]?.metadata?.uid);
      expect(stored.metadata?.namespace).toBe(ns);
      // Unknown fields are pruned silently by the apiserver; every field we wrote must still be there.
      const spec = (object as { spec?: unknown }).spec;
      if (spec !== undefined) expect(stored.spec).toMatchObject(spec as object);
    }
  });

  test.each(yamlFiles('examples/invalid'))('%s is rejected, naming the field', async (file) => {
    const text = read(file);
    const { field, reason } = expectations(text);
    const ns = await freshNamespace('invalid');
    const err = await applyYaml(text, ns).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, 'the apiserver accepted it').toBeDefined();
    expect(apiErrorCode(err)).toBe(422);
    const message = apiErrorMessage(err);
    expect(message).toContain(`${field}:`);
    expect(message).toContain(reason);
  });
});
