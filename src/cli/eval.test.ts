import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, runTiermesh as run } from '../../test/helpers/cli.js';

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
    const rows = JSON.parse(r.stdout) as Record<string, unknown>[];
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
        'hybrid',
        'default',
      ]);
    // Flat rows, the same measures as the --outcomes rows (no nested report).
    for (const x of rows)
      for (const k of [
        'set',
        'pair',
        'router',
        'n',
        'qWeak',
        'qStrong',
        'pgr20',
        'pgr50',
        'pgr80',
        'apgr',
        'cpt50',
        'cpt80',
      ])
        expect(x).toHaveProperty(k);
    for (const x of rows) expect(x).not.toHaveProperty('report');
    for (const x of rows.filter((x) => x.router === 'random')) expect(x.apgr).toBeCloseTo(0.5, 9);
    const mt = rows.find((x) => x.set === 'mt-bench');
    expect(mt?.n).toBe(10);
    expect(mt?.pair).toBe('Mixtral-8x7B-Instruct-v0.1 -> gpt-4-1106-preview');
  });

  it('prints a markdown table, and explains a missing data dir', async () => {
    const r = await run(['eval', '--data', miniData()]);
    expect(r.stdout.split('\n')[0]).toMatch(/^\| eval set \| n \|/);
    const missing = await run(['eval', '--data', join(tmpdir(), 'no-such-data-dir')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no routing data/);
  });
});

/** Outcomes where the strong model helps exactly on long prompts: a length router is near perfect on them. */
function outcomesFile(lines?: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'tm-outcomes-'));
  const rows =
    lines ??
    Array.from({ length: 160 }, (_, i) => {
      const long = i % 2 === 0;
      return JSON.stringify({
        prompt: long ? `Explain in detail ${'why and how '.repeat(10 + (i % 7))}item ${i}` : `hi ${i}`,
        weak: long ? 0 : 1,
        strong: 1,
        group: i % 4 < 2 ? 'support' : 'billing',
      });
    });
  const p = join(dir, 'outcomes.jsonl');
  writeFileSync(p, `${rows.join('\n')}\n`);
  return p;
}

interface Row {
  router: string;
  group: string;
  n: number;
  apgr: number;
  cpt50: number;
  cpt80: number;
}

