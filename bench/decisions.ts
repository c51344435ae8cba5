/**
 * What remembering a decision costs per request: DecisionRecorder.finished (ring insert, features fingerprint,
 * escalation and allocation metrics) with and without a decision-log line, next to the routing decision itself on
 * the same 2,000-character prompt in the same run. Ratios to decide() compare across machines.
 *
 *   tsx bench/decisions.ts [--iterations 20000]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ChatCompletionRequest } from '../src/api/openai.js';
import { compileManifests, parseManifests } from '../src/config/manifests.js';
import { decide } from '../src/routing/decide.js';
import { DecisionRing } from '../src/sidecar/decisions.js';
import { DecisionRecorder, type FinishedRequest } from '../src/sidecar/recorder.js';
import { openDecisionLog } from '../src/telemetry/decision-log.js';
import { SidecarMetrics } from '../src/telemetry/metrics.js';
import { measureMicro } from './lib/micro.js';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '20000' } } });
const iterations = Number(values.iterations);
if (!Number.isInteger(iterations) || iterations < 100)
  throw new Error('--iterations must be an integer >= 100');

const snapshot = compileManifests(
  parseManifests(readFileSync(new URL('../examples/standalone.yaml', import.meta.url), 'utf8'), 'bench'),
);
const unit =
  'Please review the following function and explain why it returns the wrong total when the input list ' +
  'contains negative numbers. ```ts\nfunction total(xs: number[]) { let s = 0; for (const x of xs) if (x > 0) s += x; return s; }\n``` ';
const requests: ChatCompletionRequest[] = Array.from({ length: 64 }, (_, i) => ({
  model: 'auto',
  messages: [{ role: 'user', content: `${i} ${unit.repeat(12)}`.slice(0, 2000) }],
}));
const decisions = requests.map((request) => decide({ snapshot, request }));
const finished = (i: number): FinishedRequest => {
  const d = decisions[i]!;
  return {
    requestId: `req-${i}-${Math.random()}`,
    decision: d,
    request: requests[i]!,
    tier: d.tierName,
    model: d.models[0]!.name,
    provider: 'simulated',
    costUSD: 0.0001,
    cascade: [{ tier: d.tierName, model: d.models[0]!.name, ok: true, checked: true }],
    status: 200,
    stream: false,
  };
};

const dir = mkdtempSync(join(tmpdir(), 'tm-bench-decisions-'));
const log = openDecisionLog({ path: join(dir, 'decisions.jsonl') });
const metrics = new SidecarMetrics();
const ringOnly = new DecisionRecorder({ ring: new DecisionRing(), metrics, logPrompts: false });
const withLog = new DecisionRecorder({ ring: new DecisionRing(), metrics, log, logPrompts: false });

const base = measureMicro((i) => decide({ snapshot, request: requests[i]! }).tierIndex, iterations, 64);
const ring = measureMicro((i) => ringOnly.finished(finished(i)).score, iterations, 64);
const logged = measureMicro(
  (i) => {
    const r = withLog.finished(finished(i)).score;
    if (i === 63) log.flush(); // the batch write the event loop would do, charged to the run
    return r;
  },
  iterations,
  64,
);
log.close();
rmSync(dir, { recursive: true, force: true });

const row = (name: string, s: typeof base) =>
  `${name.padEnd(34)} wall p50 ${s.wall.p50.toFixed(1).padStart(6)} µs  p99 ${s.wall.p99.toFixed(1).padStart(6)} µs  ` +
  `cpu p99 ${s.cpu.p99.toFixed(0).padStart(4)} µs  p50 ratio to decide ${(s.wall.p50 / base.wall.p50).toFixed(2)}`;
process.stdout.write(
  `${[row('decide() (baseline)', base), row('recorder.finished (ring + metrics)', ring), row('  + decision-log line', logged)].join('\n')}\n`,
);
