/** Reads a multi-document YAML file of ModelRoute/ModelBudget manifests into validated objects, grouped by namespace. */
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { API_VERSION, GROUP } from '../api/common.js';
import { type ModelBudget, modelBudget } from '../api/modelbudget.js';
import { type ModelRoute, modelRoute } from '../api/modelroute.js';
import type { Snapshot } from '../api/snapshot.js';
import { isModelFileRef } from '../routing/learned/model-ref-kind.js';
import { contentHash } from './canonical.js';
import { compileNamespace } from './compile.js';
import { fieldPath, formatIssues } from './issues.js';

/** A config that cannot be used, with every problem listed (each naming its document and field). */
export class ConfigError extends Error {
  readonly code = 'TM_INVALID_CONFIG';
  readonly problems: string[];
  constructor(source: string, problems: string[]) {
    super(`invalid config ${source}:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export interface Manifests {
  routes: ModelRoute[];
  budgets: ModelBudget[];
}

/** Parses manifest text; other kinds (Deployments, Secrets...) in the same file are skipped, as kubectl users expect. */
export function parseManifests(text: string, source = 'config'): Manifests {
  const problems: string[] = [];
  const out: Manifests = { routes: [], budgets: [] };
  /** kind/namespace/name to the label of the document that declared it first. */
  const seen = new Map<string, string>();
  const take = (value: unknown, where: string): void => {
    if (value === null || value === undefined) return;
    if (typeof value !== 'object' || Array.isArray(value)) {
      problems.push(`${where}: expected a Kubernetes object`);
      return;
    }
    const obj = value as {
      apiVersion?: unknown;
      kind?: unknown;
      metadata?: { name?: unknown; namespace?: unknown };
    };
    const label = `${where} (${String(obj.kind)} ${String(obj.metadata?.name ?? '?')})`;
    // What `kubectl get modelroutes -o yaml` writes: the objects, wrapped in a List.
    if (obj.apiVersion === 'v1' && obj.kind === 'List') {
      const items = (value as { items?: unknown }).items;
      if (!Array.isArray(items)) problems.push(`${label}: items: expected a list of objects`);
      else for (const [j, item] of items.entries()) take(item, `${where} item ${j + 1}`);
      return;
    }
    if (obj.apiVersion !== API_VERSION) {
      // Another group's object is skipped, as kubectl users expect; ours in a version nobody serves is a mistake.
      if (typeof obj.apiVersion === 'string' && obj.apiVersion.startsWith(`${GROUP}/`))
        problems.push(`${label}: apiVersion: ${obj.apiVersion} is not served; use ${API_VERSION}`);
      return;
    }
    const schema =
      obj.kind === 'ModelRoute' ? modelRoute : obj.kind === 'ModelBudget' ? modelBudget : undefined;
    if (!schema) {
      problems.push(`${label}: unknown kind for ${API_VERSION}`);
      return;
    }
    const r = schema.safeParse(value);
    if (!r.success) {
      problems.push(...formatIssues(r.error).map((m) => `${label}: ${m}`));
      return;
    }
    // zod drops fields it does not know; the apiserver's strict field validation refuses them, and so do we.
    const unknown = unknownFields(value, r.data);
    if (unknown.length > 0) {
      problems.push(...unknown.map((f) => `${label}: ${f}: unknown field`));
      return;
    }
    const key = `${obj.kind}/${String(obj.metadata?.namespace ?? 'default')}/${String(obj.metadata?.name)}`;
    const first = seen.get(key);
    if (first !== undefined) {
      problems.push(`${label}: same kind, namespace and name as ${first}; one object per name`);
      return;
    }
    seen.set(key, label);
    if (obj.kind === 'ModelRoute') out.routes.push(r.data as ModelRoute);
    else out.budgets.push(r.data as ModelBudget);
  };
  parseAllDocuments(text).forEach((doc, i) => {
    const where = `document ${i + 1}`;
    if (doc.errors.length > 0) problems.push(`${where}: YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
    else take(doc.toJS(), where);
  });
  if (problems.length > 0) throw new ConfigError(source, problems);
  if (out.routes.length === 0) throw new ConfigError(source, ['no ModelRoute found']);
  return out;
}

