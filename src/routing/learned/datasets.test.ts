import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  defaultDataDir,
  hasData,
  loadGsm8k,
  loadLlmRouter,
  loadMmlu,
  loadMtBench,
  needsStrong,
} from './datasets.js';

const dataDir = defaultDataDir(join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..'));
const withData = hasData(dataDir);
if (!withData) console.warn(`skipping dataset checks: no routing data at ${dataDir}`);

describe('needsStrong (training label)', () => {
  it('is 1 only when the weak model fails and the strong one succeeds', () => {
    expect(needsStrong({ weak: 0, strong: 1 })).toBe(1);
    expect(needsStrong({ weak: 1, strong: 1 })).toBe(0);
    expect(needsStrong({ weak: 0, strong: 0 })).toBe(0);
    expect(needsStrong({ weak: 1, strong: 0 })).toBe(0);
    expect(needsStrong({ weak: 0.6, strong: 0.9 })).toBeCloseTo(0.3, 9);
  });
});

describe.skipIf(!withData)('offline routing data', { timeout: 60_000 }, () => {
  it('MMLU: every subject lands wholly in or out of the held-out groups', () => {
    const d = loadMmlu(dataDir);
    expect(d.items.length).toBeGreaterThan(5000);
    const bySubject = new Map<string, Set<boolean>>();
    for (const o of d.items) {
      const s = bySubject.get(o.group!) ?? new Set<boolean>();
      s.add(o.part === 'heldout-group');
      bySubject.set(o.group!, s);
    }
    for (const flags of bySubject.values()) expect(flags.size).toBe(1);
    const heldSubjects = [...bySubject.values()].filter((f) => f.has(true)).length;
    expect(heldSubjects).toBeGreaterThan(3);
    expect(heldSubjects).toBeLessThan(bySubject.size - 10);
  });

  it('GSM8K and MT-Bench exclude the contaminated prompts', async () => {
    const { readFileSync } = await import('node:fs');
    const bad = readFileSync(join(dataDir, 'routellm', 'gsm8k', 'contaminated_prompts.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { eval_prompt: string }).eval_prompt.trim());
    const g = loadGsm8k(dataDir);
    expect(g.items.length).toBeGreaterThan(1000);
    const prompts = new Set(g.items.map((o) => o.prompt.trim()));
    for (const p of bad) expect(prompts.has(p)).toBe(false);
    const mt = loadMtBench(dataDir);
    expect(mt.items.length).toBeGreaterThan(60);
    expect(mt.items.length).toBeLessThan(80);
    expect(mt.strongModel).toMatch(/gpt-4/);
    for (const o of mt.items)
      expect(o.weak >= 0.1 && o.weak <= 1 && o.strong >= 0.1 && o.strong <= 1).toBe(true);
  });

  it('LLMRouter: the cheapest model against the most accurate one', () => {
    const d = loadLlmRouter(dataDir);
    expect(d.items).toHaveLength(5608);
    expect(d.weakModel).not.toBe(d.strongModel);
    const q = (k: 'weak' | 'strong') => d.items.reduce((s, o) => s + o[k], 0) / d.items.length;
    expect(q('strong')).toBeGreaterThan(q('weak'));
  });
});
