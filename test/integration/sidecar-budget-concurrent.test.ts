/**
 * Budgets under concurrency, over real sockets: requests in flight reserve their pre-call estimate, so a burst
 * cannot all pass on the same booked total (before, 20 concurrent 0.2 USD requests against a 1 USD reject budget
 * were all served, 4 USD spent), and every admitted request gives its reservation back however it ends.
 *
 * The upstream counts the prompt exactly as the sidecar estimates it and answers max_tokens completion tokens, so
 * each estimate is exact and the bound "booked + reserved within the limit" can be asserted to the cent. The
 * answers are held until every request has been either refused or reached the upstream: all are in flight at once.
 * Tier promotion asks the same question of the budget: the room left once the requests in flight are reserved.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ChatCompletionRequest } from '../../src/api/openai.js';
import { costUSD } from '../../src/budget/cost.js';
import { estimateRequestTokens } from '../../src/routing/tokens.js';
import { type Behaviour, behave, type Fixture, startOpenAIFixture } from '../fixtures/providers/index.js';
import { COMPLEX_PROMPT, routeConfig, SIMPLE_PROMPT } from '../helpers/config.js';
import { metricSum, metricValue, startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

const N = 20;
const MAX_TOKENS = 100;
const LIMIT_USD = 1;
// Premium at 1000 USD per million tokens: one answer costs ~0.15 USD, so about six fit the 1 USD limit.
const PREMIUM = { inputPerMTok: 1000, outputPerMTok: 1000 };
const CHEAP = { inputPerMTok: 1, outputPerMTok: 1 };
const EPS = 1e-9;

let up: Fixture | undefined;
/** The failing cheap upstream of the promotion tests. */
let down: Fixture | undefined;
let sc: TestSidecar | undefined;
afterEach(async () => {
  await sc?.close(1000);
  await up?.close();
  await down?.close();
  sc = undefined;
  up = undefined;
  down = undefined;
});