describe('tiermesh eval --outcomes / tiermesh train (real process)', { timeout: 120_000 }, () => {
  it('scores every router on the file and per group, as JSON fractions', async () => {
    const r = await run(['eval', '--outcomes', outcomesFile(), '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as Row[];
    expect(rows.filter((x) => x.group === 'all').map((x) => x.router)).toEqual([
      'random',
      'length',
      'rules',
      'learned',
      'hybrid',
      'default',
    ]);
    expect(new Set(rows.map((x) => x.group))).toEqual(new Set(['all', 'billing', 'support']));
    for (const x of rows)
      for (const k of ['apgr', 'cpt50', 'cpt80'] as const) expect(x[k]).toBeGreaterThanOrEqual(0);
    for (const x of rows)
      for (const k of ['apgr', 'cpt50', 'cpt80'] as const) expect(x[k]).toBeLessThanOrEqual(1);
    const all = (router: string) => rows.find((x) => x.group === 'all' && x.router === router)!;
    expect(all('random').apgr).toBeCloseTo(0.5, 9);
    expect(all('random').n).toBe(160);
    // Half the prompts gain 1, half 0: a perfect router reaches PGR 1 at 50% strong calls, APGR 0.75.
    expect(all('length').apgr).toBeCloseTo(0.75, 6);
    expect(all('length').cpt80).toBeLessThan(0.45);
  });

  it('a group where the strong model is no better is not measured: null in JSON, n/a in the table, and why', async () => {
    // billing: the strong model wins on the long prompts and loses on the short ones (0.5 -> 0.5 quality).
    const lines = Array.from({ length: 160 }, (_, i) => {
      const long = i % 2 === 0;
      const billing = i % 4 >= 2;
      return JSON.stringify({
        prompt: long ? `Explain in detail ${'why and how '.repeat(10 + (i % 7))}item ${i}` : `hi ${i}`,
        weak: long ? 0 : 1,
        strong: billing && !long ? 0 : 1,
        group: billing ? 'billing' : 'support',
      });
    });
    const file = outcomesFile(lines);
    const r = await run(['eval', '--outcomes', file, '--json']);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as (Row & { notMeasured?: string })[];
    for (const x of rows.filter((x) => x.group === 'billing')) {
      expect(x).toMatchObject({ n: 80, apgr: null, cpt50: null, cpt80: null, pgr50: null });
      expect(x.notMeasured).toMatch(/^no gain to recover: the strong model is not better than the weak one/);
    }
    for (const x of rows.filter((x) => x.group !== 'billing')) {
      expect(x.notMeasured).toBeUndefined();
      expect(x.apgr).toEqual(expect.any(Number));
      for (const k of ['cpt50', 'cpt80'] as const) {
        expect(x[k]).toBeGreaterThanOrEqual(0);
        expect(x[k]).toBeLessThanOrEqual(1);
      }
    }
    // Measured where the gain is: all outcomes gain 0.25 net, and length sends the 80 long prompts (+1 each) before
    // the 40 short billing ones (-1 each): PGR peaks at 2 (twice the net gain), APGR 1.248 is real, not a blow-up.
    expect(rows.find((x) => x.group === 'all' && x.router === 'length')!.apgr).toBeCloseTo(1.248, 3);
    const t = await run(['eval', '--outcomes', file]);
    expect(t.code).toBe(0);
    const billing = t.stdout.split('\n').filter((l) => l.startsWith('| billing |'));
    expect(billing).toHaveLength(6);
    for (const l of billing) expect(l).toMatch(/\| n\/a \| n\/a \| n\/a \| n\/a \| n\/a \| n\/a \|$/);
    expect(t.stdout).toMatch(
      /\n- n\/a \(group billing\): no gain to recover: .*; PGR is undefined there\.\n/,
    );
  });

  it('train: skips folds with no gain to recover and says so, warns about a model that ranks nothing, refuses outcomes with no gain', async () => {
    const out = mkdtempSync(join(tmpdir(), 'tm-train-gain-'));
    // Five groups (one per fold); in g4 the strong model is worse on average.
    const grouped = Array.from({ length: 200 }, (_, i) => {
      const long = i % 2 === 0;
      const g = Math.floor(i / 2) % 5;
      return JSON.stringify({
        prompt: long ? `Explain in detail ${'why and how '.repeat(10 + (i % 7))}item ${i}` : `hi ${i}`,
        weak: long ? 0 : 1,
        strong: g === 4 && !long ? 0 : 1,
        group: `g${g}`,
      });
    });
    const t = await run(['train', '--outcomes', outcomesFile(grouped), '--out', out]);
    expect(t.stderr).toBe('');
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(
      /\n1 of 5 folds not scored: the strong model is not better than the weak one on their held-out outcomes/,
    );
    expect(t.stdout).not.toMatch(/does not rank prompts/);
    // The strong model gains the same everywhere: nothing ranks better than a constant.
    const flat = Array.from({ length: 120 }, (_, i) =>
      JSON.stringify({ prompt: `question ${i} ${'x'.repeat(i % 13)}`, weak: 0.25, strong: 0.75 }),
    );
    const c = await run(['train', '--outcomes', outcomesFile(flat), '--out', out]);
    expect(c.code).toBe(0);
    expect(c.stdout).toMatch(/chosen: constant\n/);
    const warning = c.stdout.split('\n').filter((l) => l.includes('does not rank prompts'));
    expect(warning).toEqual([
      'warning: this model does not rank prompts: it gives every prompt the same score (no setting beat the constant model on validation), so a route using it cannot pick out the prompts that need the premium tier (no better than random routing); keep the route on its current model.',
    ]);
    expect(readFileSync(join(out, 'validation.md'), 'utf8')).toContain(warning[0]);
    const level = flat.map((l) => l.replace('"strong":0.75', '"strong":0.25'));
    const refused = await run(['train', '--outcomes', outcomesFile(level), '--out', join(out, 'none')]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /outcomes\.jsonl: no gain to recover: the strong model is not better than the weak one \(mean quality 0\.250 -> 0\.250\) on these outcomes/,
    );
  });

  it('prints a table by default', async () => {
    const r = await run(['eval', '--outcomes', outcomesFile()]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(
      /^\| group \| router \| n \|.*APGR \| CPT\(50%\) \| CPT\(80%\) \|$/,
    );
  });

  it('a bad file is a clear error naming the line, without quoting prompt text', async () => {
    const secret = 'patient record 98765';
    const good = JSON.stringify({ prompt: secret, weak: 0, strong: 1 });
    for (const [lines, re] of [
      [[good, `{"prompt": "${secret}", "weak": 0.5`], /line 2: not valid JSON/],
      [
        [good, good, JSON.stringify({ prompt: secret, weak: 7, strong: 1 })],
        /line 3: "weak" must be a number in \[0, 1\]/,
      ],
    ] as const) {
      const r = await run(['eval', '--outcomes', outcomesFile([...lines])]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(re);
      expect(r.stderr).not.toContain('98765');
    }
    const missing = await run(['eval', '--outcomes', join(tmpdir(), 'no-such-outcomes.jsonl')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read outcomes file/);
  });

  it('train writes a model that eval --model loads and that learned the signal; a corrupt model is refused', async () => {
    const out = mkdtempSync(join(tmpdir(), 'tm-train-'));
    const file = outcomesFile();
    const t = await run(['train', '--outcomes', file, '--out', out]);
    expect(t.stderr).toBe('');
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/chosen: /);
    const r = await run(['eval', '--outcomes', file, '--model', join(out, 'model.json'), '--json']);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as Row[];
    // 0.75 is perfect here (half the prompts gain 1); the shipped model does not know this traffic.
    expect(rows.find((x) => x.group === 'all' && x.router === 'learned')!.apgr).toBeGreaterThan(0.74);
    writeFileSync(join(out, 'bad.json'), '{"format": "tiermesh-learned-v2", "heads": [');
    const bad = await run(['eval', '--outcomes', file, '--model', join(out, 'bad.json')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/bad\.json is not valid JSON/);
    const few = await run([
      'train',
      '--outcomes',
      outcomesFile([JSON.stringify({ prompt: 'a', weak: 0, strong: 1 })]),
      '--out',
      out,
    ]);
    expect(few.code).toBe(1);
    expect(few.stderr).toMatch(/at least 100 are needed/);
    const usage = await run(['train', '--outcomes', file]);
    expect(usage.code).toBe(2);
  });

  it("explain uses a route's modelRef, and names the route when the model is refused", async () => {
    const out = mkdtempSync(join(tmpdir(), 'tm-train-ref-'));
    expect((await run(['train', '--outcomes', outcomesFile(), '--out', out])).code).toBe(0);
    const example = readFileSync(join(repoRoot, 'examples', 'standalone.yaml'), 'utf8');
    const config = (ref: string) => {
      const p = join(out, `route-${ref.length}.yaml`);
      writeFileSync(
        p,
        example.replace(
          / {2}classifier:\n {4}mode: \w+\n/,
          `  classifier:\n    mode: learned\n    modelRef: ${JSON.stringify(ref)}\n`,
        ),
      );
      return p;
    };
    const ok = await run(['explain', '--config', config(join(out, 'model.json')), 'hi']);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).source).toBe('learned');
    const bad = await run(['explain', '--config', config(join(out, 'missing-model.json')), 'hi']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^route \S+: modelRef ".*missing-model\.json": model file .* cannot be read/);
  });
});
