/** Reads a multi-document YAML file of ModelRoute/ModelBudget manifests into validated objects, grouped by namespace. */
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import { API_VERSION } from '../api/common.js';
import { type ModelBudget, modelBudget } from '../api/modelbudget.js';
import { type ModelRoute, modelRoute } from '../api/modelroute.js';
import type { Snapshot } from '../api/snapshot.js';
import { compileNamespace } from './compile.js';
import { formatIssues } from './issues.js';

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
  parseAllDocuments(text).forEach((doc, i) => {
    const where = `document ${i + 1}`;
    if (doc.errors.length > 0) {
      problems.push(`${where}: YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
      return;
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return;
    if (typeof value !== 'object' || Array.isArray(value)) {
      problems.push(`${where}: expected a Kubernetes object`);
      return;
    }
    const obj = value as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown } };
    if (obj.apiVersion !== API_VERSION) return;
    const label = `${where} (${String(obj.kind)} ${String(obj.metadata?.name ?? '?')})`;
    if (obj.kind === 'ModelRoute') {
      const r = modelRoute.safeParse(value);
      if (r.success) out.routes.push(r.data);
      else problems.push(...formatIssues(r.error).map((m) => `${label}: ${m}`));
    } else if (obj.kind === 'ModelBudget') {
      const r = modelBudget.safeParse(value);
      if (r.success) out.budgets.push(r.data);
      else problems.push(...formatIssues(r.error).map((m) => `${label}: ${m}`));
    } else {
      problems.push(`${label}: unknown kind for ${API_VERSION}`);
    }
  });
  if (problems.length > 0) throw new ConfigError(source, problems);
  if (out.routes.length === 0) throw new ConfigError(source, ['no ModelRoute found']);
  return out;
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
  return compileManifests(parseManifests(text, path), path);
}
