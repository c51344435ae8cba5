/**
 * Routing-quality evaluation on the held-out parts of the offline data: each router scores each prompt,
 * and the RouteLLM measures (PGR at fixed strong shares, APGR, CPT) come out per evaluation set.
 */
import { classifier } from '../../api/modelroute.js';
import type { ChatCompletionRequest } from '../../api/openai.js';
import { extractFeatures } from '../features.js';
import { structuralScore } from '../rules.js';
import type { LearnedClassifier } from './classifier.js';
import type { Dataset, Outcome } from './datasets.js';
import { meanQualities, type RouterReport, summarize, unmeasurableReason } from './metrics.js';

export interface EvalSet {
  name: string;
  pair: string;
  items: Outcome[];
}

export interface Router {
  name: string;
  score(prompt: string): number;
}

/** The held-out sets reported: unseen MMLU subjects, unseen prompts of the other sources, all of MT-Bench, and RouterBench pooled. */
export function evalSets(datasets: Dataset[]): EvalSet[] {
  const out: EvalSet[] = [];
  for (const d of datasets) {
    const pair = `${short(d.weakModel)} -> ${short(d.strongModel)}`;
    if (d.name === 'mmlu') {
      out.push({
        name: 'mmlu (unseen subjects)',
        pair,
        items: d.items.filter((o) => o.part === 'heldout-group'),
      });
      out.push({
        name: 'mmlu (seen subjects)',
        pair,
        items: d.items.filter((o) => o.part === 'heldout'),
      });
    } else out.push({ name: d.name, pair, items: d.items.filter((o) => o.part === 'heldout') });
  }
  const rb = datasets.filter((d) => d.name.startsWith('rb-'));
  if (rb.length > 1)
    out.push({
      name: 'routerbench pooled',
      pair: `${short(rb[0]!.weakModel)} -> ${short(rb[0]!.strongModel)}`,
      items: rb.flatMap((d) => d.items.filter((o) => o.part === 'heldout')),
    });
  return out.filter((s) => s.items.length > 0);
}

function short(model: string): string {
  return model.split('/').pop() ?? model;
}

/** Every prompt scores the same: ties split in expectation, so this is the expected random router exactly. */
export const randomRouter: Router = { name: 'random', score: () => 0 };

/** Engineer C's rule classifier (structural signals, no route rules) as a router score. */
export const rulesRouter: Router = {
  name: 'rules',
  score(prompt) {
    const req = { model: 'auto', messages: [{ role: 'user', content: prompt }] } as ChatCompletionRequest;
    return structuralScore(extractFeatures(req, prompt)).score;
  },
};

/** Longer prompts are harder: the simplest possible baseline. */
export const lengthRouter: Router = { name: 'length', score: (prompt) => prompt.length };

export function learnedRouter(c: LearnedClassifier): Router {
  return { name: 'learned', score: (prompt) => c.score(prompt) };
}

/** decide()'s hybrid mode: the mean of the rule score and the learned percentile (calibration scale). */
export function hybridRouter(c: LearnedClassifier): Router {
  return {
    name: 'hybrid',
    score: (prompt) => (rulesRouter.score(prompt) + (1 - c.shareAbove(c.score(prompt)))) / 2,
  };
}

/** What a ModelRoute with no classifier settings uses (the CRD default mode), under the name "default". */
export function defaultRouter(c: LearnedClassifier): Router {
  const mode = classifier.parse({}).mode;
  const r = mode === 'learned' ? learnedRouter(c) : mode === 'hybrid' ? hybridRouter(c) : rulesRouter;
  return { name: 'default', score: r.score };
}

/** Every router `tiermesh eval` reports, in table order. */
export function allRouters(c: LearnedClassifier): Router[] {
  return [randomRouter, lengthRouter, rulesRouter, learnedRouter(c), hybridRouter(c), defaultRouter(c)];
}

/** The RouteLLM measures of one router on one set of outcomes; null throughout when they are not measurable. */
export type Measures = { [K in keyof RouterReport]: number | null } & {
  /** Why the measures are null (the strong model is not better: no gain to recover); absent when measured. */
  notMeasured?: string;
};

/** Each router's measures on `items`, with the items' mean qualities (one unmeasurable check for all routers). */
function measureRouters(
  items: readonly { prompt: string; weak: number; strong: number }[],
  routers: readonly Router[],
): { router: string; qWeak: number; qStrong: number; measures: Measures }[] {
  const { qWeak, qStrong } = meanQualities(items);
  const reason = unmeasurableReason(items);
  return routers.map((r) => ({
    router: r.name,
    qWeak,
    qStrong,
    measures:
      reason === null
        ? summarize(
            items.map((o) => r.score(o.prompt)),
            items,
          )
        : {
            pgr20: null,
            pgr50: null,
            pgr80: null,
            apgr: null,
            cpt50: null,
            cpt80: null,
            notMeasured: reason,
          },
  }));
}

