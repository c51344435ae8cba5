import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTiermesh as run } from '../../test/helpers/cli.js';

/** A miniature data dir in the exact formats of ../shared/data, so the loaders and CLI run without it. */
function miniData(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tm-eval-'));
  const mk = (p: string) => mkdirSync(join(dir, p), { recursive: true });
  mk('routellm/mmlu');
  mk('routellm/gsm8k');
  mk('routellm/mt_bench');
  mk('llmrouter');
  const header = 'prompt,mistralai/Mixtral-8x7B-Instruct-v0.1,gpt-4-1106-preview\n';
  for (let s = 0; s < 12; s++) {
    const rows = Array.from(
      { length: 20 },
      (_, i) =>
        `"Question ${s}-${i}, with a comma?\nA. yes\nB. no\nAnswer:",${i % 3 === 0 ? 'False' : 'True'},True`,
    );
    writeFileSync(join(dir, `routellm/mmlu/mmlu_subject_${s}.csv`), header + rows.join('\n') + '\n');
  }
  const gsm = Array.from(
    { length: 60 },
    (_, i) => `Tom has ${i} apples. How many?,${i % 2 ? 'True' : 'False'},True,a,b`,
  );
  writeFileSync(
    join(dir, 'routellm/gsm8k/gsm8k_responses.csv'),
    `${header.trim()},r1,r2\n${gsm.join('\n')}\n`,
  );
  writeFileSync(
    join(dir, 'routellm/gsm8k/contaminated_prompts.jsonl'),
    `${JSON.stringify({ train_prompt: 'x', eval_prompt: 'Tom has 3 apples. How many?' })}\n`,
  );
  const qs = Array.from({ length: 10 }, (_, i) => ({
    question_id: i,
    category: 'writing',
    turns: [`Write poem ${i}`, 'again'],
  }));
  writeFileSync(join(dir, 'routellm/mt_bench/question.jsonl'), qs.map((q) => JSON.stringify(q)).join('\n'));
  const judge = qs.flatMap((q) =>
    ['gpt-4-1106-preview', 'mistralai/Mixtral-8x7B-Instruct-v0.1'].flatMap((model) =>
      [1, 2].map((turn) =>
        JSON.stringify({
          question_id: q.question_id,
          model,
          turn,
          score: model.startsWith('gpt') ? 9 : 5 + (q.question_id % 5),
        }),
      ),
    ),
  );
  writeFileSync(join(dir, 'routellm/mt_bench/judgements.jsonl'), judge.join('\n'));
  const llm = Array.from({ length: 80 }, (_, i) => ({
    question: `Q: item ${i}`,
    scores: { small: i % 2, large: 1 },
    cluster_id: 0,
  }));
  writeFileSync(join(dir, 'llmrouter/train.json'), JSON.stringify(llm));
  writeFileSync(
    join(dir, 'llmrouter/llm_prices.json'),
    JSON.stringify({
      small: { input_price: 0.1, output_price: 0.1 },
      large: { input_price: 0.9, output_price: 0.9 },
    }),
  );
  return dir;
}

describe('tiermesh eval (real process)', { timeout: 60_000 }, () => {
  it('prints every eval set with the random, length, rules and learned routers', async () => {
    const r = await run(['eval', '--data', miniData(), '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as {
      set: string;
      router: string;
      n: number;
      report: { apgr: number };
    }[];
    const sets = new Set(rows.map((x) => x.set));
    expect(sets).toEqual(
      new Set(['mmlu (unseen subjects)', 'mmlu (seen subjects)', 'gsm8k', 'mt-bench', 'llmrouter']),
    );
    for (const s of sets)
      expect(rows.filter((x) => x.set === s).map((x) => x.router)).toEqual([
        'random',
        'length',
        'rules',
        'learned',
      ]);
    for (const x of rows.filter((x) => x.router === 'random')) expect(x.report.apgr).toBeCloseTo(0.5, 9);
    const mt = rows.find((x) => x.set === 'mt-bench');
    expect(mt?.n).toBe(10);
  });

  it('prints a markdown table, and explains a missing data dir', async () => {
    const r = await run(['eval', '--data', miniData()]);
    expect(r.stdout.split('\n')[0]).toMatch(/^\| eval set \| n \|/);
    const missing = await run(['eval', '--data', join(tmpdir(), 'no-such-data-dir')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no routing data/);
  });
});
