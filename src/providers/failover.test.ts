/**
 * The failover loop with scripted adapters and real breakers: whose fault each failure is, what it does to the
 * breaker, what the client is told, and the stream deadlines. The wire itself is covered in
 * test/integration/failover.test.ts against the vendor fixtures.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from '../api/openai.js';
import { BreakerBoard } from './breaker.js';
import {
  brokenStreamCode,
  ExecutionError,
  type ExecutionPlan,
  executeCompletion,
  executeStream,
  type Resilience,
} from './failover.js';
import { LocalError, type ProviderAdapter, ProviderError, type UpstreamCall } from './types.js';

const board = new BreakerBoard();
afterEach(() => board.shutdown());

const breakerSettings = {
  errorThresholdPercentage: 50,
  volumeThreshold: 1,
  resetTimeoutMs: 30_000,
  rollingWindowMs: 10_000,
};

const resilience = (over: Partial<Resilience> = {}): Resilience => ({
  timeoutMs: 1_000,
  firstByteTimeoutMs: 1_000,
  streamIdleTimeoutMs: 1_000,
  retries: { attempts: 0, backoffMs: 1, maxBackoffMs: 1 },
  breaker: breakerSettings,
  ...over,
});

const completion = (content: string): ChatCompletion => ({
  id: 'c',
  object: 'chat.completion',
  created: 0,
  model: 'm',
  choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
});

const chunk = (content: string, finish: string | null = null): ChatCompletionChunk => ({
  id: 'c',
  object: 'chat.completion.chunk',
  created: 0,
  model: 'm',
  choices: [{ index: 0, delta: { content }, finish_reason: finish }],
});

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    });
  });
}

interface Scripted extends ProviderAdapter {
  calls: number;
}

function adapter(
  name: string,
  complete: (call: UpstreamCall) => Promise<ChatCompletion>,
  stream?: (call: UpstreamCall) => AsyncGenerator<ChatCompletionChunk>,
): Scripted {
  const a: Scripted = {
    name,
    type: 'openai-compatible',
    calls: 0,
    complete: (call) => {
      a.calls++;
      return complete(call);
    },
    stream: (call) => {
      a.calls++;
      if (!stream) throw new Error('no stream scripted');
      return stream(call);
    },
  };
  return a;
}

function plan(adapters: Scripted[], res: Resilience = resilience(), route = 'r'): ExecutionPlan {
  return {
    resilience: res,
    targets: adapters.map((a) => ({
      model: 'm',
      provider: a.name,
      upstreamModel: `${a.name}-model`,
      adapter: a,
      breaker: board.get({ route, provider: a.name, model: `${a.name}-model` }, res.breaker),
    })),
  };
}

const body: ChatCompletionRequest = { model: 'auto', messages: [{ role: 'user', content: 'hi' }] };

async function executionError(p: Promise<unknown>): Promise<ExecutionError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ExecutionError);
  return e as ExecutionError;
}

const breakerOf = (name: string) => board.states().find((s) => s.provider === name)?.state;

describe("an upstream's refusal of the request (client_error)", () => {
  const refusal = (status: number, rejection?: ProviderError['rejection']) =>
    new ProviderError('client_error', `provider "first" answered HTTP ${status}: bad`, {
      status,
      ...(rejection ? { rejection } : {}),
    });

  it('is passed on as TM_UPSTREAM_REJECTED: its status, code, param and rate limits, and who refused', async () => {
    const rejection = {
      fault: { code: 'context_length_exceeded', param: 'messages' },
      headers: { 'x-ratelimit-remaining-tokens': '10' },
    };
    const first = adapter('first', async () => {
      throw refusal(422, rejection);
    });
    const second = adapter('second', async () => completion('from second'));
    const e = await executionError(executeCompletion(plan([first, second]), body));
    expect(e).toMatchObject({
      code: 'TM_UPSTREAM_REJECTED',
      status: 422,
      attempts: 1,
      lastReason: 'client_error',
    });
    expect(e.rejected?.by).toEqual({ provider: 'first', model: 'm', upstreamModel: 'first-model' });
    expect(e.headers).toEqual({ 'x-ratelimit-remaining-tokens': '10' });
    expect(e.toBody().error).toMatchObject({ code: 'context_length_exceeded', param: 'messages' });
    expect(second.calls).toBe(0);
    expect(breakerOf('first')).toBe('closed');
  });

  it("of our own making (a translating adapter's check, no upstream answer) stays TM_INVALID_REQUEST", async () => {
    const first = adapter('first', async () => {
      throw refusal(400);
    });
    const e = await executionError(executeCompletion(plan([first]), body));
    expect(e).toMatchObject({ code: 'TM_INVALID_REQUEST', status: 400, rejected: undefined });
  });
});

describe('a failure before anything was sent (LocalError)', () => {
  it("is the client's 400: no other target, no attempt counted, no breaker moved", async () => {
    const first = adapter('first', () => {
      throw new LocalError('client', 'the request cannot be sent on: serializing failed (too deep)');
    });
    const second = adapter('second', async () => completion('from second'));
    for (let i = 0; i < 5; i++) {
      const e = await executionError(executeCompletion(plan([first, second]), body));
      expect(e.code).toBe('TM_INVALID_REQUEST');
      expect(e.status).toBe(400);
      expect(e.message).toContain('serializing failed');
      expect(e.attempts).toBe(0);
      expect(e.fallbacks).toEqual([]);
    }
    expect(second.calls).toBe(0);
    expect(breakerOf('first')).toBe('closed');
  });

  it('is our 500 when our own code broke, with the cause kept for the log and not shown', async () => {
    const bug = new TypeError('cannot read properties of undefined');
    const first = adapter('first', () => {
      throw new LocalError('sidecar', 'building the body failed', { cause: bug });
    });
    const e = await executionError(executeCompletion(plan([first]), body));
    expect(e.code).toBe('TM_INTERNAL');
    expect(e.message).toBe('internal error');
    expect((e.cause as LocalError).cause).toBe(bug);
    expect(breakerOf('first')).toBe('closed');
  });
});

describe('fallback events', () => {
  it("name the failed target's route (its breaker's), so routes naming a provider alike stay apart", async () => {
    const down = adapter('p', async () => {
      throw new ProviderError('server_error', 'provider "p" answered HTTP 500', { status: 500 });
    });
    const up = adapter('q', async () => completion('ok'));
    const unkeyed: Scripted = {
      ...adapter('k', async () => completion('never')),
      unavailable: () => 'no key',
    };
    const r = await executeCompletion(plan([unkeyed, down, up], resilience(), 'team-b'), body);
    expect(r.fallbacks.map((f) => [f.route, f.from.provider, f.reason])).toEqual([
      ['team-b', 'k', 'unavailable'],
      ['team-b', 'p', 'server_error'],
    ]);
  });
});

describe('429s', () => {
  it('move on to the next target without counting against the breaker', async () => {
    const busy = adapter('busy', async () => {
      throw new ProviderError('rate_limited', 'provider "busy" answered HTTP 429: slow down', {
        status: 429,
        retryAfter: 20,
      });
    });
    const healthy = adapter('healthy', async () => completion('ok'));
    for (let i = 0; i < 5; i++) {
      const r = await executeCompletion(plan([busy, healthy]), body);
      expect(r.served.provider).toBe('healthy');
      expect(r.fallbacks[0]).toMatchObject({ reason: 'rate_limited', status: 429, action: 'next-target' });
      expect(r.fallbacks[0]?.detail).toContain('slow down');
    }
    expect(breakerOf('busy')).toBe('closed');
  });

  it('on every target: TM_RATE_LIMITED with the soonest Retry-After', async () => {
    const a = adapter('a', async () => {
      throw new ProviderError('rate_limited', 'a busy', { status: 429, retryAfter: 30 });
    });
    const b = adapter('b', async () => {
      throw new ProviderError('rate_limited', 'b busy', { status: 429, retryAfter: 7 });
    });
    const e = await executionError(executeCompletion(plan([a, b]), body));
    expect(e.code).toBe('TM_RATE_LIMITED');
    expect(e.retryAfter).toBe(7);
  });
});

describe('overloaded upstreams (529, 503, UNAVAILABLE)', () => {
  const overloaded = (name: string, retryAfter?: number) =>
    adapter(name, async () => {
      throw new ProviderError('server_error', `${name} overloaded`, {
        status: 529,
        overloaded: true,
        ...(retryAfter !== undefined ? { retryAfter } : {}),
      });
    });

  it('fail over, count against the breaker, and on every target answer TM_UPSTREAM_OVERLOADED, soonest Retry-After', async () => {
    const a = overloaded('a', 30);
    const b = overloaded('b', 7);
    const c = overloaded('c');
    const e = await executionError(executeCompletion(plan([a, b, c]), body));
    expect(e.code).toBe('TM_UPSTREAM_OVERLOADED');
    expect(e.retryAfter).toBe(7);
    expect(e.statusFor('anthropic')).toBe(529);
    expect([a.calls, b.calls, c.calls]).toEqual([1, 1, 1]);
    // A provider failure all the same: the breakers count it (volume 1, 50%).
    expect(breakerOf('a')).toBe('open');
    // Open breakers (its Retry-After the time until half-open) beside an overload are still a busy provider.
    const d = overloaded('d', 60);
    const again = await executionError(executeCompletion(plan([a, d]), body));
    expect(again.code).toBe('TM_UPSTREAM_OVERLOADED');
    expect(again.retryAfter).toBeLessThanOrEqual(30);
  });

  it('beside any other failure, or all breakers open, keep their own codes', async () => {
    const down = adapter('down', async () => {
      throw new ProviderError('server_error', 'HTTP 500', { status: 500 });
    });
    const e = await executionError(executeCompletion(plan([overloaded('x', 5), down]), body));
    expect(e.code).toBe('TM_ALL_TARGETS_FAILED');
    expect(e.retryAfter).toBeUndefined();
  });
});

describe('brokenStreamCode (a stream that broke after its first chunk)', () => {
  it("keeps the upstream's class: rate limit, overload, else an upstream error", () => {
    expect(brokenStreamCode(new ProviderError('rate_limited', 'x'))).toBe('TM_RATE_LIMITED');
    expect(brokenStreamCode(new ProviderError('server_error', 'x', { overloaded: true }))).toBe(
      'TM_UPSTREAM_OVERLOADED',
    );
    expect(brokenStreamCode(new ProviderError('server_error', 'x'))).toBe('TM_UPSTREAM_ERROR');
    expect(brokenStreamCode(new ProviderError('stream_broken', 'x'))).toBe('TM_UPSTREAM_ERROR');
    expect(brokenStreamCode(new Error('x'))).toBe('TM_UPSTREAM_ERROR');
    // As the relay wraps it: the upstream's own failure is the cause.
    const wrapped = (cause: ProviderError) => new ProviderError('stream_broken', 'broke', { cause });
    expect(brokenStreamCode(wrapped(new ProviderError('rate_limited', 'x')))).toBe('TM_RATE_LIMITED');
    expect(brokenStreamCode(wrapped(new ProviderError('server_error', 'x', { overloaded: true })))).toBe(
      'TM_UPSTREAM_OVERLOADED',
    );
    expect(brokenStreamCode(wrapped(new ProviderError('connection', 'x')))).toBe('TM_UPSTREAM_ERROR');
  });
});

describe('open breakers', () => {
  it('answer TM_BREAKER_OPEN with a Retry-After of the time left until half-open', async () => {
    const down = adapter('down', async () => {
      throw new ProviderError('server_error', 'HTTP 500');
    });
    await executionError(executeCompletion(plan([down]), body)); // opens it (volume 1, 50%)
    expect(breakerOf('down')).toBe('open');
    const e = await executionError(executeCompletion(plan([down]), body));
    expect(e.code).toBe('TM_BREAKER_OPEN');
    expect(e.retryAfter).toBeGreaterThan(0);
    expect(e.retryAfter).toBeLessThanOrEqual(30);
    expect(down.calls).toBe(1);
  });
});

describe('stream deadlines', () => {
  it('let a stream that keeps flowing run past timeoutMs', async () => {
    const flowing = adapter(
      'flowing',
      async () => completion('unused'),
      async function* (call) {
        for (let i = 0; i < 8; i++) {
          await wait(40, call.signal);
          yield chunk(`w${i} `);
        }
        yield chunk('', 'stop');
      },
    );
    // 8 x 40 ms is well past the 150 ms whole-call deadline, and every gap is within the idle deadline.
    const s = await executeStream(
      plan([flowing], resilience({ timeoutMs: 150, streamIdleTimeoutMs: 1_000 })),
      body,
    );
    let text = '';
    for await (const c of s.chunks) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe('w0 w1 w2 w3 w4 w5 w6 w7 ');
    expect(breakerOf('flowing')).toBe('closed');
  });

  it('cut a stream that stalls between chunks, as a timeout', async () => {
    const stalls = adapter(
      'stalls',
      async () => completion('unused'),
      async function* (call) {
        yield chunk('first ');
        await wait(60_000, call.signal);
        yield chunk('never');
      },
    );
    const s = await executeStream(plan([stalls], resilience({ streamIdleTimeoutMs: 100 })), body);
    let text = '';
    const err = await (async () => {
      for await (const c of s.chunks) text += c.choices[0]?.delta.content ?? '';
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(text).toBe('first ');
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).reason).toBe('stream_broken');
    expect((err as ProviderError).message).toMatch(/timeout: .*no stream chunk for 100ms/);
  });

  it('cut a stream at the optional total deadline even while it flows', async () => {
    const endless = adapter(
      'endless',
      async () => completion('unused'),
      async function* (call) {
        for (;;) {
          await wait(20, call.signal);
          yield chunk('x');
        }
      },
    );
    const s = await executeStream(
      plan([endless], resilience({ streamIdleTimeoutMs: 1_000, streamTimeoutMs: 200 })),
      body,
    );
    const err = await (async () => {
      for await (const _ of s.chunks);
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as ProviderError).message).toMatch(/stream still running after 200ms/);
    // Cut while waiting on the upstream: its fault, counted (one failure opens the breaker here).
    expect(breakerOf('endless')).toBe('open');
  });

  it('a total deadline reached while the consumer holds the stream is not counted against the upstream', async () => {
    const fast = adapter(
      'fast-for-slow-reader',
      async () => completion('unused'),
      async function* (call) {
        for (;;) {
          // As a real upstream socket: an aborted call reads nothing more.
          call.signal.throwIfAborted();
          await wait(5, call.signal);
          yield chunk('x');
        }
      },
    );
    const s = await executeStream(
      plan([fast], resilience({ streamIdleTimeoutMs: 1_000, streamTimeoutMs: 150 })),
      body,
    );
    const err = await (async () => {
      for await (const _ of s.chunks) await new Promise((r) => setTimeout(r, 400)); // reads one chunk, then stalls
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    // The stream is still cut at the deadline, but the breaker (one failure opens it here) stays closed.
    expect((err as Error).message).toMatch(/stream still running after 150ms, while the client read slowly/);
    expect(breakerOf('fast-for-slow-reader')).toBe('closed');
  });

  it('do not blame the upstream while the consumer is the slow one', async () => {
    const quick = adapter(
      'quick',
      async () => completion('unused'),
      async function* () {
        yield chunk('a');
        yield chunk('b');
        yield chunk('', 'stop');
      },
    );
    const s = await executeStream(plan([quick], resilience({ streamIdleTimeoutMs: 100 })), body);
    let n = 0;
    for await (const _ of s.chunks) {
      n++;
      await new Promise((r) => setTimeout(r, 250)); // a client reading slowly, longer than the idle deadline
    }
    expect(n).toBe(3);
  });
});

describe('admit (spec.queue slots)', () => {
  /** Records which target holds a slot, and when each is freed. */
  function slots() {
    const log: string[] = [];
    const admit = async (t: { provider: string }) => {
      log.push(`take ${t.provider}`);
      return () => log.push(`free ${t.provider}`);
    };
    return { log, admit };
  }

  it('holds one slot over the retries on a target', async () => {
    let n = 0;
    // A 429 is retried on the same target and never opens the breaker.
    const only = adapter('retrier', async () => {
      if (++n === 1) throw new ProviderError('rate_limited', 'busy', { status: 429 });
      return completion('second try');
    });
    const s = slots();
    const res = resilience({ retries: { attempts: 1, backoffMs: 1, maxBackoffMs: 1 } });
    const r = await executeCompletion(plan([only], res), body, { admit: s.admit });
    expect(r.completion.choices[0]?.message.content).toBe('second try');
    expect(n).toBe(2);
    expect(s.log).toEqual(['take retrier', 'free retrier']);
  });

  it('frees the slot before waiting for the next target, and after the answer', async () => {
    const first = adapter('first', async () => {
      throw new ProviderError('server_error', 'boom', { status: 500 });
    });
    const second = adapter('second', async () => completion('from second'));
    const s = slots();
    const r = await executeCompletion(plan([first, second]), body, { admit: s.admit });
    expect(r.completion.choices[0]?.message.content).toBe('from second');
    expect(s.log).toEqual(['take first', 'free first', 'take second', 'free second']);
  });

  it("answers the admit hook's own error as it is: no other target, no breaker, slot of nobody", async () => {
    const first = adapter('first', async () => completion('x'));
    const second = adapter('second', async () => completion('y'));
    const refused = new Error('queue full');
    const p = executeCompletion(plan([first, second]), body, {
      admit: async () => {
        throw refused;
      },
    });
    await expect(p).rejects.toBe(refused);
    expect(first.calls + second.calls).toBe(0);
    expect(breakerOf('first')).toBe('closed');
  });

  it('does not count the time waited for a slot against the request deadline', async () => {
    let t = 0;
    const only = adapter('patient', async () => {
      t += 50; // the call itself takes 50 of the 100 ms deadline
      return completion('served');
    });
    const r = await executeCompletion(plan([only]), body, {
      now: () => t,
      deadlineMs: 100,
      admit: async () => {
        t += 1_000; // waited in the queue far longer than the deadline
        return () => {};
      },
    });
    expect(r.completion.choices[0]?.message.content).toBe('served');
  });

  it('keeps a stream slot until the stream ends', async () => {
    const only = adapter(
      'only',
      async () => completion('x'),
      async function* () {
        yield chunk('a');
        yield chunk('b', 'stop');
      },
    );
    const s = slots();
    const r = await executeStream(plan([only]), body, { admit: s.admit });
    expect(s.log).toEqual(['take only']);
    const got: string[] = [];
    for await (const c of r.chunks) got.push(String(c.choices[0]?.delta.content));
    expect(got).toEqual(['a', 'b']);
    expect(s.log).toEqual(['take only', 'free only']);
  });
});

