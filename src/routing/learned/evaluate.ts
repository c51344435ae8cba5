/**
 * Routing-quality evaluation on the held-out parts of the offline data: each router scores each prompt,
 * and the RouteLLM measures (PGR at fixed strong shares, APGR, CPT) come out per evaluation set.
 */
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

/** The held-out sets reported: unseen MMLU subjects, unseen prompts of the other sources, all of MT-Bench. */
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