/**
 * Paths of the fields in `input` that the parse dropped: zod strips keys an object schema does not declare (a
 * `cascade.enabeld` would silently leave `enabled` at its default). Records and loose objects keep every key, so
 * only truly undeclared fields are named. No schema of ours renames keys, so what is missing from `parsed` was dropped.
 */
export function unknownFields(input: unknown, parsed: unknown, path: PropertyKey[] = []): string[] {
  if (Array.isArray(input) && Array.isArray(parsed))
    return input.flatMap((v, i) => unknownFields(v, parsed[i], [...path, i]));
  if (!isPlainObject(input) || !isPlainObject(parsed)) return [];
  return Object.keys(input).flatMap((k) =>
    Object.hasOwn(parsed, k) ? unknownFields(input[k], parsed[k], [...path, k]) : [fieldPath([...path, k])],
  );
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Compiles a standalone config into one snapshot. A file may hold one namespace only: a sidecar serves one
 * namespace, in the cluster and out of it. Invalid routes are errors here (there is no status to report them on).
 */
export function compileManifests(m: Manifests, source = 'config'): Snapshot {
  const nsOf = (o: { metadata: { namespace?: string | undefined } }) => o.metadata.namespace ?? 'default';
  const namespaces = new Set([...m.routes.map(nsOf), ...m.budgets.map(nsOf)]);
  if (namespaces.size > 1)
    throw new ConfigError(source, [
      `metadata.namespace: a sidecar config holds one namespace, found ${[...namespaces].join(', ')}`,
    ]);
  const namespace = [...namespaces][0] ?? 'default';
  const { snapshot, invalid, unboundBudgets } = compileNamespace(namespace, m.routes, m.budgets);
  const problems = [
    ...invalid.flatMap((r) => r.problems.map((p) => `ModelRoute ${r.name}: ${p}`)),
    ...unboundBudgets.flatMap((b) => b.problems.map((p) => `ModelBudget ${b.name}: ${p}`)),
  ];
  if (problems.length > 0) throw new ConfigError(source, problems);
  return snapshot;
}

export async function loadConfigFile(path: string): Promise<Snapshot> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ConfigError(path, [`cannot read file: ${(e as NodeJS.ErrnoException).code ?? String(e)}`]);
  }
  const manifests = parseManifests(text, path);
  anchorModelRefs(manifests, dirname(path));
  return withModelFileStamps(compileManifests(manifests, path));
}

/**
 * A relative `modelRef` file is the manifest's neighbour, as kubectl users read paths in a file they apply: resolved
 * against the file's folder, not the working directory the sidecar happened to start in.
 */
function anchorModelRefs(m: Manifests, dir: string): void {
  for (const r of m.routes) {
    const c = r.spec.classifier as { modelRef?: string } | undefined;
    if (c?.modelRef !== undefined && isModelFileRef(c.modelRef) && !isAbsolute(c.modelRef))
      c.modelRef = resolve(dir, c.modelRef);
  }
}

/**
 * The version also names each referenced model file's size and modification time, so a SIGHUP after a new model was
 * written (manifests unchanged) is a new version that loads it, instead of "unchanged".
 */
function withModelFileStamps(s: Snapshot): Snapshot {
  const stamps: string[] = [];
  for (const r of s.routes) {
    const ref = r.spec.classifier.modelRef;
    if (ref === undefined || !isModelFileRef(ref)) continue;
    try {
      const st = statSync(ref);
      stamps.push(`${ref}:${st.size}:${st.mtimeMs}`);
    } catch {
      stamps.push(`${ref}:missing`);
    }
  }
  return stamps.length === 0 ? s : { ...s, version: contentHash({ version: s.version, stamps }) };
}
