/**
 * Loaders for the offline routing-quality data in ../shared/data (RouteLLM and LLMRouter outcomes): every
 * source becomes prompts with a weak and a strong model's quality, tagged with its train/held-out part.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseCsv } from './csv.js';
import { canonicalPrompt } from './prompt.js';
import { type Part, partOf } from './split.js';

export interface Outcome {
  prompt: string;
  /** Quality of the cheap model's answer, in [0, 1] (correctness, or judge score / 10). */
  weak: number;
  /** Quality of the strong model's answer, in [0, 1]. */
  strong: number;
  part: Part;
  /** Sub-source, e.g. the MMLU subject. */
  group?: string;
  /** Every recorded model's quality on this prompt (multi-model sources), for label augmentation. */
  scores?: Record<string, number>;
}

export interface Dataset {
  name: string;
  weakModel: string;
  strongModel: string;
  items: Outcome[];
}

/** `$TIERMESH_DATA_DIR`, else `<repo>/../shared/data`: the default location of the data. */
export function defaultDataDir(repoRoot: string): string {
  return process.env['TIERMESH_DATA_DIR'] || join(repoRoot, '..', 'shared', 'data');
}

export function hasData(dir: string): boolean {
  return existsSync(join(dir, 'routellm', 'mmlu')) && existsSync(join(dir, 'llmrouter', 'train.json'));
}

const truthy = (v: string | undefined) => (v?.trim() === 'True' ? 1 : 0);

function readJsonl(path: string): unknown[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as unknown);
}

/** Prompts RouteLLM lists as contaminated (seen by its own routers' training): never train or evaluate on them. */
function contaminated(path: string): Set<string> {
  if (!existsSync(path)) return new Set();
  const out = new Set<string>();
  for (const r of readJsonl(path) as { train_prompt?: string; eval_prompt?: string }[]) {
    if (r.eval_prompt) out.add(r.eval_prompt.trim());
    if (r.train_prompt) out.add(r.train_prompt.trim());
  }
  return out;
}

export function loadMmlu(dir: string): Dataset {
  const mmluDir = join(dir, 'routellm', 'mmlu');
  const items: Outcome[] = [];
  let weakModel = '';
  let strongModel = '';
  for (const file of readdirSync(mmluDir).sort()) {
    if (!file.endsWith('.csv')) continue;
    const subject = basename(file, '.csv').replace(/^mmlu_/, '');
    const [header, ...rows] = parseCsv(readFileSync(join(mmluDir, file), 'utf8'));
    weakModel = header?.[1] ?? weakModel;
    strongModel = header?.[2] ?? strongModel;
    for (const r of rows) {
      if (r.length < 3 || !r[0]) continue;
      items.push({
        prompt: r[0],
        weak: truthy(r[1]),
        strong: truthy(r[2]),
        group: subject,
        part: partOf('mmlu', r[0], subject),
      });
    }
  }
  return { name: 'mmlu', weakModel, strongModel, items };
}

export function loadGsm8k(dir: string): Dataset {
  const base = join(dir, 'routellm', 'gsm8k');
  const skip = contaminated(join(base, 'contaminated_prompts.jsonl'));
  const [header, ...rows] = parseCsv(readFileSync(join(base, 'gsm8k_responses.csv'), 'utf8'));
  const items: Outcome[] = [];
  for (const r of rows) {
    if (r.length < 3 || !r[0] || skip.has(r[0].trim())) continue;
    items.push({ prompt: r[0], weak: truthy(r[1]), strong: truthy(r[2]), part: partOf('gsm8k', r[0]) });
  }
  return { name: 'gsm8k', weakModel: header?.[1] ?? '', strongModel: header?.[2] ?? '', items };
}

/**
 * MT-Bench: 80 open-ended questions judged 1-10 by GPT-4 over two turns. Too few to train on, so every
 * question is held out; quality is the mean judge score of both turns / 10, and the router sees turn 1.
 */
export function loadMtBench(dir: string): Dataset {
  const base = join(dir, 'routellm', 'mt_bench');
  const skip = contaminated(join(base, 'contaminated_prompts.jsonl'));
  const questions = new Map<number, { turns: string[]; category: string }>();
  for (const q of readJsonl(join(base, 'question.jsonl')) as {
    question_id: number;
    turns: string[];
    category: string;
  }[])
    questions.set(q.question_id, q);
  const scores = new Map<string, number[]>();
  const models = new Set<string>();
  for (const j of readJsonl(join(base, 'judgements.jsonl')) as {
    question_id: number;
    model: string;
    score: number;
  }[]) {
    if (j.score < 1) continue; // -1 marks a judge parse failure
    models.add(j.model);
    const k = `${j.question_id}|${j.model}`;
    scores.set(k, [...(scores.get(k) ?? []), j.score]);
  }
  const [strongModel = '', weakModel = ''] = [...models].sort((a, b) =>
    a.startsWith('gpt-4') ? -1 : b.startsWith('gpt-4') ? 1 : 0,
  );
  const mean = (xs: number[] | undefined) =>
    xs && xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
  const items: Outcome[] = [];
  for (const [id, q] of questions) {
    const prompt = q.turns[0] ?? '';
    if (skip.has(prompt.trim())) continue;
    const weak = mean(scores.get(`${id}|${weakModel}`)) / 10;
    const strong = mean(scores.get(`${id}|${strongModel}`)) / 10;
    if (Number.isNaN(weak) || Number.isNaN(strong)) continue;
    items.push({ prompt, weak, strong, group: q.category, part: 'heldout' });
  }
  return { name: 'mt-bench', weakModel, strongModel, items };
}

