import { afterEach, describe, expect, it } from 'vitest';
import { estimateCostUSD } from '../budget/cost.js';
import { compileManifests, parseManifests } from '../config/manifests.js';
import { BreakerBoard } from '../providers/breaker.js';
import { ExecutionError } from '../providers/failover.js';
import { defaultKeyEnv } from '../providers/keys.js';
import { decide } from '../routing/decide.js';
import { chosenStep, promotionPlanner, tierIsDown, withPromotion } from './promote.js';
import { runtimeBuilder, type SidecarRuntime } from './runtime.js';

const YAML = (budget: string) => `
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: r, namespace: t }
spec:
  providers: [{ name: a, type: simulated }, { name: b, type: simulated }, { name: c, type: simulated }]
  models:
    - { name: small, targets: [{ provider: a }], pricing: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 100000 }
    - { name: mid, targets: [{ provider: b }], pricing: { inputPerMTok: 1000, outputPerMTok: 1000 }, contextWindow: 100000 }
    - { name: big, targets: [{ provider: c }], pricing: { inputPerMTok: 2000, outputPerMTok: 2000 }, contextWindow: 100000 }
  tiers: [{ name: cheap, models: [small] }, { name: standard, models: [mid] }, { name: premium, models: [big] }]
  taskTypes: { std: standard }
  promotion: { policy: up, maxSteps: 2 }
  resilience:
    breaker: { errorThresholdPercentage: 1, volumeThreshold: 1, resetTimeoutMs: 600000, rollingWindowMs: 60000 }
${budget}`;
const budget = (usd: number, action: string) => `---
apiVersion: tiermesh.dev/v1alpha1
kind: ModelBudget
metadata: { name: team, namespace: t }
spec: { limit: { usd: ${usd} }, window: { period: daily }, action: ${action} }
`;

let board = new BreakerBoard();
afterEach(() => {
  board.shutdown();
  board = new BreakerBoard();
});

function runtime(extra = ''): SidecarRuntime {
  const build = runtimeBuilder({ breakers: board, keyEnv: defaultKeyEnv({}), now: () => 0 });
  return build(compileManifests(parseManifests(YAML(extra))), undefined);
}
const failed = (lastReason: string, aborted = false) =>
  new ExecutionError('TM_ALL_TARGETS_FAILED', 'x', {
    fallbacks: [],
    attempts: 1,
    lastReason: lastReason as never,
    aborted,
  });
/** A request holding no reservation of its own. */
const none = () => [];
const request = {
  model: 'auto',
  messages: [{ role: 'user' as const, content: 'hello there' }],
  max_tokens: 100,
};

/** Opens the breaker of one provider's target the honest way: by failing a call through it. */
async function openBreaker(rt: SidecarRuntime, model: string): Promise<void> {
  const m = rt.snapshot.routes[0]!.spec.models.find((x) => x.name === model)!;
  const t = rt.providers.get('r')!.plan([m]).targets[0]!;
  await t.breaker.run(() => Promise.reject(new Error('down'))).catch(() => {});
  expect(t.breaker.state).toBe('open');
}

