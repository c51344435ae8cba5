/**
 * Latency of the learned classifier on a 2,000-character prompt: p50/p99 of single calls, in microseconds,
 * next to a baseline in the same run (lower-casing the same prompt) so machines of different speed compare.
 *
 *   tsx bench/learned-classifier.ts [--iterations 20000]
 */
import { parseArgs } from 'node:util';
import { loadLearnedClassifier } from '../src/routing/learned/model.js';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '20000' } } });
const iterations = Number(values.iterations);

// A realistic mixed prompt: prose, a code block and some numbers, cut to exactly 2,000 characters.
const unit =
  'Please review the following function and explain why it returns the wrong total when the input list ' +
  'contains negative numbers. ```ts\nfunction total(xs: number[]) { let s = 0; for (const x of xs) if (x > 0) s += x; return s; }\n``` ' +
  'Also estimate the complexity, e.g. O(n) for n = 10^6 items, and suggest a fix. ';
const prompts = Array.from({ length: 64 }, (_, i) => `${i} ${unit.repeat(12)}`.slice(0, 2000));

function percentiles(samples: Float64Array): { p50: number; p99: number } {
  const s = Float64Array.from(samples).sort();
  return { p50: s[Math.floor(s.length * 0.5)]!, p99: s[Math.floor(s.length * 0.99)]! };
}

function measure(fn: (text: string) => unknown): { p50: number; p99: number } {
  for (let i = 0; i < 2000; i++) fn(prompts[i % prompts.length]!);
  const samples = new Float64Array(iterations);
  for (let i = 0; i < iterations; i++) {
    const text = prompts[i % prompts.length]!;
    const t = process.hrtime.bigint();
    fn(text);
    samples[i] = Number(process.hrtime.bigint() - t) / 1000;
  }
  return percentiles(samples);
}

const clf = loadLearnedClassifier();
const baseline = measure((t) => t.toLowerCase().length);
const scored = measure((t) => clf.score(t));
const f = (x: number) => x.toFixed(1).padStart(7);
process.stdout.write(
  `learned classifier, 2,000-char prompt, ${iterations} calls\n` +
    `                      p50 µs   p99 µs\n` +
    `baseline toLowerCase ${f(baseline.p50)}  ${f(baseline.p99)}\n` +
    `classifier.score     ${f(scored.p50)}  ${f(scored.p99)}\n` +
    `ratio (p50)          ${(scored.p50 / baseline.p50).toFixed(1)}x\n` +
    `budget: p99 < 100 µs: ${scored.p99 < 100 ? 'met' : 'NOT met'}\n`,
);
