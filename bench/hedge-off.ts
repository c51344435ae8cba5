/**
 * What stream hedging costs when it is off: `openStream()` (the execute stage for streams, hedge-aware) against
 * `openStream()` as it was before streams could hedge (copied here line for line: `withPromotion` + `sloPlan` +
 * `executeStream`), plus, for scale, `openStream()` with hedging on and a first chunk well before the delay (the
 * race, its controllers and timer, but no second call). One process, one run, interleaved rounds; each request opens
 * a stream over two targets and reads it to the end. The upstream is an in-memory adapter, so what is measured is
 * the sidecar's own work per stream, as CPU time per request and ratios against the baseline.
 *
 *   tsx bench/hedge-off.ts [--requests 20000] [--rounds 5] [--chunks 20]
 */
import { parseArgs } from 'node:util';
import type { ChatCompletionChunk, ChatCompletionRequest } from '../src/api/openai.js';
import { compileManifests, parseManifests } from '../src/config/manifests.js';
import { Breaker } from '../src/providers/breaker.js';
import { ExecutionError, executeStream, type Target } from '../src/providers/failover.js';
import type { RouteProviders } from '../src/providers/registry.js';
import type { ProviderAdapter } from '../src/providers/types.js';
import { decide } from '../src/routing/decide.js';
import type { RouteDecision } from '../src/routing/types.js';
import { type ExecuteInput, openStream, sloPlan } from '../src/sidecar/execute.js';
import { chosenStep, withPromotion } from '../src/sidecar/promote.js';
import { silentObserver } from '../test/helpers/observer.js';

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '5' },
    chunks: { type: 'string', default: '20' },
  },
});
const REQUESTS = Number(args.requests);
const ROUNDS = Number(args.rounds);
const CHUNKS = Number(args.chunks);

const chunk = (content: string): ChatCompletionChunk => ({
  id: 'chatcmpl-bench',
  object: 'chat.completion.chunk',
  created: 0,
  model: 'small-model',
  choices: [{ index: 0, delta: { content }, finish_reason: null }],
});
const chunks = Array.from({ length: CHUNKS }, (_, i) => chunk(` w${i}`));

/** Streams `chunks` from memory, one microtask apart: no sockets, no parsing, only the sidecar's side. */
const adapter: ProviderAdapter = {
  name: 'mem',
  type: 'openai-compatible',
  complete: () => Promise.reject(new Error('streams only')),
  async *stream() {
    for (const c of chunks) yield c;
  },
};

function spec(hedge: string): RouteDecision {
  const snapshot = compileManifests(
    parseManifests(`
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default }
spec:
  providers: [{ name: a, type: simulated }, { name: b, type: simulated }]
  models:
    - { name: small-model, targets: [{ provider: a }, { provider: b }], pricing: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 100000 }
  tiers: [{ name: cheap, models: [small-model] }]
  classifier: { mode: rules }
${hedge}
`),
  );
  return decide({
    snapshot,
    request: { model: 'auto', messages: [{ role: 'user', content: 'hi' }], stream: true },
  });
}

function input(d: RouteDecision): ExecuteInput {
  const res = d.spec.resilience;
  const targets: Target[] = ['a', 'b'].map((p) => ({
    model: 'small-model',
    provider: p,
    upstreamModel: 'small-model',
    adapter,
    breaker: new Breaker({ route: d.route, provider: p, model: 'small-model' }, res.breaker, () => {}),
  }));
  const providers: RouteProviders = {
    route: d.route,
    adapters: new Map(),
    plan: () => ({ targets, resilience: res }),
  };
  return {
    providers,
    request: { model: 'auto', messages: [{ role: 'user', content: 'hi' }] },
    decision: d,
    signal: new AbortController().signal,
    observer: silentObserver(),
    planner: { next: () => undefined },
  };
}

const body: ChatCompletionRequest = {
  model: 'auto',
  messages: [{ role: 'user', content: 'hi' }],
  stream: true,
};
const noop = () => {};

type Open = (x: ExecuteInput) => Promise<{ chunks: AsyncIterable<ChatCompletionChunk> }>;

/** openStream() as it was before streams could hedge (main at dd6908f), line for line. */
const before: Open = async (x) => {
  const countAttempts = noop as (n: number) => void;
  const p = await withPromotion(
    x.planner,
    chosenStep(x.decision),
    async (step) => {
      try {
        return await executeStream(sloPlan(x, step), body, {
          signal: x.signal,
          onFallback: x.observer.fallback,
          ...(x.admit ? { admit: x.admit } : {}),
        });
      } catch (e) {
        if (e instanceof ExecutionError) countAttempts(e.attempts);
        throw e;
      }
    },
    { promoted: x.observer.promoted, stopped: x.observer.promotionStopped },
  );
  countAttempts(p.value.attempts);
  return Object.assign(p.value, { step: p.step, promotedFrom: p.promotedFrom });
};
const now: Open = (x) => openStream(x, body, noop, noop);

async function block(open: Open, x: ExecuteInput, n: number): Promise<number> {
  let seen = 0;
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const s = await open(x);
    for await (const _ of s.chunks) seen++;
  }
  const c1 = process.cpuUsage(c0);
  if (seen !== n * CHUNKS) throw new Error(`expected ${n * CHUNKS} chunks, read ${seen}`);
  return (c1.user + c1.system) / n;
}

async function main(): Promise<void> {
  const off = input(spec(''));
  const on = input(spec('  hedge: { enabled: true, delay: fixed, delayMs: 600000 }'));
  const cases: Array<[string, Open, ExecuteInput]> = [
    ['before (no hedge code)', before, off],
    ['openStream, hedge off', now, off],
    ['openStream, hedge on, not triggered', now, on],
    ['before, again (noise control)', before, off],
  ];
  for (const [, open, x] of cases) await block(open, x, Math.min(2000, REQUESTS)); // warm-up
  const per: number[][] = cases.map(() => []);
  for (let r = 0; r < ROUNDS; r++)
    for (const [i, [, open, x]] of cases.entries()) per[i]!.push(await block(open, x, REQUESTS));
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const base = per[0]!;
  process.stdout.write(
    `stream execute stage, ${CHUNKS} chunks per stream, ${REQUESTS} streams x ${ROUNDS} rounds (CPU us/stream, median; ratio to the baseline per round: min..max)\n`,
  );
  for (const [i, [name]] of cases.entries()) {
    const ratios = per[i]!.map((v, r) => v / base[r]!);
    process.stdout.write(
      `  ${name.padEnd(38)} ${med(per[i]!).toFixed(2).padStart(7)} us   x${med(ratios).toFixed(3)} (${Math.min(...ratios).toFixed(3)}..${Math.max(...ratios).toFixed(3)})\n`,
    );
  }
}

await main();
