/**
 * The config compiler: a namespace's ModelRoutes and ModelBudgets in, one versioned Snapshot out.
 * Pure. The operator and standalone mode both call it, so a manifest behaves the same in and out of a cluster.
 */
import type { ModelBudget } from '../api/modelbudget.js';
import type { ModelRoute, ModelRouteSpec } from '../api/modelroute.js';
import type { Snapshot } from '../api/snapshot.js';
import { contentHash } from './canonical.js';

/**
 * The cross-field rules the CRD enforces with CEL, checked again here because standalone mode has no apiserver
 * and because a spec written before a rule existed may still be stored. Returns one message per broken rule.
 */
export function routeProblems(spec: ModelRouteSpec): string[] {
  const problems: string[] = [];
  const providers = new Map(spec.providers.map((p) => [p.name, p] as const));
  const models = new Set(spec.models.map((m) => m.name));
  const tiers = new Set(spec.tiers.map((t) => t.name));
  const dupes = (names: string[], field: string) => {
    const seen = new Set<string>();
    names.forEach((n, i) => {
      if (seen.has(n)) problems.push(`spec.${field}[${i}].name: duplicate name "${n}"`);
      seen.add(n);
    });
  };
  dupes(
    spec.providers.map((p) => p.name),
    'providers',
  );
  dupes(
    spec.models.map((m) => m.name),
    'models',
  );
  dupes(
    spec.tiers.map((t) => t.name),
    'tiers',
  );
  spec.providers.forEach((p, i) => {
    if (p.type === 'openai-compatible' && !p.baseURL)
      problems.push(`spec.providers[${i}].baseURL: openai-compatible providers need baseURL`);
    if (p.type === 'azure-openai' && !p.baseURL)
      problems.push(
        `spec.providers[${i}].baseURL: azure-openai providers need baseURL (the resource endpoint)`,
      );
    if (p.type !== 'simulated' && p.type !== 'openai-compatible' && !p.apiKey)
      problems.push(`spec.providers[${i}].apiKey: ${p.type} providers need apiKey`);
    if (p.azure && p.type !== 'azure-openai')
      problems.push(`spec.providers[${i}].azure: azure settings apply to azure-openai providers only`);
  });
  spec.models.forEach((m, i) => {
    m.targets.forEach((t, j) => {
      if (!providers.has(t.provider))
        problems.push(`spec.models[${i}].targets[${j}].provider: "${t.provider}" is not in spec.providers`);
      const type = providers.get(t.provider)?.type;
      if (m.request?.api === 'responses' && type && type !== 'openai' && type !== 'openai-compatible')
        problems.push(
          `spec.models[${i}].request.api: responses is for openai and openai-compatible providers; target ${j} is on ${type} provider "${t.provider}"`,
        );
    });
  });
  spec.tiers.forEach((t, i) => {
    t.models.forEach((name, j) => {
      if (!models.has(name)) problems.push(`spec.tiers[${i}].models[${j}]: "${name}" is not in spec.models`);
    });
  });
  if (spec.baselineModel && !models.has(spec.baselineModel))
    problems.push(`spec.baselineModel: "${spec.baselineModel}" is not in spec.models`);
  for (const [task, tierName] of Object.entries(spec.taskTypes ?? {})) {
    if (!tiers.has(tierName)) problems.push(`spec.taskTypes.${task}: "${tierName}" is not a tier`);
  }
  spec.classifier.rules?.forEach((r, i) => {
    if (!tiers.has(r.tier)) problems.push(`spec.classifier.rules[${i}].tier: "${r.tier}" is not a tier`);
    if (r.pattern !== undefined) {
      try {
        new RegExp(r.pattern, 'i');
      } catch (e) {
        // The engine's reason ("Invalid regular expression: /(a/i: Unterminated group"), without the pattern again.
        const why = e instanceof Error ? e.message.split(': ').at(-1) : undefined;
        problems.push(
          `spec.classifier.rules[${i}].pattern: not a valid regular expression${why ? ` (${why})` : ''}`,
        );
      }
    }
  });
  spec.queue?.limits.forEach((l, i) => {
    const m = spec.models.find((x) => x.name === l.model);
    if (!m) problems.push(`spec.queue.limits[${i}].model: "${l.model}" is not in spec.models`);
    else if (!m.targets.some((t) => t.provider === l.provider))
      problems.push(
        `spec.queue.limits[${i}].provider: "${l.provider}" is not a target of model "${l.model}"`,
      );
  });
  for (const task of Object.keys(spec.review?.taskTypes ?? {})) {
    if (!(task in (spec.taskTypes ?? {})))
      problems.push(`spec.review.taskTypes.${task}: "${task}" is not a spec.taskTypes key`);
  }
  if (spec.classifier.adapt?.enabled && spec.classifier.mode === 'rules')
    problems.push(
      'spec.classifier.adapt: needs mode learned or hybrid (rules mode has no threshold to move)',
    );
  const judge = spec.cascade.judge;
  if (judge && !models.has(judge.model))
    problems.push(`spec.cascade.judge.model: "${judge.model}" is not in spec.models`);
  if (spec.cascade.checks.includes('judge') && !judge)
    problems.push('spec.cascade.checks: the judge check needs spec.cascade.judge');
  const pr = spec.priority;
  if (pr) {
    for (const [name, c] of Object.entries(pr.classes)) {
      for (const bound of ['minTier', 'maxTier'] as const) {
        const t = c[bound];
        if (t !== undefined && !tiers.has(t))
          problems.push(`spec.priority.classes.${name}.${bound}: "${t}" is not a tier`);
      }
      const index = (t: string | undefined) => spec.tiers.findIndex((x) => x.name === t);
      if (c.minTier !== undefined && c.maxTier !== undefined && index(c.minTier) > index(c.maxTier))
        problems.push(
          `spec.priority.classes.${name}: minTier "${c.minTier}" is above maxTier "${c.maxTier}"`,
        );
    }
    const mapped = [
      ...Object.entries(pr.users ?? {}).map(([k, v]) => [`users.${k}`, v] as const),
      ...Object.entries(pr.groups ?? {}).map(([k, v]) => [`groups.${k}`, v] as const),
      ...(pr.default !== undefined ? [['default', pr.default] as const] : []),
    ];
    for (const [where, cls] of mapped)
      if (!Object.hasOwn(pr.classes, cls))
        problems.push(`spec.priority.${where}: "${cls}" is not a priority class`);
  }
  for (const [field, list] of [
    ['split', spec.split ?? []],
    ['shadow', spec.shadow ? [spec.shadow] : []],
  ] as const) {
    list.forEach((s, i) => {
      if (!models.has(s.model))
        problems.push(
          `spec.${field}${field === 'split' ? `[${i}]` : ''}.model: "${s.model}" is not in spec.models`,
        );
    });
  }
  return problems;
}

