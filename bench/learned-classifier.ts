/**
 * Latency of the learned classifier on a 2,000-character prompt: p50/p99 per call in microseconds, both wall
 * clock and on-CPU time (getrusage), next to a same-run baseline (one charCodeAt pass over the same prompt).
 * On a loaded machine wall-clock p99 measures the scheduler; on-CPU p99 measures the code.
 *
 *   tsx bench/learned-classifier.ts [--iterations 20000]
 */
import { parseArgs } from 'node:util';
import { loadLearnedClassifier } from '../src/routing/learned/model.js';
import { measureMicro } from './lib/micro.js';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '20000' } } });
const iterations = Number(values.iterations);

// A realistic mixed prompt: prose, a code block and some numbers, cut to exactly 2,000 characters. JSON
// round-trip so the strings are flat, as request bodies are.
const unit =
  'Please review the following function and explain why it returns the wrong total when the input list ' +
  'contains negative numbers. ```ts\nfunction total(xs: number[]) { let s = 0; for (const x of xs) if (x > 0) s += x; return s; }\n``` ' +
  'Also estimate the complexity, e.g. O(n) for n = 10^6 items, and suggest a fix. ';
const prompts: string[] = JSON.parse(
  JSON.stringify(Array.from({ length: 64 }, (_, i) => `${i} ${unit.repeat(12)}`.slice(0, 2000))),
);

const measure = (fn: (text: string) => number) =>
  measureMicro((i) => fn(prompts[i]!), iterations, prompts.length);

const clf = loadLearnedClassifier();
const scan = (t: string) => {
  let x = 0;
  for (let i = 0; i < t.length; i++) x += t.charCodeAt(i);
  return x;
};
const base = measure(scan);
const scored = measure((t) => clf.score(t));
const f = (x: number) => x.toFixed(1).padStart(8);
process.stdout.write(
  `learned classifier, 2,000-char prompt, ${iterations} calls (µs)\n` +
    `                      wall p50  wall p99   cpu p50   cpu p99\n` +
    `baseline char scan   ${f(base.wall.p50)}  ${f(base.wall.p99)}  ${f(base.cpu.p50)}  ${f(base.cpu.p99)}\n` +
    `classifier.score     ${f(scored.wall.p50)}  ${f(scored.wall.p99)}  ${f(scored.cpu.p50)}  ${f(scored.cpu.p99)}\n` +
    `score / scan (wall p50): ${(scored.wall.p50 / base.wall.p50).toFixed(1)}x\n` +
    `p99 < 100 µs: wall ${scored.wall.p99 < 100 ? 'met' : 'NOT met'}, on-CPU ${scored.cpu.p99 < 100 ? 'met' : 'NOT met'}` +
    '\n',
);
