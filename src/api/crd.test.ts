import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { crds, keyRule, renderCrd, toStructural } from './crd.js';

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

  it('describes every field, so `kubectl explain` says what each one is for', () => {
    type Node = {
      description?: string;
      properties?: Record<string, Node>;
      items?: Node;
      additionalProperties?: Node | boolean;
    };
    const undescribed: string[] = [];
    const walk = (node: Node, path: string) => {
      for (const [name, child] of Object.entries(node.properties ?? {})) {
        // The apiserver forbids a description on the top-level metadata (kubectl explain shows ObjectMeta's own).
        const isMetadata = name === 'metadata' && path.endsWith('.yaml');
        if (!child.description?.trim() && !isMetadata) undescribed.push(`${path}.${name}`);
        walk(child, `${path}.${name}`);
      }
      if (node.items) walk(node.items, `${path}[]`);
      if (typeof node.additionalProperties === 'object') walk(node.additionalProperties, `${path}{}`);
    };
    for (const [file, crd] of Object.entries(crds)) {
      const version = (crd['spec'] as { versions: Array<{ schema: { openAPIV3Schema: Node } }> })
        .versions[0]!;
      walk(version.schema.openAPIV3Schema, file);
    }
    expect(undescribed).toEqual([]);
  });

  it('puts the status subresource and printer columns on both kinds', () => {
    for (const crd of Object.values(crds)) {
      const version = (crd['spec'] as { versions: Array<Record<string, unknown>> }).versions[0]!;
      expect(version['subresources']).toEqual({ status: {} });
      const columns = version['additionalPrinterColumns'] as Array<{ name: string; priority?: number }>;
      const shown = columns.filter((c) => !c.priority).map((c) => c.name);
      // What `kubectl get` shows first: whether it is Ready, and if not, why (the message in -o wide).
      expect(shown.slice(0, 2)).toEqual(['Ready', 'Reason']);
      expect(shown.at(-1)).toBe('Age');
      expect(columns.find((c) => c.name === 'Message')?.priority).toBe(1);
    }
  });

  it('turns record key schemas (propertyNames) into CEL, so the apiserver refuses the keys zod refuses', () => {
    expect(
      toStructural({
        type: 'object',
        propertyNames: { type: 'string', minLength: 1, maxLength: 63, pattern: "^[a-z]\\.'$" },
        additionalProperties: { type: 'string' },
      }),
    ).toEqual({
      type: 'object',
      'x-kubernetes-validations': [
        {
          rule: "self.all(k, size(k) >= 1 && size(k) <= 63 && k.matches('^[a-z]\\\\.\\'$'))",
          message: "every key must be at least 1 character, at most 63 characters, matching ^[a-z]\\.'$",
        },
      ],
      additionalProperties: { type: 'string' },
    });
    expect(keyRule({ type: 'string' })).toBeUndefined();
    expect(() => keyRule({ type: 'string', format: 'email' })).toThrow(/format/);
  });

  it('puts a key rule on every record of the ModelRoute spec', () => {
    type Node = { [k: string]: Node } & { 'x-kubernetes-validations'?: Array<{ rule: string }> };
    const root = crds['tiermesh.dev_modelroutes.yaml'] as unknown as {
      spec: { versions: Array<{ schema: { openAPIV3Schema: Node } }> };
    };
    const spec = root.spec.versions[0]!.schema.openAPIV3Schema['properties']!['spec']!['properties']!;
    const props = (n: Node) => n['properties']!;
    for (const map of [
      props(spec['priority']!)['classes']!,
      spec['taskTypes']!,
      props(spec['slo']!)['taskTypes']!,
      props(spec['review']!)['taskTypes']!,
    ])
      expect(map['x-kubernetes-validations']?.[0]?.rule).toMatch(/^self\.all\(k, /);
  });
});