describe('promotionPlanner', () => {
  it('promotes a failed tier to the next one, by the failure reason', () => {
    const rt = runtime();
    const d = decide({ snapshot: rt.snapshot, request });
    expect(d.tierName).toBe('cheap');
    const p = promotionPlanner(rt, d, 0, none).next(d.tierIndex, 0, failed('connection'));
    expect(p?.reason).toBe('connection');
    expect(p?.result).toMatchObject({ kind: 'promote', direction: 'up', step: { tierName: 'standard' } });
  });

  it('does not promote a client error, an aborted request or a non-execution error', () => {
    const rt = runtime();
    const d = decide({ snapshot: rt.snapshot, request });
    const planner = promotionPlanner(rt, d, 0, none);
    expect(planner.next(0, 0, failed('client_error'))).toBeUndefined();
    expect(planner.next(0, 0, failed('connection', true))).toBeUndefined();
    expect(planner.next(0, 0, new Error('boom'))).toBeUndefined();
  });

  it('skips a tier whose breakers are all open', async () => {
    const rt = runtime();
    await openBreaker(rt, 'mid');
    const d = decide({ snapshot: rt.snapshot, request });
    expect(tierIsDown(rt.providers.get('r')!, d.escalation[0]!)).toBe(true);
    expect(tierIsDown(rt.providers.get('r')!, d.escalation[1]!)).toBe(false);
    const p = promotionPlanner(rt, d, 0, none).next(0, 0, failed('timeout'));
    expect(p?.result).toMatchObject({
      kind: 'promote',
      step: { tierName: 'premium' },
      skipped: [{ tierName: 'standard', why: 'breaker_open' }],
    });
  });

  it('a reject budget that cannot cover the costlier tier refuses the promotion', () => {
    // mid costs 1000 USD per 1M tokens: ~110 tokens is ~0.11 USD, over a 0.01 USD budget.
    const rt = runtime(budget(0.01, 'reject'));
    const d = decide({ snapshot: rt.snapshot, request });
    const p = promotionPlanner(rt, d, 0, none).next(0, 0, failed('server_error'));
    expect(p?.result).toMatchObject({ kind: 'stop', why: 'budget-reject', budget: 'team' });
    const roomy = runtime(budget(100, 'reject'));
    const d2 = decide({ snapshot: roomy.snapshot, request });
    expect(promotionPlanner(roomy, d2, 0, none).next(0, 0, failed('server_error'))?.result.kind).toBe(
      'promote',
    );
  });

  describe('budget room counts what requests in flight reserved, as the gate admits', () => {
    /** The estimate of the tier above the decision's: what a promotion up must find room for. */
    const aboveUSD = (d: ReturnType<typeof decide>) =>
      estimateCostUSD(d.escalation[0]!.models[0]!, d.estimatedPromptTokens, d.requestedMaxTokens);
    /** Another request admitted by the gate, its estimate reserved while it is in flight. */
    const admitted = (rt: SidecarRuntime, usd: number) => {
      const v = rt.budget.check({ route: 'r', now: 0, estimatedUSD: usd });
      expect(v.kind).toBe('allow');
      return v.kind === 'allow' ? v.reservations : [];
    };

    it('with others filling what is left, no promotion; without them, promotion', () => {
      const rt = runtime(budget(1, 'reject'));
      const d = decide({ snapshot: rt.snapshot, request });
      const usd = aboveUSD(d);
      expect(usd).toBeGreaterThan(0.05);
      expect(promotionPlanner(rt, d, 0, none).next(0, 0, failed('server_error'))?.result.kind).toBe(
        'promote',
      );
      // Nothing is booked yet: only the reservations take the room.
      admitted(rt, 1 - usd / 2);
      expect(rt.budget.status(0)[0]!.spentUSD).toBe(0);
      expect(promotionPlanner(rt, d, 0, none).next(0, 0, failed('server_error'))?.result).toMatchObject({
        kind: 'stop',
        why: 'budget-reject',
        budget: 'team',
      });
    });

    it("a downgrade budget filled by others' reservations sends the promotion down", () => {
      const rt = runtime(budget(1, 'downgrade'));
      const d = decide({ snapshot: rt.snapshot, request, headers: { task: 'std' } });
      expect(d.tierName).toBe('standard');
      const premiumUSD = aboveUSD(d);
      expect(promotionPlanner(rt, d, 0, none).next(1, 0, failed('timeout'))?.result).toMatchObject({
        direction: 'up',
        step: { tierName: 'premium' },
      });
      admitted(rt, 1 - premiumUSD / 2);
      expect(promotionPlanner(rt, d, 0, none).next(1, 0, failed('timeout'))?.result).toMatchObject({
        kind: 'promote',
        direction: 'down',
        step: { tierName: 'cheap' },
      });
    });

    it("the request's own reservation is not room taken: its promoted answer settles it", () => {
      const rt = runtime(budget(1, 'reject'));
      const d = decide({ snapshot: rt.snapshot, request });
      const own = admitted(rt, 1 - aboveUSD(d) / 2);
      expect(promotionPlanner(rt, d, 0, () => own).next(0, 0, failed('connection'))?.result.kind).toBe(
        'promote',
      );
      // The same amount held by another request leaves no room.
      expect(promotionPlanner(rt, d, 0, none).next(0, 0, failed('connection'))?.result.kind).toBe('stop');
    });

    it('reads the room again at each failed tier: what others reserved meanwhile counts', () => {
      const rt = runtime(budget(1, 'reject'));
      const d = decide({ snapshot: rt.snapshot, request });
      const planner = promotionPlanner(rt, d, 0, none);
      expect(planner.next(0, 0, failed('connection'))?.result).toMatchObject({
        step: { tierName: 'standard' },
      });
      admitted(rt, 0.99);
      expect(planner.next(1, 1, failed('connection'))?.result).toMatchObject({
        kind: 'stop',
        why: 'budget-reject',
      });
    });
  });

  it('a downgrade budget sends a failed standard tier down to cheap instead of up', () => {
    const rt = runtime(budget(0.01, 'downgrade'));
    const d = decide({ snapshot: rt.snapshot, request, headers: { task: 'std' } });
    expect(d.tierName).toBe('standard');
    const p = promotionPlanner(rt, d, 0, none).next(1, 0, failed('rate_limited'));
    expect(p?.result).toMatchObject({ kind: 'promote', direction: 'down', step: { tierName: 'cheap' } });
  });
});

