/**
 * The stream hedge's case the socket tests cannot pin down: both sides have their first chunk in the same turn, so
 * the loser had opened too. Scripted in-memory adapters (real failover loop, real breakers) make that deterministic.
 */
import { describe, expect, it } from 'vitest';
import { silentObserver } from '../../test/helpers/observer.js';
import type { ChatCompletion, ChatCompletionChunk } from '../api/openai.js';
import { compileManifests, parseManifests } from '../config/manifests.js';
import { Breaker } from '../providers/breaker.js';
import { ExecutionError, type FallbackEvent, type Target } from '../providers/failover.js';
import type { ProviderAdapter } from '../providers/types.js';
import { decide } from '../routing/decide.js';
import {
  type ExecuteInput,
  executeWithCascade,
  failsOverToRest,
  mergeFailures,
  openStream,
  type ProducedAnswer,
  relayChunks,
} from './execute.js';

const chunk = (content: string): ChatCompletionChunk => ({
  id: 'c',
  object: 'chat.completion.chunk',
  created: 0,
  model: 'm',
  choices: [{ index: 0, delta: { content }, finish_reason: null }],
});

/** Streams `words` once `gate` settles; `closed` says whether the consumer stopped it before its end. */
function scripted(words: string[], gate: Promise<void>, onStart?: () => void) {
  const state = { started: false, closed: false, finished: false };
  const adapter: ProviderAdapter = {
    name: 'scripted',
    type: 'openai-compatible',
    complete: () => Promise.reject(new Error('streams only')),
    async *stream() {
      state.started = true;
      onStart?.();
      await gate;
      try {
        for (const w of words) yield chunk(w);
        state.finished = true;
      } finally {
        if (!state.finished) state.closed = true;
      }
    },
  };
  return { adapter, state };
}

const snapshot = compileManifests(
  parseManifests(`
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default }
spec:
  providers: [{ name: a, type: simulated }, { name: b, type: simulated }]
  models:
    - { name: m, targets: [{ provider: a }, { provider: b }], pricing: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 100000 }
  tiers: [{ name: cheap, models: [m] }]
  classifier: { mode: rules }
  hedge: { enabled: true, delay: fixed, delayMs: 1 }
`),
);

function input(adapters: ProviderAdapter[]): ExecuteInput & { hedges: string[] } {
  const d = decide({ snapshot, request: { model: 'auto', messages: [{ role: 'user', content: 'hi' }] } });
  const res = d.spec.resilience;
  const targets: Target[] = adapters.map((adapter, i) => ({
    model: 'm',
    provider: i === 0 ? 'a' : 'b',
    upstreamModel: 'm',
    adapter,
    breaker: new Breaker(
      { route: d.route, provider: i === 0 ? 'a' : 'b', model: 'm' },
      res.breaker,
      () => {},
    ),
  }));
  const hedges: string[] = [];
  return Object.assign(
    {
      providers: { route: d.route, adapters: new Map(), plan: () => ({ targets, resilience: res }) },
      request: { model: 'auto', messages: [{ role: 'user' as const, content: 'hi' }] },
      decision: d,
      signal: new AbortController().signal,
      observer: silentObserver({ hedge: (o) => hedges.push(o) }),
      planner: { next: () => undefined },
    },
    { hedges },
  );
}

describe('openStream with a hedge', () => {
  it('a loser that opened too is closed unread and booked with the prompt and what it had sent', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    // Both first chunks become available at once, when the hedge has started.
    const primary = scripted([' first', ' answer'], gate);
    const hedge = scripted([' second', ' answer'], gate, () => open());
    const x = input([primary.adapter, hedge.adapter]);
    let attempts = 0;
    const lost: ProducedAnswer[] = [];
    const s = await openStream(
      x,
      { ...x.request, stream: true },
      (n) => {
        attempts += n;
      },
      (p) => lost.push(p),
    );
    expect(s.hedged).toBe('lost');
    expect(s.served.provider).toBe('a');
    expect(x.hedges).toEqual(['started']);
    expect(hedge.state.closed).toBe(true);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatchObject({
      served: { provider: 'b', model: 'm' },
      tier: 'cheap',
      usage: { prompt_tokens: x.decision.estimatedPromptTokens },
    });
    expect(lost[0]!.usage.completion_tokens).toBeGreaterThan(0);
    expect(attempts).toBe(2);
    let text = '';
    for await (const c of s.chunks) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe(' first answer');
    expect(primary.state.finished).toBe(true);
  });

  it('with hedging off nothing but the first target is called', async () => {
    const primary = scripted([' only'], Promise.resolve());
    const second = scripted([' never'], Promise.resolve());
    const x = input([primary.adapter, second.adapter]);
    x.decision = { ...x.decision, spec: { ...x.decision.spec, hedge: undefined } };
    const lost: ProducedAnswer[] = [];
    const s = await openStream(
      x,
      { ...x.request, stream: true },
      () => {},
      (p) => lost.push(p),
    );
    for await (const _ of s.chunks);
    expect(s.hedged).toBeUndefined();
    expect(lost).toEqual([]);
    expect(second.state.started).toBe(false);
  });
});

