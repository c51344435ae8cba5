/**
 * Latency of the learned classifier on a 2,000-character prompt: p50/p99 per call in microseconds, both wall
 * clock and on-CPU time (getrusage), next to a same-run baseline (one charCodeAt pass over the same prompt).
 * On a loaded machine wall-clock p99 measures the scheduler; on-CPU p99 measures the code.
 *
 *   tsx bench/learned-classifier.ts [--iterations 20000]
 */
import { parseArgs } from 'node:util';
import { loadLearnedClassifier } from '../src/routing/learned/model.js';

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

interface Stats {
  p50: number;
  p99: number;
}

function pct(samples: Float64Array): Stats {
  const s = Float64Array.from(samples).sort();
  return { p50: s[Math.floor(s.length * 0.5)]!, p99: s[Math.floor(s.length * 0.99)]! };
}

let sink = 0;

function measure(fn: (text: string) => number): { wall: Stats; cpu: Stats } {
  for (let i = 0; i < 2000; i++) sink += fn(prompts[i % prompts.length]!);
  const wall = new Float64Array(iterations);
  const cpu = new Float64Array(iterations);
  for (let i = 0; i < iterations; i++) {
    const text = prompts[i % prompts.length]!;
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    sink += fn(text);
    const t1 = process.hrtime.bigint();
    const c1 = process.cpuUsage(c0);
    wall[i] = Number(t1 - t0) / 1000;
    cpu[i] = c1.user + c1.system;
  }
  return { wall: pct(wall), cpu: pct(cpu) };
}

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
    `${sink === -1 ? '' : ''}\n`,
);