/** One router on one held-out set: the `tiermesh eval --json` row (flat, like the --outcomes rows). */
export type EvalRow = {
  set: string;
  pair: string;
  router: string;
  n: number;
  qWeak: number;
  qStrong: number;
} & Measures;

export function evaluate(sets: EvalSet[], routers: Router[]): EvalRow[] {
  return sets.flatMap((s) =>
    measureRouters(s.items, routers).map(({ router, qWeak, qStrong, measures }) => ({
      set: s.name,
      pair: s.pair,
      router,
      n: s.items.length,
      qWeak,
      qStrong,
      ...measures,
    })),
  );
}

/** One router on a team's outcomes (optionally one group of them): the `tiermesh eval --outcomes --json` row. */
export type OutcomeRow = {
  router: string;
  group: string;
  n: number;
  qWeak: number;
  qStrong: number;
} & Measures;

/** Rows for all outcomes ("all"), then per group when the outcomes carry more than one group. */
export function evaluateOutcomes(
  items: readonly { prompt: string; weak: number; strong: number; group?: string | undefined }[],
  routers: Router[],
): OutcomeRow[] {
  const groups = [...new Set(items.map((o) => o.group ?? ''))].sort();
  const sets: [string, typeof items][] = [['all', items]];
  if (groups.length > 1)
    for (const g of groups) sets.push([g || '(none)', items.filter((o) => (o.group ?? '') === g)]);
  return sets.flatMap(([group, xs]) =>
    measureRouters(xs, routers).map(({ router, qWeak, qStrong, measures }) => ({
      router,
      group,
      n: xs.length,
      qWeak,
      qStrong,
      ...measures,
    })),
  );
}

const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(1)}%`);
const f3 = (x: number | null) => (x === null ? 'n/a' : x.toFixed(3));
const measureCells = (m: Measures) => [
  pct(m.pgr20),
  pct(m.pgr50),
  pct(m.pgr80),
  f3(m.apgr),
  pct(m.cpt50),
  pct(m.cpt80),
];

/** Under the table, one line per set (or group) whose cells read "n/a", saying why. */
function notMeasuredLines(rows: readonly (Measures & { label: string })[]): string {
  const why = new Map<string, string>();
  for (const r of rows) if (r.notMeasured !== undefined) why.set(r.label, r.notMeasured);
  return why.size === 0
    ? ''
    : `\n${[...why].map(([label, w]) => `- n/a (${label}): ${w}; PGR is undefined there.`).join('\n')}\n`;
}

export function formatOutcomeTable(rows: readonly OutcomeRow[]): string {
  const head =
    '| group | router | n | quality weak -> strong | PGR@20% | PGR@50% | PGR@80% | APGR | CPT(50%) | CPT(80%) |\n' +
    '|---|---|---:|---|---:|---:|---:|---:|---:|---:|\n';
  return (
    head +
    rows
      .map(
        (r) =>
          `| ${[r.group, r.router, String(r.n), `${r.qWeak.toFixed(3)} -> ${r.qStrong.toFixed(3)}`, ...measureCells(r)].join(' | ')} |`,
      )
      .join('\n') +
    '\n' +
    notMeasuredLines(rows.map((r) => ({ ...r, label: `group ${r.group}` })))
  );
}

/** The table `tiermesh eval` prints and docs/classifier.md embeds (GitHub markdown). */
export function formatTable(rows: readonly EvalRow[]): string {
  const head =
    '| eval set | n | weak -> strong (quality) | router | PGR@20% | PGR@50% | PGR@80% | APGR | CPT(50%) | CPT(80%) |\n' +
    '|---|---:|---|---|---:|---:|---:|---:|---:|---:|\n';
  return (
    head +
    rows
      .map((r) =>
        [
          r.set,
          String(r.n),
          `${r.pair} (${r.qWeak.toFixed(3)} -> ${r.qStrong.toFixed(3)})`,
          r.router,
          ...measureCells(r),
        ].join(' | '),
      )
      .map((l) => `| ${l} |`)
      .join('\n') +
    '\n' +
    notMeasuredLines(rows.map((r) => ({ ...r, label: r.set })))
  );
}
