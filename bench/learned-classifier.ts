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
import { EMB_DIM, loadEmbedder } from '../src/routing/learned/embedding.js';
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
// A multiple-choice exam question (the MMLU head), also cut to 2,000 characters; and what a head that reads the
// static embedding adds to it (a `tiermesh train` model may choose one): a WordPiece pass over the first 512 characters.
const exam =
  'The following are multiple choice questions (with answers) about clinical knowledge. A 54-year-old patient ' +
  'presents with fatigue, pallor and a haemoglobin of 9.1 g/dL after six months of a strict vegan diet; which ' +
  'deficiency best explains the macrocytic picture and the mild peripheral neuropathy noted on examination?\n' +
  'A. Iron\nB. Vitamin B12\nC. Vitamin C\nD. Zinc\nAnswer: B\n\n';
const examPrompts = Array.from({ length: 64 }, (_, i) =>
  `${exam.repeat(6)}${i} Which vitamin is fat-soluble?\nA. C\nB. B1\nC. K\nD. B6\nAnswer:`.slice(-2000),
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
if (clf.headOf(examPrompts[0]!) !== 'mmlu')
  throw new Error('the exam prompt no longer reaches the MMLU head');
const examScore = measureMicro((i) => clf.score(examPrompts[i]!), iterations, 64);
const embedder = loadEmbedder();
const vec = new Float64Array(EMB_DIM);
const embedded = measureMicro(
  (i) => {
    embedder.embed(examPrompts[i]!, vec);
    return vec[0]!;
  },
  iterations,
  64,
);
const examRequests = requests.map((r, i) => ({
  ...r,
  messages: [r.messages[0]!, { role: 'user' as const, content: examPrompts[i]! }],
}));
const decided = measureMicro(
  (i) => decide({ snapshot, request: requests[i]!, learned: scorer }).tierIndex,
  iterations,
  64,
);
const examDecided = measureMicro(
  (i) => decide({ snapshot, request: examRequests[i]!, learned: scorer }).tierIndex,
  iterations,
  64,
);
const f = (x: number) => x.toFixed(1).padStart(8);
const r = (x: number, b: number) => `${(x / b).toFixed(1)}x`.padStart(7);
const row = (name: string, m: typeof parse) =>
  `${name.padEnd(48)}${f(m.wall.p50)}  ${f(m.wall.p99)}  ${f(m.cpu.p50)}  ${f(m.cpu.p99)}   ${r(m.wall.p50, parse.wall.p50)} ${r(m.cpu.p99, parse.cpu.p99)}\n`;
const mb = (b: number) => `${(b / 1024 / 1024).toFixed(2)} MB`;
process.stdout.write(
  `learned routing, 2,000-char prompt, ${iterations} calls (µs; ratios vs JSON.parse of the ${bodies[0]!.length}-byte body)\n` +
    `${''.padEnd(48)}wall p50  wall p99   cpu p50   cpu p99   p50 ratio  cpu p99 ratio\n` +
    row('baseline: JSON.parse(body)', parse) +
    row('model score', score) +
    row('scorer (score + percentile)', scored) +
    row('model score, exam prompt (MMLU head)', examScore) +
    row('static embedding of the exam prompt', embedded) +
    row('decide(), learned route', decided) +
    row('decide(), learned route, exam prompt', examDecided) +
    `whole decision p99 < 100 µs: wall ${decided.wall.p99 < 100 ? 'met' : 'NOT met'}, on-CPU ${decided.cpu.p99 < 100 ? 'met' : 'NOT met'}; ` +
    `exam prompt: wall ${examDecided.wall.p99 < 100 ? 'met' : 'NOT met'}, on-CPU ${examDecided.cpu.p99 < 100 ? 'met' : 'NOT met'}\n` +
    `static embedding table (loaded only for models that read it): ${mb(embedder.tableBytes)}\n` +
    `model memory: weight tables ${mb(clf.tableBytes)}; heap + array buffers after load +${mb(heapAfter.heapUsed + heapAfter.arrayBuffers - heapBefore.heapUsed - heapBefore.arrayBuffers)}\n`,
);