describe('withPromotion', () => {
  const hooks = () => {
    const events: unknown[] = [];
    return {
      events,
      hooks: {
        promoted: (e: unknown) => events.push({ promoted: e }),
        stopped: (e: unknown) => events.push({ stopped: e }),
      },
    };
  };

  it('runs the chosen tier, then the promoted ones, until one answers', async () => {
    const rt = runtime();
    const d = decide({ snapshot: rt.snapshot, request });
    const tried: string[] = [];
    const h = hooks();
    const r = await withPromotion(
      promotionPlanner(rt, d, 0, none),
      chosenStep(d),
      async (step) => {
        tried.push(step.tierName);
        if (step.tierName !== 'premium') throw failed('connection');
        return 'answer';
      },
      h.hooks,
    );
    expect(tried).toEqual(['cheap', 'standard', 'premium']);
    expect(r).toMatchObject({ value: 'answer', step: { tierName: 'premium' }, promotedFrom: 'cheap' });
    expect(h.events).toEqual([
      { promoted: { from: 'cheap', to: 'standard', direction: 'up', reason: 'connection', skipped: [] } },
      { promoted: { from: 'standard', to: 'premium', direction: 'up', reason: 'connection', skipped: [] } },
    ]);
  });

  it('says nothing was promoted when the chosen tier answers', async () => {
    const rt = runtime();
    const d = decide({ snapshot: rt.snapshot, request });
    const r = await withPromotion(
      promotionPlanner(rt, d, 0, none),
      chosenStep(d),
      async () => 1,
      hooks().hooks,
    );
    expect(r.promotedFrom).toBeUndefined();
  });

  it('rethrows the last tier error when the steps run out, after saying why', async () => {
    const rt = runtime();
    const d = decide({ snapshot: rt.snapshot, request });
    const h = hooks();
    const errors = new Map<string, ExecutionError>();
    const p = withPromotion(
      promotionPlanner(rt, d, 0, none),
      chosenStep(d),
      async (step) => {
        const e = failed('timeout');
        errors.set(step.tierName, e);
        throw e;
      },
      h.hooks,
    );
    // maxSteps 2: cheap, then standard and premium; premium's own error is what the client gets.
    const thrown = await p.catch((e: unknown) => e);
    expect(thrown).toBe(errors.get('premium'));
    expect([...errors.keys()]).toEqual(['cheap', 'standard', 'premium']);
    expect(h.events.at(-1)).toEqual({
      stopped: { from: 'premium', reason: 'timeout', why: 'max-steps', skipped: [] },
    });
  });

  it('rethrows a client error at once, without asking to promote', async () => {
    const rt = runtime();
    const d = decide({ snapshot: rt.snapshot, request });
    const h = hooks();
    const e = failed('client_error');
    await expect(
      withPromotion(
        promotionPlanner(rt, d, 0, none),
        chosenStep(d),
        async () => {
          throw e;
        },
        h.hooks,
      ),
    ).rejects.toBe(e);
    expect(h.events).toEqual([]);
  });
});