/**
 * The offset the operator's online calibration holds for a route (status.calibration, written by the leader), while
 * spec.classifier.adapt is on: in the snapshot, so a move is a new config version and a new leader compiles the
 * same one. Standalone manifests carry no status, so no offset.
 */
function calibrationOf(r: ModelRoute): { calibration?: { offset: number } } {
  const offset = r.status?.calibration?.offset ?? 0;
  const adapt = r.spec.classifier.adapt;
  if (!adapt?.enabled || r.spec.classifier.mode === 'rules' || offset <= 0) return {};
  // A maxShift lowered since the last move bounds the offset at once, before the controller's next pass.
  return { calibration: { offset: Math.min(offset, adapt.maxShift) } };
}

/** The route `model: "auto"` uses: the one named `default`, else the first (routes are sorted by name). */
export function defaultRouteOf(routes: ReadonlyArray<{ name: string }>): string | undefined {
  return routes.find((r) => r.name === 'default')?.name ?? routes[0]?.name;
}

export interface CompileResult {
  snapshot: Snapshot;
  /** Routes left out of the snapshot, with why: they get an Invalid condition and never reach a sidecar. */
  invalid: Array<{ name: string; problems: string[] }>;
  /**
   * Budgets whose routeRef names no route of the snapshot: they would limit nothing, so they say so (RouteNotFound
   * in the cluster, a config error standalone) rather than report a Ready budget that enforces nothing.
   */
  unboundBudgets: Array<{ name: string; problems: string[] }>;
}

/** Compiles one namespace. Objects are sorted by name so the version depends on content alone. */
export function compileNamespace(
  namespace: string,
  routes: ModelRoute[],
  budgets: ModelBudget[],
): CompileResult {
  const invalid: CompileResult['invalid'] = [];
  const compiledRoutes = [...routes]
    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))
    .flatMap((r) => {
      const problems = routeProblems(r.spec);
      if (problems.length > 0) {
        invalid.push({ name: r.metadata.name, problems });
        return [];
      }
      return [{ name: r.metadata.name, spec: r.spec, ...calibrationOf(r) }];
    });
  const compiledBudgets = [...budgets]
    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))
    .map((b) => ({ name: b.metadata.name, spec: b.spec }));
  const unboundBudgets: CompileResult['unboundBudgets'] = [];
  for (const b of compiledBudgets) {
    const ref = b.spec.routeRef;
    if (ref === undefined || compiledRoutes.some((r) => r.name === ref)) continue;
    const why = invalid.some((r) => r.name === ref)
      ? `ModelRoute "${ref}" is invalid and left out of the config`
      : `no ModelRoute "${ref}" in namespace ${namespace}`;
    unboundBudgets.push({ name: b.name, problems: [`spec.routeRef: ${why}, so this budget limits nothing`] });
  }
  const defaultRoute = defaultRouteOf(compiledRoutes);
  const body = { namespace, routes: compiledRoutes, budgets: compiledBudgets, defaultRoute };
  return { snapshot: { version: contentHash(body), ...body }, invalid, unboundBudgets };
}