describe('relayChunks', () => {
  const toolArgs = (args: string): ChatCompletionChunk => ({
    ...chunk(''),
    choices: [
      { index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: args } }] }, finish_reason: null },
    ],
  });
  const refusal = (text: string): ChatCompletionChunk => ({
    ...chunk(''),
    choices: [
      {
        index: 0,
        delta: { refusal: text },
        finish_reason: null,
      },
    ],
  });

  it('a stream broken before its usage keeps the text, refusal and tool arguments it generated', async () => {
    async function* broken() {
      yield chunk('Let me check. ');
      yield refusal('Sorry, not that. ');
      yield toolArgs('{"path":');
      yield toolArgs('"notes.txt"}');
      throw new Error('socket closed');
    }
    const relayed = await relayChunks(
      broken(),
      () => true,
      () => Promise.resolve(),
    );
    expect(relayed.usage).toBeUndefined();
    expect(relayed.broken).toBeInstanceOf(Error);
    expect(relayed.text).toBe('Let me check. Sorry, not that. {"path":"notes.txt"}');
  });
});

describe('mergeFailures (both sides of a hedge race failed)', () => {
  const fallback = (provider: string, detail: string): FallbackEvent => ({
    route: 'r',
    from: { provider, model: 'm', upstreamModel: 'm' },
    reason: 'server_error',
    latencyMs: 1,
    action: 'next-target',
    detail,
  });
  const failure = (
    code: ConstructorParameters<typeof ExecutionError>[0],
    provider: string,
    extra: { retryAfter?: number; lastReason?: ExecutionError['lastReason'] } = {},
  ) =>
    new ExecutionError(code, `${code} at ${provider}`, {
      fallbacks: [fallback(provider, `${provider} said no`)],
      attempts: 1,
      lastReason: extra.lastReason ?? 'server_error',
      ...(extra.retryAfter !== undefined ? { retryAfter: extra.retryAfter } : {}),
    });

  it('keeps every call and fallback of both, and a code both share (with the soonest Retry-After)', () => {
    const m = mergeFailures(
      failure('TM_RATE_LIMITED', 'a', { retryAfter: 9, lastReason: 'rate_limited' }),
      failure('TM_RATE_LIMITED', 'b', { retryAfter: 3, lastReason: 'rate_limited' }),
      false,
    );
    expect(m).toMatchObject({
      code: 'TM_RATE_LIMITED',
      attempts: 2,
      retryAfter: 3,
      lastReason: 'rate_limited',
    });
    expect(m.fallbacks.map((f) => f.from.provider)).toEqual(['a', 'b']);
    expect(m.aborted).toBe(false);
  });

  it('overloaded on one side and overloaded or open breakers on the other: overloaded, soonest Retry-After', () => {
    const m = mergeFailures(
      failure('TM_BREAKER_OPEN', 'a', { retryAfter: 20 }),
      failure('TM_UPSTREAM_OVERLOADED', 'b', { retryAfter: 7 }),
      false,
    );
    expect(m).toMatchObject({
      code: 'TM_UPSTREAM_OVERLOADED',
      retryAfter: 7,
      message: 'TM_UPSTREAM_OVERLOADED at b',
    });
    const first = mergeFailures(
      failure('TM_UPSTREAM_OVERLOADED', 'a', { retryAfter: 4 }),
      failure('TM_BREAKER_OPEN', 'b', { retryAfter: 9 }),
      false,
    );
    expect(first).toMatchObject({
      code: 'TM_UPSTREAM_OVERLOADED',
      retryAfter: 4,
      message: 'TM_UPSTREAM_OVERLOADED at a',
    });
    const mixed = mergeFailures(
      failure('TM_UPSTREAM_OVERLOADED', 'a'),
      failure('TM_ALL_TARGETS_FAILED', 'b'),
      false,
    );
    expect(mixed.code).toBe('TM_ALL_TARGETS_FAILED');
  });

  it('different codes: all targets failed, a timeout when the last one timed out, the last detail kept', () => {
    const m = mergeFailures(failure('TM_RATE_LIMITED', 'a'), failure('TM_ALL_TARGETS_FAILED', 'b'), false);
    expect(m.code).toBe('TM_ALL_TARGETS_FAILED');
    expect(m.message).toBe('all targets failed; last: b said no');
    expect(m.retryAfter).toBeUndefined();
    const t = mergeFailures(
      failure('TM_BREAKER_OPEN', 'a'),
      failure('TM_UPSTREAM_TIMEOUT', 'b', { lastReason: 'timeout' }),
      false,
    );
    expect(t).toMatchObject({ code: 'TM_UPSTREAM_TIMEOUT', lastReason: 'timeout' });
  });

  it('a failure failover stops at is the answer, as without a hedge; a client that left is all there is', () => {
    const bad = failure('TM_INVALID_REQUEST', 'a', { lastReason: 'client_error' });
    const m = mergeFailures(bad, failure('TM_ALL_TARGETS_FAILED', 'b'), false);
    expect(m).toMatchObject({ code: 'TM_INVALID_REQUEST', message: bad.message, attempts: 2 });
    const gone = mergeFailures(
      failure('TM_ALL_TARGETS_FAILED', 'a'),
      failure('TM_UPSTREAM_ERROR', 'b'),
      true,
    );
    expect(gone).toMatchObject({ aborted: true, attempts: 2, inFlight: undefined });
  });

  it("a provider's refusal stays that refusal: its status, code, param, rate limits, who it was, its log text", () => {
    const by = { provider: 'oa', model: 'small', upstreamModel: 'gpt-4o-mini' };
    const refused = new ExecutionError('TM_UPSTREAM_REJECTED', 'provider "oa" answered HTTP 422: "secret"', {
      fallbacks: [fallback('oa', 'oa said no')],
      attempts: 1,
      lastReason: 'client_error',
      logMessage: 'provider "oa" answered HTTP 422: [prompt]',
      rejected: {
        status: 422,
        rejection: {
          fault: { code: 'context_length_exceeded', param: 'messages' },
          headers: { 'x-ratelimit-remaining-tokens': '7' },
        },
        by,
      },
    });
    const m = mergeFailures(failure('TM_ALL_TARGETS_FAILED', 'b'), refused, false);
    expect(m).toMatchObject({
      code: 'TM_UPSTREAM_REJECTED',
      status: 422,
      attempts: 2,
      logMessage: refused.logMessage,
      headers: { 'x-ratelimit-remaining-tokens': '7' },
      rejected: { by },
    });
    expect(m.toBody().error).toMatchObject({ code: 'context_length_exceeded', param: 'messages' });
  });

  it('failsOverToRest: only when every target of the side failed or was refused', () => {
    expect(failsOverToRest(failure('TM_ALL_TARGETS_FAILED', 'a'))).toBe(true);
    expect(failsOverToRest(failure('TM_BREAKER_OPEN', 'a'))).toBe(true);
    expect(failsOverToRest(failure('TM_INVALID_REQUEST', 'a'))).toBe(false);
    expect(failsOverToRest(failure('TM_INTERNAL', 'a'))).toBe(false);
    const aborted = new ExecutionError('TM_UPSTREAM_ERROR', 'gone', {
      fallbacks: [],
      attempts: 1,
      aborted: true,
    });
    expect(failsOverToRest(aborted)).toBe(false);
    expect(failsOverToRest(new Error('queue full'))).toBe(false);
  });
});