/**
 * LLMRouter: 0/1 scores for 9 open models. The pair is the cheapest model (by llm_prices.json) against the
 * model with the best mean score, so a router buys quality only where the big model actually helps.
 */
export function loadLlmRouter(dir: string): Dataset {
  const base = join(dir, 'llmrouter');
  const rows = JSON.parse(readFileSync(join(base, 'train.json'), 'utf8')) as {
    question: string;
    scores: Record<string, number>;
    cluster_id?: number;
  }[];
  const prices = JSON.parse(readFileSync(join(base, 'llm_prices.json'), 'utf8')) as Record<
    string,
    { input_price: number; output_price: number }
  >;
  const models = Object.keys(rows[0]?.scores ?? {}).filter((m) => prices[m]);
  const cost = (m: string) => prices[m]!.input_price + prices[m]!.output_price;
  const acc = (m: string) => rows.reduce((s, r) => s + (r.scores[m] ?? 0), 0) / rows.length;
  const weakModel = [...models].sort(
    (a, b) => cost(a) - cost(b) || acc(b) - acc(a) || a.localeCompare(b),
  )[0]!;
  const strongModel = [...models].sort((a, b) => acc(b) - acc(a) || a.localeCompare(b))[0]!;
  const items = rows.map((r) => ({
    prompt: r.question,
    weak: r.scores[weakModel] ?? 0,
    strong: r.scores[strongModel] ?? 0,
    part: partOf('llmrouter', r.question),
    group: `cluster-${r.cluster_id ?? 0}`,
    scores: r.scores,
  }));
  return { name: 'llmrouter', weakModel, strongModel, items };
}

/** RouterBench files (RouterDC's re-split) and the source name each becomes. */
export const ROUTERBENCH = [
  ['rb-arc', 'arc_challenge_train.csv'],
  ['rb-mbpp', 'mbpp_train.csv'],
  ['rb-winogrande', 'winograde_train.csv'],
] as const;
export const ROUTERBENCH_WEAK = 'mistralai/mixtral-8x7b-chat';
export const ROUTERBENCH_STRONG = 'gpt-4-1106-preview';

/**
 * One RouterBench file: 0/1 correctness of 11 models per prompt. The pair is Mixtral-8x7B -> GPT-4 (the pair
 * RouteLLM uses too); all models' scores are kept for label augmentation. Prompts are decoded from their Python
 * list repr (canonicalPrompt). Rows with an empty cell for the pair are skipped.
 */
export function loadRouterBench(dir: string, name: string, file: string): Dataset {
  const [header, ...rows] = parseCsv(readFileSync(join(dir, 'routerbench', file), 'utf8'));
  const h = header ?? [];
  const models = h.slice(3).filter((c) => !c.includes('|') && c !== 'oracle_model_to_route_to');
  const col = new Map(h.map((c, i) => [c, i]));
  const items: Outcome[] = [];
  for (const r of rows) {
    const raw = r[1];
    if (!raw) continue;
    const scores: Record<string, number> = {};
    for (const m of models) {
      const v = r[col.get(m)!]?.trim();
      if (v !== undefined && v !== '' && Number.isFinite(Number(v))) scores[m] = Number(v);
    }
    const weak = scores[ROUTERBENCH_WEAK];
    const strong = scores[ROUTERBENCH_STRONG];
    if (weak === undefined || strong === undefined) continue;
    // Kept as stored (a Python list literal): the learned model decodes it itself (canonicalPrompt).
    items.push({ prompt: raw, weak, strong, part: partOf(name, canonicalPrompt(raw)), group: name, scores });
  }
  return { name, weakModel: ROUTERBENCH_WEAK, strongModel: ROUTERBENCH_STRONG, items };
}

export function hasRouterBench(dir: string): boolean {
  return ROUTERBENCH.every(([, f]) => existsSync(join(dir, 'routerbench', f)));
}

export function loadAll(dir: string): Dataset[] {
  const out = [loadMmlu(dir), loadGsm8k(dir), loadMtBench(dir), loadLlmRouter(dir)];
  if (hasRouterBench(dir)) for (const [name, file] of ROUTERBENCH) out.push(loadRouterBench(dir, name, file));
  return out;
}

/**
 * Training label: 1 when the cheap model fails and the strong one succeeds, the only case where paying for
 * the strong model buys anything. Both-right and both-wrong are 0: the strong call would be wasted money.
 * Graded qualities (MT-Bench) count the strong model's margin instead.
 */
export function needsStrong(o: Pick<Outcome, 'weak' | 'strong'>): number {
  return Math.max(0, Math.min(1, o.strong - o.weak));
}
