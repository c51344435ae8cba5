/**
 * Latency of the rule classifier and of the whole routing decision on a 2,000-character prompt: p50/p99 per call
 * in microseconds, wall clock and on-CPU time, next to a same-run baseline (JSON.parse of the request body,
 * which the sidecar pays on every request anyway). Ratios to the baseline are what compare across machines.
 *
 *   tsx bench/classify.ts [--iterations 20000]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { ChatCompletionRequest } from '../src/api/openai.js';
import { compileManifests, parseManifests } from '../src/config/manifests.js';
import { decide } from '../src/routing/decide.js';
import { extractFeatures, promptText } from '../src/routing/features.js';
import { applyRules, compiledClassifier, structuralScore } from '../src/routing/rules.js';
import { measureMicro } from './lib/micro.js';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '20000' } } });
const iterations = Number(values.iterations);
if (!Number.isInteger(iterations) || iterations < 100)
  throw new Error('--iterations must be an integer >= 100');

// The example config plus three route rules (a regex and two keyword lists), so rule matching is measured too.
const yaml = readFileSync(new URL('../examples/standalone.yaml', import.meta.url), 'utf8').replace(
  '    confidenceBand: 0.1\n',
  `    confidenceBand: 0.1
    rules:
      - { name: legal, pattern: "\\\\b(contract|liabilit(y|ies)|indemnif\\\\w*)\\\\b", tier: premium }
      - { name: invoices, keywords: [invoice, purchase order, receipt, billing address], tier: cheap, weight: 2 }
      - { name: sql, keywords: [SELECT, JOIN, GROUP BY, index scan], tier: standard }
`,
);
const snapshot = compileManifests(parseManifests(yaml, 'bench'));
const spec = snapshot.routes[0]!.spec;
if (compiledClassifier(spec).rules.length !== 3) throw new Error('bench rules did not compile');

// Mixed prose, code and numbers cut to exactly 2,000 characters; 64 variants so caches see different text.
const unit =
  'Please review the following function and explain why it returns the wrong total when the input list ' +
  'contains negative numbers. ```ts\nfunction total(xs: number[]) { let s = 0; for (const x of xs) if (x > 0) s += x; return s; }\n``` ' +
  'Also estimate the complexity, e.g. O(n) for n = 10^6 items, and suggest a fix. ';
const bodies = Array.from({ length: 64 }, (_, i) =>
  JSON.stringify({
    model: 'auto',
    messages: [
      { role: 'system', content: 'You are a careful senior engineer.' },
      { role: 'user', content: `${i} ${unit.repeat(12)}`.slice(0, 2000) },
    ],
  }),
);
const requests: ChatCompletionRequest[] = bodies.map((b) => JSON.parse(b));

const measure = (fn: (i: number) => number) => measureMicro(fn, iterations, requests.length);

const compiled = compiledClassifier(spec);
const results = {
  'baseline: JSON.parse(body)': measure(
    (i) => (JSON.parse(bodies[i]!) as { messages: unknown[] }).messages.length,
  ),
  'rule classifier': measure((i) => {
    const req = requests[i]!;
    const text = promptText(req);
    return applyRules(compiled, text, structuralScore(extractFeatures(req, text))).score;
  }),
  'decide() (tokens + classify + tier + fit)': measure(
    (i) => decide({ snapshot, request: requests[i]!, random: 0.5 }).models.length,
  ),
};

const base = results['baseline: JSON.parse(body)'];
const rows = Object.entries(results).map(([name, r]) => ({
  name,
  'wall p50 µs': r.wall.p50.toFixed(1),
  'wall p99 µs': r.wall.p99.toFixed(1),
  'cpu p50 µs': r.cpu.p50.toFixed(0),
  'cpu p99 µs': r.cpu.p99.toFixed(0),
  'p50 / baseline': (r.wall.p50 / base.wall.p50).toFixed(2),
  'p99 / baseline': (r.wall.p99 / base.wall.p99).toFixed(2),
}));
console.log(`2,000-character prompt, ${iterations} iterations, node ${process.version}`);
console.table(rows);