describe("executeWithCascade's verdicts (the decision log's cascade)", () => {
  const answer = (content: string): ChatCompletion => ({
    id: 'x',
    object: 'chat.completion',
    created: 0,
    model: 'm',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 },
  });
  const replying = (content: string): ProviderAdapter => ({
    name: 'r',
    type: 'openai-compatible',
    complete: async () => answer(content),
    stream: () => {
      throw new Error('json only');
    },
  });
  /** Answers only when aborted, by failing: a first target slow enough for the hedge to win. */
  const hanging: ProviderAdapter = {
    name: 'h',
    type: 'openai-compatible',
    complete: (call) =>
      new Promise((_, reject) => call.signal.addEventListener('abort', () => reject(call.signal.reason))),
    stream: () => {
      throw new Error('json only');
    },
  };
  const twoTiers = (extra: string) =>
    compileManifests(
      parseManifests(`
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default }
spec:
  providers: [{ name: a, type: simulated }, { name: b, type: simulated }, { name: c, type: simulated }]
  models:
    - { name: m, targets: [{ provider: a }, { provider: b }], pricing: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 100000 }
    - { name: big, targets: [{ provider: c }], pricing: { inputPerMTok: 9, outputPerMTok: 9 }, contextWindow: 100000 }
  tiers: [{ name: cheap, models: [m] }, { name: premium, models: [big] }]
  classifier: { mode: rules }
${extra}
`),
    );
  function cascadeInput(snap: ReturnType<typeof twoTiers>, adapters: Record<string, ProviderAdapter>) {
    const d = decide({
      snapshot: snap,
      request: { model: 'auto', messages: [{ role: 'user', content: 'hi' }] },
    });
    const res = d.spec.resilience;
    const targets = (name: string): Target[] =>
      d.spec.models
        .find((m) => m.name === name)!
        .targets.map((t) => ({
          model: name,
          provider: t.provider,
          upstreamModel: name,
          adapter: adapters[t.provider]!,
          breaker: new Breaker({ route: d.route, provider: t.provider, model: name }, res.breaker, () => {}),
        }));
    const input: ExecuteInput = {
      providers: {
        route: d.route,
        adapters: new Map(),
        plan: (models) => ({ targets: models.flatMap((m) => targets(m.name)), resilience: res }),
      },
      request: { model: 'auto', messages: [{ role: 'user', content: 'hi' }] },
      decision: d,
      signal: new AbortController().signal,
      observer: silentObserver(),
      planner: { next: () => undefined },
    };
    return input;
  }

  it("a hedge's loser is spend but no answer of the cascade: the check's verdict is the winner's", async () => {
    const snap = twoTiers(`  hedge: { enabled: true, delay: fixed, delayMs: 1 }
  cascade: { checks: [refusal], maxEscalations: 1 }`);
    const out = await executeWithCascade(
      cascadeInput(snap, {
        a: hanging,
        b: replying("I'm sorry, but I can't help with that."),
        c: replying('the premium answer'),
      }),
    );
    expect(out.hedged).toBe('won');
    // The first target's call was cut off in flight: booked (it may bill the prompt), before the winner's answer.
    expect(out.produced.map((p) => [p.tier, p.served.provider])).toEqual([
      ['cheap', 'a'],
      ['cheap', 'b'],
      ['premium', 'c'],
    ]);
    expect(out.verdicts).toEqual([
      { tier: 'cheap', model: 'm', ok: false, checked: true, check: 'refusal', to: 'premium' },
      { tier: 'premium', model: 'big', ok: true, checked: true },
    ]);
  });

  it("the judge's reply is spend but no answer of the cascade", async () => {
    const snap = twoTiers(
      `  cascade: { checks: [judge], maxEscalations: 1, judge: { model: m, minScore: 0.5 } }`,
    );
    // Target a answers the request, then (as the judge's model) rates it 0.1.
    let calls = 0;
    const a: ProviderAdapter = {
      ...replying(''),
      complete: async () => answer(++calls === 1 ? 'cheap answer' : '0.1'),
    };
    const out = await executeWithCascade(
      cascadeInput(snap, { a, b: hanging, c: replying('premium answer') }),
    );
    // The judge is not asked about the top tier's answer (another model call, for a verdict that changes nothing).
    expect(out.produced.map((p) => p.tier)).toEqual(['cheap', 'judge', 'premium']);
    expect(calls).toBe(2);
    expect(out.verdicts).toEqual([
      { tier: 'cheap', model: 'm', ok: false, checked: true, check: 'judge', to: 'premium' },
      { tier: 'premium', model: 'big', ok: true, checked: false },
    ]);
  });

  it('an answer with a tier above is checked; a passing one says so', async () => {
    const snap = twoTiers(`  cascade: { checks: [refusal], maxEscalations: 1 }`);
    const out = await executeWithCascade(cascadeInput(snap, { a: replying('fine'), b: hanging, c: hanging }));
    expect(out.verdicts).toEqual([{ tier: 'cheap', model: 'm', ok: true, checked: true }]);
  });

  const REFUSAL = "I'm sorry, but I can't help with that.";
  /** Counts what the cascade reports as escalations and strict retries, and every upstream call per target. */
  function counting(snap: ReturnType<typeof twoTiers>, adapters: Record<string, ProviderAdapter>) {
    const seen = { escalations: 0, strictRetries: 0, calls: {} as Record<string, number> };
    const counted = Object.fromEntries(
      Object.entries(adapters).map(([k, a]) => [
        k,
        {
          ...a,
          complete: (call: Parameters<ProviderAdapter['complete']>[0]) => {
            seen.calls[k] = (seen.calls[k] ?? 0) + 1;
            return a.complete(call);
          },
        } satisfies ProviderAdapter,
      ]),
    );
    const input = cascadeInput(snap, counted);
    input.observer = silentObserver({
      escalate: () => seen.escalations++,
      strictRetried: () => seen.strictRetries++,
    });
    return { input, seen };
  }

  it("the top tier's answer is checked only to record the verdict: served as it is, nothing escalated or retried", async () => {
    const snap = twoTiers(`  cascade: { checks: [refusal], maxEscalations: 1 }`);
    const { input, seen } = counting(snap, { a: replying(REFUSAL), b: hanging, c: replying(REFUSAL) });
    const out = await executeWithCascade(input);
    expect(out.verdicts).toEqual([
      { tier: 'cheap', model: 'm', ok: false, checked: true, check: 'refusal', to: 'premium' },
      { tier: 'premium', model: 'big', ok: false, checked: true, check: 'refusal' },
    ]);
    // What the client gets is unchanged: the premium answer, after one escalation and one call per tier.
    expect(out.answer?.choices[0]?.message.content).toBe(REFUSAL);
    expect(out.tier).toBe('premium');
    expect(out.passed).toBe(true);
    expect(out.escalations).toBe(1);
    expect(seen).toEqual({ escalations: 1, strictRetries: 0, calls: { a: 1, c: 1 } });
  });

  it('the last step of a spent cascade is recorded too, with no strict retry on a broken JSON answer', async () => {
    // No tier left above (as on a one-tier route): the answer is the last step's. A strict retry would be another
    // upstream call: none is made.
    const snap = twoTiers(`  cascade: { checks: [json], maxEscalations: 1, strictRetry: { enabled: true } }`);
    const { input, seen } = counting(snap, { a: replying('not json'), b: hanging, c: hanging });
    input.request = { ...input.request, response_format: { type: 'json_object' } };
    input.decision = { ...input.decision, escalation: [] };
    const out = await executeWithCascade(input);
    expect(out.verdicts).toEqual([{ tier: 'cheap', model: 'm', ok: false, checked: true, check: 'json' }]);
    expect(out.answer?.choices[0]?.message.content).toBe('not json');
    expect(out.escalations).toBe(0);
    expect(seen).toEqual({ escalations: 0, strictRetries: 0, calls: { a: 1 } });
  });

  it('a request routed straight to the top tier is not checked: the outcomes export never reads its verdict', async () => {
    const snap = twoTiers(`  cascade: { checks: [refusal], maxEscalations: 1 }`);
    const { input, seen } = counting(snap, { a: hanging, b: hanging, c: replying(REFUSAL) });
    input.decision = decide({
      snapshot: snap,
      request: { model: 'big', messages: [{ role: 'user', content: 'hi' }] },
    });
    expect(input.decision.tierIndex).toBe(1);
    const out = await executeWithCascade(input);
    expect(out.verdicts).toEqual([{ tier: 'premium', model: 'big', ok: true, checked: false }]);
    expect(out.answer?.choices[0]?.message.content).toBe(REFUSAL);
    expect(seen).toEqual({ escalations: 0, strictRetries: 0, calls: { c: 1 } });
  });

  it('a route with the cascade off checks nothing, on any tier', async () => {
    const snap = twoTiers(`  cascade: { enabled: false, checks: [refusal], maxEscalations: 1 }`);
    const out = await executeWithCascade(
      cascadeInput(snap, { a: replying(REFUSAL), b: hanging, c: hanging }),
    );
    expect(out.verdicts).toEqual([{ tier: 'cheap', model: 'm', ok: true, checked: false }]);
  });
});