describe("elapsedMs: the answering attempt's own time, for latency observations", () => {
  // A clock the scripted calls move: each call says how long it "took", so the figures are exact.
  it('leaves out the targets that failed before it, and the failed tries on its own target', async () => {
    let t = 0;
    const slow = adapter('slow', async () => {
      t += 400;
      throw new ProviderError('server_error', 'HTTP 500', { status: 500 });
    });
    let tries = 0;
    const fast = adapter('fast', async () => {
      if (++tries === 1) {
        t += 90;
        throw new ProviderError('rate_limited', 'busy', { status: 429 });
      }
      t += 7;
      return completion('from fast');
    });
    const res = resilience({ retries: { attempts: 1, backoffMs: 1, maxBackoffMs: 1 } });
    const r = await executeCompletion(plan([slow, fast], res), body, { now: () => t });
    expect(r.served.provider).toBe('fast');
    expect(t).toBe(497);
    expect(r.elapsedMs).toBe(7);
  });

  it('starts after the queue slot was granted', async () => {
    let t = 0;
    const only = adapter('queued', async () => {
      t += 12;
      return completion('served');
    });
    const r = await executeCompletion(plan([only]), body, {
      now: () => t,
      admit: async () => {
        t += 300;
        return () => {};
      },
    });
    expect(r.elapsedMs).toBe(12);
  });

  it("is a stream's time to its first chunk, from its own attempt's start", async () => {
    let t = 0;
    const broken = adapter(
      'broken',
      async () => completion('x'),
      // biome-ignore lint/correctness/useYield: fails before its first chunk
      async function* () {
        t += 400;
        throw new ProviderError('server_error', 'HTTP 500', { status: 500 });
      },
    );
    const flowing = adapter(
      'flowing',
      async () => completion('x'),
      async function* () {
        t += 30;
        yield chunk('a');
        t += 1_000;
        yield chunk('b', 'stop');
      },
    );
    const r = await executeStream(plan([broken, flowing]), body, { now: () => t });
    expect(r.served.provider).toBe('flowing');
    expect(r.elapsedMs).toBe(30);
    const got: string[] = [];
    for await (const c of r.chunks) got.push(String(c.choices[0]?.delta.content));
    expect(got).toEqual(['a', 'b']);
    expect(r.elapsedMs).toBe(30);
  });
});
