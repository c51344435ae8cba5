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
import { type RouterReport, summarize } from './metrics.js';

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

export interface EvalRow {
  set: string;
  pair: string;
  n: number;
  qWeak: number;
  qStrong: number;
  router: string;
  report: RouterReport;
}

export function evaluate(sets: EvalSet[], routers: Router[]): EvalRow[] {
  const rows: EvalRow[] = [];
  for (const s of sets) {
    const n = s.items.length;
    const qWeak = s.items.reduce((a, o) => a + o.weak, 0) / n;
    const qStrong = s.items.reduce((a, o) => a + o.strong, 0) / n;
    for (const r of routers) {
      const scores = s.items.map((o) => r.score(o.prompt));
      rows.push({
        set: s.name,
        pair: s.pair,
        n,
        qWeak,
        qStrong,
        router: r.name,
        report: summarize(scores, s.items),
      });
    }
  }
  return rows;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** One router on a team's outcomes (optionally one group of them): the `tiermesh eval --outcomes --json` row. */
export interface OutcomeRow {
  router: string;
  group: string;
  n: number;
  qWeak: number;
  qStrong: number;
  pgr20: number;
  pgr50: number;
  pgr80: number;
  apgr: number;
  cpt50: number;
  cpt80: number;
}

/** Rows for all outcomes ("all"), then per group when the outcomes carry more than one group. */
export function evaluateOutcomes(
  items: readonly { prompt: string; weak: number; strong: number; group?: string | undefined }[],
  routers: Router[],
): OutcomeRow[] {
  const groups = [...new Set(items.map((o) => o.group ?? ''))].sort();
  const sets: [string, typeof items][] = [['all', items]];
  if (groups.length > 1)
    for (const g of groups) sets.push([g || '(none)', items.filter((o) => (o.group ?? '') === g)]);
  const rows: OutcomeRow[] = [];
  for (const [group, xs] of sets) {
    const qWeak = xs.reduce((a, o) => a + o.weak, 0) / xs.length;
    const qStrong = xs.reduce((a, o) => a + o.strong, 0) / xs.length;
    for (const r of routers) {
      const rep = summarize(
        xs.map((o) => r.score(o.prompt)),
        xs,
      );
      rows.push({ router: r.name, group, n: xs.length, qWeak, qStrong, ...rep });
    }
  }
  return rows;
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
          `| ${[r.group, r.router, String(r.n), `${r.qWeak.toFixed(3)} -> ${r.qStrong.toFixed(3)}`, pct(r.pgr20), pct(r.pgr50), pct(r.pgr80), r.apgr.toFixed(3), pct(r.cpt50), pct(r.cpt80)].join(' | ')} |`,
      )
      .join('\n') +
    '\n'
  );
}

/** The table `tiermesh eval` prints and docs/classifier.md embeds (GitHub markdown). */
export function formatTable(rows: EvalRow[]): string {
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
          pct(r.report.pgr20),
          pct(r.report.pgr50),
          pct(r.report.pgr80),
          r.report.apgr.toFixed(3),
          pct(r.report.cpt50),
          pct(r.report.cpt80),
        ].join(' | '),
      )
      .map((l) => `| ${l} |`)
      .join('\n') +
    '\n'
  );
}
