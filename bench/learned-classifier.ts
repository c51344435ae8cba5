/**
 * Latency of the learned routing decision on a 2,000-character prompt, as ratios to a same-run baseline: parsing
 * the request body with JSON.parse (work every request does anyway). Three measured calls: the model's score, the
 * scorer decide() uses (score + per-route online percentile), and the whole decide() of a learned-mode route.
 * p50/p99 per call, wall clock and on-CPU (getrusage); model memory from the weight tables and the heap.
 *
 *   tsx bench/learned-classifier.ts [--iterations 20000]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ChatCompletionRequest } from '../src/api/openai.js';
import { compileManifests, parseManifests } from '../src/config/manifests.js';
import { decide } from '../src/routing/decide.js';
import { loadLearnedClassifier } from '../src/routing/learned/model.js';
import { learnedScorer, withLearnedThresholds } from '../src/routing/learned/wire.js';
import { measureMicro } from './lib/micro.js';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '20000' } } });
const iterations = Number(values.iterations);

// A realistic mixed prompt: prose, a code block and some numbers, cut to exactly 2,000 characters.
const unit =
  'Please review the following function and explain why it returns the wrong total when the input list ' +
  'contains negative numbers. ```ts\nfunction total(xs: number[]) { let s = 0; for (const x of xs) if (x > 0) s += x; return s; }\n``` ' +
  'Also estimate the complexity, e.g. O(n) for n = 10^6 items, and suggest a fix. ';
const bodies = Array.from({ length: 64 }, (_, i) =>
  JSON.stringify({
    model: 'auto',
    messages: [
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: `${i} ${unit.repeat(12)}`.slice(0, 2000) },
    ],
  }),
);
const requests = bodies.map((b) => JSON.parse(b) as ChatCompletionRequest);
const prompts = requests.map((r) => r.messages[1]!.content as string);

const heapBefore = process.memoryUsage();
const clf = loadLearnedClassifier();
const heapAfter = process.memoryUsage();
const scorer = learnedScorer(clf);
const root = join(import.meta.dirname, '..');
const yaml = readFileSync(join(root, 'examples', 'standalone.yaml'), 'utf8').replace(
  / {2}classifier:\n {4}mode: \w+\n/,
  '  classifier:\n    mode: learned\n    premiumShare: 0.3\n',
);
const snapshot = withLearnedThresholds(compileManifests(parseManifests(yaml)), clf);

const parse = measureMicro(
  (i) => (JSON.parse(bodies[i]!) as { messages: unknown[] }).messages.length,
  iterations,
  64,
);
const score = measureMicro((i) => clf.score(prompts[i]!), iterations, 64);
const scored = measureMicro((i) => scorer(prompts[i]!, 'bench'), iterations, 64);
const decided = measureMicro(
  (i) => decide({ snapshot, request: requests[i]!, learned: scorer }).tierIndex,
  iterations,
  64,
);
const f = (x: number) => x.toFixed(1).padStart(8);
const r = (x: number, b: number) => `${(x / b).toFixed(1)}x`.padStart(7);
const row = (name: string, m: typeof parse) =>
  `${name.padEnd(30)}${f(m.wall.p50)}  ${f(m.wall.p99)}  ${f(m.cpu.p50)}  ${f(m.cpu.p99)}   ${r(m.wall.p50, parse.wall.p50)} ${r(m.cpu.p99, parse.cpu.p99)}\n`;
const mb = (b: number) => `${(b / 1024 / 1024).toFixed(2)} MB`;
process.stdout.write(
  `learned routing, 2,000-char prompt, ${iterations} calls (µs; ratios vs JSON.parse of the ${bodies[0]!.length}-byte body)\n` +
    `${''.padEnd(30)}wall p50  wall p99   cpu p50   cpu p99   p50 ratio  cpu p99 ratio\n` +
    row('baseline: JSON.parse(body)', parse) +
    row('model score', score) +
    row('scorer (score + percentile)', scored) +
    row('decide(), learned route', decided) +
    `whole decision p99 < 100 µs: wall ${decided.wall.p99 < 100 ? 'met' : 'NOT met'}, on-CPU ${decided.cpu.p99 < 100 ? 'met' : 'NOT met'}\n` +
    `model memory: weight tables ${mb(clf.tableBytes)}; heap + array buffers after load +${mb(heapAfter.heapUsed + heapAfter.arrayBuffers - heapBefore.heapUsed - heapBefore.arrayBuffers)}\n`,
);
