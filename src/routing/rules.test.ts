import { describe, expect, it } from 'vitest';
import type { ChatCompletionRequest } from '../api/openai.js';
import { compileManifests, parseManifests } from '../config/manifests.js';
import { extractFeatures, promptText } from './features.js';
import { classifyRules, compileClassifier, compiledClassifier, structuralScore } from './rules.js';

function spec(rules: string) {
  const yaml = `
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default }
spec:
  providers: [{ name: sim, type: simulated }]
  models:
    - { name: small, targets: [{ provider: sim }], pricing: { inputPerMTok: 0.1, outputPerMTok: 0.4 }, contextWindow: 8000 }
    - { name: large, targets: [{ provider: sim }], pricing: { inputPerMTok: 3, outputPerMTok: 15 }, contextWindow: 200000 }
  tiers:
    - { name: cheap, models: [small] }
    - { name: mid, models: [small] }
    - { name: premium, models: [large] }
  classifier:
    rules:
${rules}
`;
  return compileManifests(parseManifests(yaml)).routes[0]!.spec;
}

const req = (content: string): ChatCompletionRequest => ({
  model: 'auto',
  messages: [{ role: 'user', content }],
});
const classify = (s: ReturnType<typeof spec>, content: string) => {
  const r = req(content);
  const text = promptText(r);
  return classifyRules(compiledClassifier(s), extractFeatures(r, text), text);
};

const plain = spec('      []');

describe('structural classification', () => {
  it('sends greetings and extraction to the cheapest tier', () => {
    for (const p of [
      'hello!',
      'Thanks, that helped',
      'Extract the email address from: contact bob@example.com',
    ]) {
      const c = classify(plain, p);
      expect(c.tierIndex, p).toBe(0);
    }
    expect(classify(plain, 'hello!').signals).toContain('greeting');
  });

  it('sends proofs, code reviews and design questions up', () => {
    const proof = classify(
      plain,
      'Prove step by step that the square root of 2 is irrational, and analyze the proof.',
    );
    expect(proof.tierIndex).toBe(2);
    expect(proof.signals).toContain('reasoning');
    const code = classify(plain, 'Debug this:\n```python\ndef f(x):\n    return x +\n```\nwhy does it fail?');
    expect(code.tierIndex).toBeGreaterThanOrEqual(1);
    expect(code.signals).toEqual(expect.arrayContaining(['code-block', 'reasoning']));
    const math = classify(
      plain,
      'Evaluate \\int_0^1 x^2 dx and derive the general formula \\sum_{k} \\frac{1}{k^2}',
    );
    expect(math.tierIndex).toBe(2);
  });

  it('a greeting does not drag a hard request down to the cheapest tier', () => {
    const c = classify(plain, 'Ok, now design the database schema and analyze the trade-offs');
    expect(c.signals).toEqual(expect.arrayContaining(['greeting', 'reasoning']));
    expect(c.tierIndex).toBeGreaterThanOrEqual(1);
  });

  it('lowers confidence when easy and hard signals conflict', () => {
    const clean = structuralScore(extractFeatures(req('Prove that 17 is prime, step by step')));
    const mixed = structuralScore(extractFeatures(req('Hi! prove this theorem step by step')));
    expect(mixed.confidence).toBeLessThan(clean.confidence);
  });

  it('returns signal names, never prompt text', () => {
    const c = classify(plain, 'Hello, my password is hunter2');
    expect(JSON.stringify(c)).not.toContain('hunter2');
  });
});

describe('route rules', () => {
  const withRules = spec(`
      - { name: invoices, keywords: [invoice, "purchase order"], tier: cheap, weight: 3 }
      - { name: legal, pattern: "\\\\b(contract|liabilit(y|ies))\\\\b", tier: premium }
      - { name: ignored, keywords: [zzz], tier: premium, weight: 0 }`);

  it('keyword rules vote for their tier, case-insensitively, on whole words', () => {
    const c = classify(
      withRules,
      'Analyze and compare this INVOICE against the purchase order, step by step',
    );
    expect(c.signals).toContain('rule:invoices');
    expect(c.tierIndex).toBe(0);
    // "invoiced" is not the keyword "invoice".
    expect(classify(withRules, 'they invoiced us twice').signals).not.toContain('rule:invoices');
  });

  it('regex rules vote for their tier', () => {
    const c = classify(withRules, 'what does this contract say?');
    expect(c.signals).toContain('rule:legal');
    expect(c.tierIndex).toBe(2);
    expect(c.confidence).toBeGreaterThanOrEqual(0.8);
  });

  it('weight-0 rules are ignored', () => {
    expect(classify(withRules, 'zzz').signals).not.toContain('rule:ignored');
  });

  it('compiles rules once per spec object', () => {
    expect(compiledClassifier(withRules)).toBe(compiledClassifier(withRules));
    const again = compileClassifier(withRules);
    expect(again).not.toBe(compiledClassifier(withRules));
    expect(again.rules.map((r) => r.name)).toEqual(['invoices', 'legal', 'ignored']);
    expect(again.rules[1]!.pattern).toBeInstanceOf(RegExp);
  });

  it('skips an invalid pattern in a stale spec instead of throwing', () => {
    const s = structuredClone(plain);
    s.classifier.rules = [{ name: 'bad', pattern: '(', tier: 'cheap', weight: 1 }];
    expect(compileClassifier(s).rules).toEqual([]);
  });

  it('never runs a pattern that can backtrack exponentially, even from a stale spec the schema did not screen', () => {
    const s = structuredClone(plain);
    s.classifier.rules = [
      { name: 'nested', pattern: '(a+)+b', tier: 'cheap', weight: 1 },
      { name: 'fine', pattern: 'invoice', tier: 'cheap', weight: 1 },
    ];
    expect(compileClassifier(s).rules.map((r) => r.name)).toEqual(['fine']);
  });
});
