import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defaultDataDir, hasData, loadAll } from './datasets.js';
import { EMB_DIM } from './embedding.js';
import { evalSets } from './evaluate.js';
import { summarize } from './metrics.js';
import { classifierFromText, loadLearnedClassifier, loadModelFile, ModelFileError } from './model.js';
import shipped from './weights.json' with { type: 'json' };
import { MAX_MODEL_BYTES } from './weights-file.js';

const here = dirname(fileURLToPath(import.meta.url));
const dataDir = defaultDataDir(join(here, '..', '..', '..'));
const withData = hasData(dataDir);
if (!withData) console.warn(`skipping held-out checks: no routing data at ${dataDir}`);

describe('shipped learned model', { timeout: 120_000 }, () => {
  it('is small, loads once and scores deterministically, even huge or empty prompts', () => {
    expect(statSync(join(here, 'weights.json')).size).toBeLessThan(1_000_000);
    const c = loadLearnedClassifier();
    expect(loadLearnedClassifier()).toBe(c);
    for (const t of ['', 'hi', 'Prove that there are infinitely many primes.', 'x'.repeat(50_000)]) {
      const s = c.score(t);
      expect(Number.isFinite(s)).toBe(true);
      expect(c.score(t)).toBe(s);
    }
    expect(c.heads).toContain('fallback');
  });

  it('recognises the benchmark formats it has heads for, and sends chat-like prompts elsewhere', () => {
    const c = loadLearnedClassifier();
    expect(c.headOf('Which planet is largest?\nA. Mars\nB. Jupiter\nC. Venus\nD. Mercury\nAnswer:')).toBe(
      'mmlu',
    );
    expect(c.headOf("['Write a function to find the maximum of three numbers.']")).toBe('rb-mbpp');
    expect(c.headOf('thank you so much!')).toBe('fallback');
  });

  it('turns a premium share into a threshold on its calibration set', () => {
    const c = loadLearnedClassifier();
    const t30 = c.thresholdForShare(0.3);
    expect(c.thresholdForShare(0.1)).toBeGreaterThan(t30);
    expect(c.shareAbove(t30)).toBeCloseTo(0.3, 2);
  });

  it.skipIf(!withData)('beats random and prompt length on held-out prompts it was never trained on', () => {
    const c = loadLearnedClassifier();
    const sets = new Map(evalSets(loadAll(dataDir)).map((s) => [s.name, s.items]));
    const apgr = (name: string, score: (p: string) => number) => {
      const items = sets.get(name)!;
      return summarize(
        items.map((o) => score(o.prompt)),
        items,
      ).apgr;
    };
    // Measured (docs/classifier.md): 0.574 / 0.721 / 0.595; length 0.558 / 0.557 / 0.427; random 0.5.
    for (const [name, min] of [
      ['mmlu (unseen subjects)', 0.56],
      ['llmrouter', 0.7],
      ['routerbench pooled', 0.57],
    ] as const) {
      const learned = apgr(name, (p) => c.score(p));
      expect(learned).toBeGreaterThan(min);
      expect(learned).toBeGreaterThan(apgr(name, (p) => p.length));
    }
  });

  it.skipIf(!withData)(
    'puts prompts unlike every source mid-scale among the chat-like (LLMRouter-head) prompts, not above them',
    () => {
      const c = loadLearnedClassifier();
      const llm = evalSets(loadAll(dataDir)).find((s) => s.name === 'llmrouter')!;
      const scores = llm.items
        .filter((o) => c.headOf(o.prompt) === 'llmrouter')
        .map((o) => c.score(o.prompt))
        .sort((a, b) => a - b);
      // Chat requests of the recogniser's `other` class (greetings, FAQ, ...): none is recognised as a source.
      const chat = readFileSync(join(here, '..', '..', '..', 'examples', 'traffic.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { messages: { content: string }[] }).messages.at(-1)!.content)
        .filter((t) => c.headOf(t) === 'fallback');
      expect(chat.length).toBeGreaterThan(100);
      const fb = chat.map((t) => c.score(t)).sort((a, b) => a - b);
      const median = fb[fb.length >> 1]!;
      const percentile = scores.filter((x) => x < median).length / scores.length;
      // Round 2 centred them on the mean source gain (the RouterBench and MMLU pairs gain more than LLMRouter's),
      // at the 70th percentile of LLMRouter-head prompts and above most everyday chat questions.
      expect(Math.abs(percentile - 0.5)).toBeLessThan(0.1);
    },
  );

  it.skipIf(!withData)('the data dir really is the shared one', () => {
    expect(existsSync(join(dataDir, 'routerbench', 'mbpp_train.csv'))).toBe(true);
  });
});

describe('loading a trained model file (modelRef)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tm-model-'));
  const write = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  it('loads a valid file and scores like the shipped model', () => {
    const c = loadModelFile(write('ok.json', JSON.stringify(shipped)));
    const prompt = 'How do I reverse a linked list in C?';
    expect(c.score(prompt)).toBe(loadLearnedClassifier().score(prompt));
  });

  it('refuses missing, corrupt, truncated, oversized and mismatched files with a clear message', () => {
    const refuse = (f: () => unknown, re: RegExp) => {
      expect(f).toThrow(ModelFileError);
      expect(f).toThrow(re);
    };
    refuse(() => loadModelFile(join(dir, 'missing.json')), /cannot be read/);
    refuse(() => loadModelFile(write('corrupt.json', '{"format": "tiermesh-le')), /not valid JSON/);
    const text = JSON.stringify(shipped);
    refuse(() => loadModelFile(write('cut.json', text.slice(0, text.length / 2))), /not valid JSON/);
    refuse(() => classifierFromText(' '.repeat(MAX_MODEL_BYTES + 1)), /larger than/);
    refuse(
      () => loadModelFile(write('v1.json', JSON.stringify({ ...shipped, format: 'tiermesh-learned-v1' }))),
      /model file .*v1\.json: model format "tiermesh-learned-v1" is not supported/,
    );
    const heads = (shipped as { heads: { hashed?: { q: string } }[] }).heads.map((h) =>
      h.hashed ? { ...h, hashed: { ...h.hashed, q: h.hashed.q.slice(0, 400) } } : h,
    );
    refuse(
      () => loadModelFile(write('short.json', JSON.stringify({ ...shipped, heads }))),
      /entries, expected 65536/,
    );
    // A head that reads the static embedding (a `tiermesh train` model may have one) must carry EMB_DIM weights.
    const embHeads = (n: number) =>
      (shipped as { heads: { name: string }[] }).heads.map((h) =>
        h.name === 'mmlu'
          ? { ...h, embedding: Array.from({ length: n }, (_, i) => (i % 2 ? 0.5 : -0.5)) }
          : h,
      );
    refuse(
      () => loadModelFile(write('emb.json', JSON.stringify({ ...shipped, heads: embHeads(3) }))),
      /head "mmlu": wrong number of embedding weights/,
    );
    const exam = 'Which vitamin is fat-soluble?\nA. C\nB. B1\nC. K\nD. B6\nAnswer:';
    const withEmb = loadModelFile(
      write('emb-ok.json', JSON.stringify({ ...shipped, heads: embHeads(EMB_DIM) })),
    );
    expect(withEmb.headOf(exam)).toBe('mmlu');
    expect(withEmb.score(exam)).not.toBe(loadLearnedClassifier().score(exam));
  });
});
