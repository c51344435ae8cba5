import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { crds, renderCrd, toStructural } from './crd.js';

describe('generated CRDs', () => {
  it.each(Object.keys(crds))(
    'crds/%s matches the zod schemas (run `make crds` if this fails)',
    async (file) => {
      const checkedIn = await readFile(join(import.meta.dirname, '..', '..', 'crds', file), 'utf8');
      expect(checkedIn).toBe(renderCrd(crds[file]!));
    },
  );

  it('emits only structural-schema keywords', () => {
    const text = JSON.stringify(crds);
    for (const banned of [
      '"$schema"',
      '"propertyNames"',
      '"const"',
      '"additionalProperties":false',
      '"anyOf"',
      '"oneOf"',
    ])
      expect(text).not.toContain(banned);
  });

  it('converts JSON Schema 2020-12 idioms to OpenAPI v3', () => {
    expect(toStructural({ const: 'x', exclusiveMinimum: 0, maximum: Number.MAX_SAFE_INTEGER })).toEqual({
      enum: ['x'],
      minimum: 0,
      exclusiveMinimum: true,
    });
  });

  it('puts the status subresource and printer columns on both kinds', () => {
    for (const crd of Object.values(crds)) {
      const version = (crd['spec'] as { versions: Array<Record<string, unknown>> }).versions[0]!;
      expect(version['subresources']).toEqual({ status: {} });
      expect((version['additionalPrinterColumns'] as unknown[]).length).toBeGreaterThan(2);
    }
  });
});
