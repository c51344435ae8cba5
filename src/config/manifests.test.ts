import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { ConfigError, compileManifests, loadConfigFile, parseManifests } from './manifests.js';

const example = join(import.meta.dirname, '..', '..', 'examples', 'standalone.yaml');

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('standalone manifests', () => {
  it('loads the example config into one namespace snapshot', async () => {
    const s = await loadConfigFile(example);
    expect(s.namespace).toBe('demo');
    expect(s.defaultRoute).toBe('default');
    expect(s.routes[0]!.spec.tiers.map((t) => t.name)).toEqual(['cheap', 'standard', 'premium']);
    expect(s.budgets[0]!.spec.action).toBe('downgrade');
  });

  it("reads a List as `kubectl get -o yaml` writes it, server fields included, naming a bad item's place", async () => {
    const objects = parseAllDocuments(readFileSync(example, 'utf8')).map(
      (d) => d.toJS() as Record<string, unknown>,
    );
    const served = objects.map((o) => ({
      ...o,
      metadata: {
        ...(o['metadata'] as object),
        uid: '6f1c',
        resourceVersion: '812',
        generation: 3,
        creationTimestamp: '2026-12-01T10:00:00Z',
        managedFields: [{ manager: 'kubectl', operation: 'Apply' }],
      },
      status: { conditions: [] },
    }));
    const list = stringify({
      apiVersion: 'v1',
      kind: 'List',
      metadata: { resourceVersion: '' },
      items: served,
    });
    const m = parseManifests(list);
    expect(m.routes.map((r) => r.metadata.name)).toEqual(['default']);
    expect(m.budgets.map((b) => b.metadata.name)).toEqual(['demo-monthly']);
    const bad = stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [served[0], { ...served[1], spec: { limit: { usd: -1 } } }],
    });
    expect(problemsOf(() => parseManifests(bad))).toContainEqual(
      expect.stringMatching(/^document 1 item 2 \(ModelBudget demo-monthly\): spec\./),
    );
    expect(problemsOf(() => parseManifests('apiVersion: v1\nkind: List\nitems: 3\n'))).toContainEqual(
      'document 1 (List ?): items: expected a list of objects',
    );
  });

  it('holds object names to what the apiserver takes (DNS-1123 subdomain names, DNS-1123 label namespaces)', () => {
    const text = (name: string, ns: string) => `apiVersion: tiermesh.dev/v1alpha1
kind: ModelBudget
metadata: { name: ${name}, namespace: ${ns} }
spec: { window: { period: daily }, limit: { usd: 1 } }
`;
    expect(problemsOf(() => parseManifests(text('Default_Budget', 'demo')))).toEqual([
      expect.stringMatching(
        /^document 1 \(ModelBudget Default_Budget\): metadata\.name: must be a DNS-1123 subdomain/,
      ),
    ]);
    expect(problemsOf(() => parseManifests(text('b', 'my.team')))).toEqual([
      expect.stringMatching(/^document 1 \(ModelBudget b\): metadata\.namespace: must be a DNS-1123 label/),
    ]);
  });

  it('reads a relative modelRef beside the manifest file, and a rewritten model file is a new version', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-manifests-'));
    mkdirSync(join(dir, 'my-model'));
    writeFileSync(join(dir, 'my-model', 'model.json'), '{"first": true}');
    const text = readFileSync(example, 'utf8').replace(
      '    # modelRef: ./my-model/model.json',
      '    modelRef: ./my-model/model.json',
    );
    expect(text).toContain('    modelRef: ./my-model/model.json');
    const file = join(dir, 'route.yaml');
    writeFileSync(file, text);
    const first = await loadConfigFile(file);
    expect(first.routes[0]!.spec.classifier.modelRef).toBe(join(dir, 'my-model', 'model.json'));
    expect((await loadConfigFile(file)).version).toBe(first.version);
    // The same manifests, a new model written beside them (another size): SIGHUP must not call it "unchanged".
    writeFileSync(join(dir, 'my-model', 'model.json'), '{"second": true, "longer": 1}');
    expect((await loadConfigFile(file)).version).not.toBe(first.version);
    rmSync(dir, { recursive: true, force: true });
  });

  it('names the document and field of a schema error', () => {
    const text = `apiVersion: tiermesh.dev/v1alpha1
kind: ModelBudget
metadata: { name: b }
spec: { window: { period: hourly }, limit: { usd: -1 } }
`;
    expect(problemsOf(() => parseManifests(text))).toEqual([
      expect.stringMatching(/^document 1 \(ModelBudget b\): spec\.window\.period: /),
      expect.stringMatching(/^document 1 \(ModelBudget b\): spec\.limit\.usd: /),
    ]);
  });

  it('refuses a time zone the pattern lets through but the runtime does not know, naming the field', () => {
    const text = `apiVersion: tiermesh.dev/v1alpha1
kind: ModelBudget
metadata: { name: b }
spec: { window: { period: daily, timezone: Europe/Berln }, limit: { usd: 1 } }
`;
    expect(problemsOf(() => parseManifests(text))).toEqual([
      expect.stringMatching(/^document 1 \(ModelBudget b\): spec\.window\.timezone: .*time zone/),
    ]);
  });

  it('refuses a rule pattern that can backtrack exponentially on a client prompt, naming the field', () => {
    const text = `apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: r }
spec:
  providers: [{ name: sim, type: simulated }]
  models: [{ name: m, targets: [{ provider: sim }], pricing: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 1000 }]
  tiers: [{ name: cheap, models: [m] }]
  classifier: { rules: [{ name: words, pattern: '(\\w+\\s?)*$', tier: cheap }] }
`;
    expect(problemsOf(() => parseManifests(text))).toEqual([
      expect.stringMatching(
        /^document 1 \(ModelRoute r\): spec\.classifier\.rules\[0\]\.pattern: .*exponential/,
      ),
    ]);
  });

  it('reports YAML syntax errors and missing routes', () => {
    expect(problemsOf(() => parseManifests('a: [1'))[0]).toMatch(/^document 1: YAML: /);
    expect(problemsOf(() => parseManifests('apiVersion: v1\nkind: ConfigMap\n'))).toEqual([
      'no ModelRoute found',
    ]);
  });

  it('refuses a file that spans namespaces', async () => {
    const s = parseManifests(
      (await import('node:fs'))
        .readFileSync(example, 'utf8')
        .replace('namespace: demo\nspec:\n  window', 'namespace: other\nspec:\n  window'),
    );
    expect(problemsOf(() => compileManifests(s))[0]).toMatch(
      /^metadata\.namespace: a sidecar config holds one namespace/,
    );
  });

  it('refuses a budget whose routeRef names no route: it would limit nothing', () => {
    const text = `apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: chat }
spec:
  providers: [{ name: sim, type: simulated }]
  models: [{ name: m, targets: [{ provider: sim }], pricing: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 1000 }]
  tiers: [{ name: t, models: [m] }]
---
apiVersion: tiermesh.dev/v1alpha1
kind: ModelBudget
metadata: { name: cap }
spec: { routeRef: chatt, window: { period: daily }, limit: { usd: 5 } }
`;
    expect(problemsOf(() => compileManifests(parseManifests(text)))).toEqual([
      'ModelBudget cap: spec.routeRef: no ModelRoute "chatt" in namespace default, so this budget limits nothing',
    ]);
    expect(compileManifests(parseManifests(text.replace('chatt', 'chat'))).budgets).toHaveLength(1);
  });

  const route = (name: string, extra = '') => `apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name} }
spec:
  providers: [{ name: sim, type: simulated }]
  models: [{ name: m, targets: [{ provider: sim }], pricing: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 1000 }]
  tiers: [{ name: t, models: [m] }]
${extra}`;

  it('refuses a tiermesh.dev object in a version nobody serves, rather than skipping it', () => {
    const text = `${route('chat')}---
apiVersion: tiermesh.dev/v1
kind: ModelBudget
metadata: { name: cap }
spec: { window: { period: daily }, limit: { usd: 5 } }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: app }
`;
    expect(problemsOf(() => parseManifests(text))).toEqual([
      'document 2 (ModelBudget cap): apiVersion: tiermesh.dev/v1 is not served; use tiermesh.dev/v1alpha1',
    ]);
  });

  it("refuses unknown fields by path, as the apiserver's strict field validation does", () => {
    const text = route('chat', '  cascade: { enabeld: false }\n  cahce: { enabled: true }\nstatuss: {}\n');
    expect(problemsOf(() => parseManifests(text))).toEqual([
      'document 1 (ModelRoute chat): spec.cascade.enabeld: unknown field',
      'document 1 (ModelRoute chat): spec.cahce: unknown field',
      'document 1 (ModelRoute chat): statuss: unknown field',
    ]);
    // Inside arrays too; metadata (labels, annotations, anything the apiserver owns) is open.
    const nested = route('chat').replace(
      '{ name: sim, type: simulated }',
      '{ name: sim, type: simulated, tpye: x }',
    );
    expect(problemsOf(() => parseManifests(nested))).toEqual([
      'document 1 (ModelRoute chat): spec.providers[0].tpye: unknown field',
    ]);
    expect(
      parseManifests(route('chat').replace('{ name: chat }', '{ name: chat, uid: u, labels: { a: b } }'))
        .routes,
    ).toHaveLength(1);
  });

  it('refuses two documents with the same kind, namespace and name, naming both', () => {
    const text = `${route('chat')}---\n${route('other')}---\n${route('chat', '  cascade: { enabled: false }\n')}`;
    expect(problemsOf(() => parseManifests(text))).toEqual([
      'document 3 (ModelRoute chat): same kind, namespace and name as document 1 (ModelRoute chat); one object per name',
    ]);
  });

  it('fails clearly on a missing file', async () => {
    await expect(loadConfigFile('/nonexistent/tiermesh.yaml')).rejects.toThrow(/cannot read file: ENOENT/);
  });
});

describe('parity with the CRD schema', () => {
  const dir = join(import.meta.dirname, '..', '..', 'examples', 'invalid');
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

  it.each(files)(
    'standalone mode rejects examples/invalid/%s naming the same field as the apiserver',
    (file) => {
      const text = readFileSync(join(dir, file), 'utf8');
      const field = /^# expect-field: (\S+)/m.exec(text)?.[1];
      expect(field, 'each invalid example names its field').toBeDefined();
      const problems = problemsOf(() => compileManifests(parseManifests(text)));
      expect(problems.some((p) => p.includes(field!))).toBe(true);
    },
  );
});