const body = (k: number, extra: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest => ({
  model: 'auto',
  max_tokens: MAX_TOKENS,
  // One tag per request (same length for all, so every estimate is the same), for the upstream to recognise it.
  messages: [{ role: 'user', content: `${COMPLEX_PROMPT} ref-${String(k).padStart(2, '0')}` }],
  ...extra,
});
const PROMPT_TOKENS = estimateRequestTokens(body(0));
const premiumCost = costUSD(PREMIUM, PROMPT_TOKENS, MAX_TOKENS);
const cheapCost = costUSD(CHEAP, PROMPT_TOKENS, MAX_TOKENS);
const fitting = Math.floor(LIMIT_USD / premiumCost + EPS);

/** The tag of a call that reached the upstream. */
const refOf = (b: unknown): number => {
  const content = (b as ChatCompletionRequest).messages[0]?.content;
  return Number(/ref-(\d+)/.exec(typeof content === 'string' ? content : '')?.[1] ?? -1);
};

async function start(action: 'reject' | 'downgrade', behaviour: (ref: number) => Behaviour) {
  up = await startOpenAIFixture();
  sc = await startTestSidecar(
    routeConfig({
      upstreams: [{ name: 'u', baseURL: up.baseURL }],
      cheap: [{ name: 'small', upstreams: ['u'], ...CHEAP }],
      premium: [{ name: 'big', upstreams: ['u'], ...PREMIUM }],
      budgets: [
        { name: 'b', window: { period: 'daily', timezone: 'UTC' }, limit: { usd: LIMIT_USD }, action },
      ],
    }),
  );
  const fixture = up;
  // Held until every request of the burst was refused or reached the upstream.
  let release!: () => void;
  const held = new Promise<void>((r) => {
    release = r;
  });
  let refused = 0;
  const settle = () => {
    if (refused + new Set(fixture.calls.map((c) => refOf(c.body))).size >= N) release();
  };
  fixture.script((req) => {
    queueMicrotask(settle);
    return { ...behaviour(refOf(req.body)), waitFor: held };
  });
  return {
    refusedOne: () => {
      refused++;
      settle();
    },
    /** Settles once every request was refused or reached the upstream (and the answers go out). */
    held,
  };
}

const post = (s: TestSidecar, b: ChatCompletionRequest, signal?: AbortSignal) =>
  fetch(`${s.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(b),
    ...(signal ? { signal } : {}),
  });

const ok = (): Behaviour => behave.ok('answer', { prompt: PROMPT_TOKENS, completion: MAX_TOKENS });

async function metrics(s: TestSidecar): Promise<string> {
  return (await fetch(`${s.url}/metrics`)).text();
}

describe('budgets under concurrent requests', () => {
  it('a reject budget serves only what fits: booked + reserved stays within the limit', async () => {
    expect(fitting).toBeGreaterThanOrEqual(2);
    expect(fitting).toBeLessThan(N);
    const { refusedOne } = await start('reject', ok);
    const s = sc!;
    const statuses = await Promise.all(
      Array.from({ length: N }, async (_, k) => {
        const r = await post(s, body(k));
        await r.text();
        if (r.status !== 200) refusedOne();
        return r.status;
      }),
    );
    expect(statuses.filter((x) => x === 200)).toHaveLength(fitting);
    expect(statuses.filter((x) => x === 429)).toHaveLength(N - fitting);
    expect(up!.calls).toHaveLength(fitting);
    const text = await metrics(s);
    const spent = metricSum(text, 'tiermesh_cost_usd_total');
    expect(spent).toBeCloseTo(fitting * premiumCost, 9);
    expect(spent).toBeLessThanOrEqual(LIMIT_USD + EPS);
    expect(metricValue(text, 'tiermesh_budget_remaining_usd', { budget: 'b' })).toBeCloseTo(
      LIMIT_USD - spent,
      9,
    );
  });

  it('a downgrade budget keeps only what fits on premium and serves the rest from the cheap tier', async () => {
    const { refusedOne } = await start('downgrade', ok);
    const s = sc!;
    const tiers = await Promise.all(
      Array.from({ length: N }, async (_, k) => {
        const r = await post(s, body(k));
        await r.text();
        if (r.status !== 200) refusedOne();
        return `${r.status}/${r.headers.get('x-tiermesh-tier')}`;
      }),
    );
    const premium = tiers.filter((t) => t === '200/premium').length;
    const cheap = tiers.filter((t) => t === '200/cheap').length;
    expect(premium + cheap).toBe(N);
    // Cheap requests reserve too (their own, cheap estimate), so at most `fitting` premium ones, at least one less.
    expect(premium).toBeGreaterThanOrEqual(fitting - 1);
    expect(premium).toBeLessThanOrEqual(fitting);
    expect(cheap).toBeGreaterThan(N / 2);
    const spent = metricSum(await metrics(s), 'tiermesh_cost_usd_total');
    expect(spent).toBeCloseTo(premium * premiumCost + cheap * cheapCost, 9);
    expect(spent).toBeLessThanOrEqual(LIMIT_USD + EPS);
  });

  it('leaks no reservation: after upstream errors, client aborts and streams, the budget admits what is left', async () => {
    // By tag: 0-1 an upstream 500, 2-3 an upstream that never answers (the client leaves), then JSON and streamed
    // answers. The failing four are admitted first and held while the rest arrive, so exactly what is left fits.
    const ERRORS = 2;
    const HANGS = 2;
    const failing = ERRORS + HANGS;
    expect(fitting).toBeGreaterThan(failing);
    const { refusedOne, held } = await start('reject', (ref) =>
      ref < ERRORS ? behave.error(500) : ref < failing ? behave.hang() : ok(),
    );
    const s = sc!;
    const fixture = up!;
    const reached = (k: number) => fixture.calls.some((c) => refOf(c.body) === k);
    const aborts = Array.from({ length: HANGS }, () => new AbortController());
    const first = Array.from({ length: failing }, (_, k) =>
      post(s, body(k), k < ERRORS ? undefined : aborts[k - ERRORS]!.signal).then(
        async (r) => {
          await r.text();
          return r.status;
        },
        () => 499,
      ),
    );
    await vi.waitFor(() => expect(fixture.calls).toHaveLength(failing), { timeout: 10_000, interval: 5 });
    const rest = Array.from({ length: N - failing }, async (_, i) => {
      const k = failing + i;
      const r = await post(s, body(k, k % 2 === 1 ? { stream: true } : {}));
      await r.text();
      if (!reached(k)) refusedOne();
      return r.status;
    });
    // Everyone arrived: the hanging requests' clients give up, the held answers (errors included) go out.
    await held;
    for (const a of aborts) a.abort();
    const statuses = await Promise.all([...first, ...rest]);
    expect(statuses.slice(0, failing)).toEqual([
      ...Array<number>(ERRORS).fill(502),
      ...Array<number>(HANGS).fill(499),
    ]);
    const served = statuses.filter((x) => x === 200).length;
    expect(served).toBe(fitting - failing);
    // Every request has ended in the sidecar (its log line is written after its reservation is settled).
    await vi.waitFor(() => expect(s.logs.byMsg('request')).toHaveLength(N), {
      timeout: 10_000,
      interval: 10,
    });
    const text = await metrics(s);
    const spent = metricSum(text, 'tiermesh_cost_usd_total');
    // The hanging calls' prompts reached the upstream: usage already spent is booked although their clients left.
    expect(spent).toBeCloseTo(served * premiumCost + HANGS * costUSD(PREMIUM, PROMPT_TOKENS, 0), 9);
    expect(metricValue(text, 'tiermesh_budget_remaining_usd', { budget: 'b' })).toBeCloseTo(
      LIMIT_USD - spent,
      9,
    );
    // Nothing is held any more: one after another, exactly what is left is served again.
    fixture.script(() => ok());
    const fitsAfter = Math.floor((LIMIT_USD - spent) / premiumCost + EPS);
    expect(fitsAfter).toBeGreaterThan(0);
    const after: number[] = [];
    for (let i = 0; i <= fitsAfter; i++) {
      const r = await post(s, body(0));
      await r.text();
      after.push(r.status);
    }
    expect(after).toEqual([...Array<number>(fitsAfter).fill(200), 429]);
  });
});

describe('tier promotion under concurrent requests', () => {
  // A simple request is decided cheap; its cheap upstream answers 500, so it asks to be promoted to premium.
  const simple: ChatCompletionRequest = {
    model: 'auto',
    max_tokens: MAX_TOKENS,
    messages: [{ role: 'user', content: SIMPLE_PROMPT }],
  };
  const SIMPLE_TOKENS = estimateRequestTokens(simple);
  const promotedCost = costUSD(PREMIUM, SIMPLE_TOKENS, MAX_TOKENS);
  const ownCheapCost = costUSD(CHEAP, SIMPLE_TOKENS, MAX_TOKENS);

  /** Premium answers of tagged requests are held until `release`; the promoted simple request's answer is not. */
  async function startPromoting(limitUSD: number) {
    down = await startOpenAIFixture();
    down.fallback(behave.error(500));
    up = await startOpenAIFixture();
    sc = await startTestSidecar(
      routeConfig({
        upstreams: [
          { name: 'down', baseURL: down.baseURL },
          { name: 'u', baseURL: up.baseURL },
        ],
        cheap: [{ name: 'small', upstreams: ['down'], ...CHEAP }],
        premium: [{ name: 'big', upstreams: ['u'], ...PREMIUM }],
        budgets: [
          {
            name: 'b',
            window: { period: 'daily', timezone: 'UTC' },
            limit: { usd: limitUSD },
            action: 'reject',
          },
        ],
      }),
    );
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    up.script((req) =>
      refOf(req.body) >= 0
        ? { ...ok(), waitFor: held }
        : behave.ok('promoted', { prompt: SIMPLE_TOKENS, completion: MAX_TOKENS }),
    );
    return release;
  }

  it('is not promoted into room that requests in flight reserved, though nothing is booked yet', async () => {
    // Two premium requests in flight reserve 2 x premiumCost; what is left covers half the promotion.
    const limit = 2 * premiumCost + promotedCost / 2;
    const release = await startPromoting(limit);
    const s = sc!;
    const fixture = up!;
    const inFlight = [0, 1].map(async (k) => {
      const r = await post(s, body(k));
      await r.text();
      return r.status;
    });
    await vi.waitFor(() => expect(fixture.calls).toHaveLength(2), { timeout: 10_000, interval: 5 });
    const r = await post(s, simple);
    await r.text();
    // The cheap tier's own error; the premium upstream never saw the request.
    expect(r.status).toBe(502);
    expect(fixture.calls).toHaveLength(2);
    expect(down!.calls).toHaveLength(1);
    expect(s.logs.byMsg('no promotion').at(-1)).toMatchObject({ why: 'budget-reject', budget: 'b' });
    release();
    expect(await Promise.all(inFlight)).toEqual([200, 200]);
    const spent = metricSum(await metrics(s), 'tiermesh_cost_usd_total');
    expect(spent).toBeCloseTo(2 * premiumCost, 9);
    expect(spent).toBeLessThanOrEqual(limit + EPS);
  });

  it('is promoted when the room is there, its own cheap reservation not counted against it', async () => {
    // Room for the promotion, not for the promotion plus the request's own (cheap) reservation.
    const limit = promotedCost + ownCheapCost / 2;
    await startPromoting(limit);
    const s = sc!;
    const r = await post(s, simple);
    expect(await r.text()).toContain('promoted');
    expect(r.status).toBe(200);
    expect(r.headers.get('x-tiermesh-promoted-from')).toBe('cheap');
    expect(metricSum(await metrics(s), 'tiermesh_cost_usd_total')).toBeCloseTo(promotedCost, 9);
  });
});
