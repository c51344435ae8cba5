import { describe, expect, it } from 'vitest';
import type { ModelEntry } from '../api/modelroute.js';
import {
  affordPromotion,
  type NextTierInput,
  nextTier,
  promotionHeaders,
  promotionReason,
} from './promotion.js';
import type { EscalationStep } from './types.js';

const model = (name: string): ModelEntry => ({
  name,
  targets: [{ provider: 'p' }],
  pricing: { inputPerMTok: 1, outputPerMTok: 1 },
  contextWindow: 1000,
});
const step = (tierIndex: number, tierName: string): EscalationStep => ({
  tierIndex,
  tierName,
  models: [model(`${tierName}-m`)],
});
const cheap = step(0, 'cheap');
const standard = step(1, 'standard');
const premium = step(2, 'premium');

const base: NextTierInput = {
  policy: { policy: 'up', maxSteps: 2 },
  chosen: 1,
  from: 1,
  steps: 0,
  above: [premium],
  below: [cheap],
  budgetDowngraded: false,
  isDown: () => false,
  afford: () => ({ kind: 'allow' }),
};

describe('nextTier', () => {
  it('promotes up to the next tier with a fitting model', () => {
    expect(nextTier(base)).toEqual({ kind: 'promote', step: premium, direction: 'up', skipped: [] });
  });

  it('stops when the route says none, or after maxSteps promotions', () => {
    expect(nextTier({ ...base, policy: { policy: 'none', maxSteps: 2 } })).toMatchObject({
      kind: 'stop',
      why: 'disabled',
    });
    expect(nextTier({ ...base, steps: 2 })).toMatchObject({ kind: 'stop', why: 'max-steps' });
  });

  it('never goes down on its own when no tier above is left', () => {
    expect(nextTier({ ...base, above: [] })).toMatchObject({ kind: 'stop', why: 'no-tier' });
    // The top tier already failed: premium is not above it.
    expect(nextTier({ ...base, from: 2, steps: 1 })).toMatchObject({ kind: 'stop', why: 'no-tier' });
  });

  it('skips tiers whose every target is breaker-open and names them', () => {
    const chosen0 = { ...base, chosen: 0, from: 0, above: [standard, premium], below: [] };
    const r = nextTier({ ...chosen0, isDown: (s) => s === standard });
    expect(r).toEqual({
      kind: 'promote',
      step: premium,
      direction: 'up',
      skipped: [{ tierName: 'standard', why: 'breaker_open' }],
    });
    expect(nextTier({ ...chosen0, isDown: () => true })).toMatchObject({
      kind: 'stop',
      why: 'no-tier',
      skipped: [
        { tierName: 'standard', why: 'breaker_open' },
        { tierName: 'premium', why: 'breaker_open' },
      ],
    });
  });

  it('a reject budget refuses the promotion', () => {
    const r = nextTier({ ...base, afford: () => ({ kind: 'reject', budget: 'team' }) });
    expect(r).toEqual({ kind: 'stop', why: 'budget-reject', skipped: [], budget: 'team' });
  });

  it('a downgrade budget turns the promotion down to the nearest cheaper tier', () => {
    const lower = [step(0, 'nano'), cheap].map((s, i) => ({ ...s, tierIndex: i }));
    const r = nextTier({
      ...base,
      chosen: 2,
      from: 2,
      above: [step(3, 'ultra')],
      below: lower,
      afford: () => ({ kind: 'downgrade', budget: 'team' }),
    });
    expect(r).toMatchObject({ kind: 'promote', direction: 'down', budget: 'team' });
    expect(r.kind === 'promote' && r.step.tierName).toBe('cheap');
  });

  it('a request the gate already downgraded only ever goes down', () => {
    const r = nextTier({ ...base, budgetDowngraded: true, afford: () => ({ kind: 'allow' }) });
    expect(r).toMatchObject({ kind: 'promote', direction: 'down', step: cheap });
    expect(nextTier({ ...base, budgetDowngraded: true, below: [] })).toMatchObject({ why: 'no-tier' });
  });

  it('going down never returns to a tier at or above the chosen one', () => {
    const r = nextTier({
      ...base,
      chosen: 0,
      from: 0,
      above: [standard],
      below: [cheap, standard],
      afford: () => ({ kind: 'downgrade', budget: 'b' }),
    });
    expect(r).toMatchObject({ kind: 'stop', why: 'no-tier', budget: 'b' });
  });
});

describe('promotionReason', () => {
  it('promotes on provider-side failures, by their reason', () => {
    expect(promotionReason({ aborted: false, lastReason: 'connection', attempts: 1 })).toBe('connection');
    expect(promotionReason({ aborted: false, lastReason: 'breaker_open', attempts: 0 })).toBe('breaker_open');
    expect(promotionReason({ aborted: false, lastReason: undefined, attempts: 0 })).toBe('no_target');
  });

  it('never promotes a client mistake or a request whose client left', () => {
    expect(promotionReason({ aborted: false, lastReason: 'client_error', attempts: 1 })).toBeUndefined();
    expect(promotionReason({ aborted: true, lastReason: 'connection', attempts: 1 })).toBeUndefined();
    expect(promotionReason({ aborted: false, lastReason: 'quality', attempts: 1 })).toBeUndefined();
  });
});

describe('affordPromotion', () => {
  const room = (
    name: string,
    routeRef: string | undefined,
    action: 'reject' | 'downgrade',
    left: number,
  ) => ({
    name,
    routeRef,
    action,
    limitUSD: 1,
    spentUSD: 1 - left,
    reservedUSD: 0,
    exceeded: false,
  });
  const budgets = [
    room('other', 'elsewhere', 'reject', 0),
    room('soft', undefined, 'downgrade', 0.5),
    room('hard', 'r', 'reject', 0.2),
  ];
  it('allows what every covering budget has left', () => {
    expect(affordPromotion(budgets, 'r', 0.1)).toEqual({ kind: 'allow' });
    expect(affordPromotion([], 'r', 99)).toEqual({ kind: 'allow' });
  });
  it('answers with the action of the budget that cannot cover it, reject first', () => {
    expect(affordPromotion(budgets, 'r', 0.3)).toEqual({ kind: 'reject', budget: 'hard' });
    expect(affordPromotion(budgets, 'other-route', 0.6)).toEqual({ kind: 'downgrade', budget: 'soft' });
  });
  it("counts other requests' reservations as room taken, as the gate's admission does", () => {
    const hard = room('hard', 'r', 'reject', 0.5);
    expect(affordPromotion([hard], 'r', 0.4)).toEqual({ kind: 'allow' });
    expect(affordPromotion([{ ...hard, reservedUSD: 0.2 }], 'r', 0.4)).toEqual({
      kind: 'reject',
      budget: 'hard',
    });
    expect(affordPromotion([{ ...hard, reservedUSD: 0.1 }], 'r', 0.4)).toEqual({ kind: 'allow' });
  });
  it('refuses from a budget over its token limit, whatever USD is left', () => {
    expect(affordPromotion([{ ...room('hard', 'r', 'reject', 0.9), exceeded: true }], 'r', 0.01)).toEqual({
      kind: 'reject',
      budget: 'hard',
    });
  });
});

describe('promotionHeaders', () => {
  it('names the chosen tier only when another served', () => {
    expect(promotionHeaders('cheap', 'standard')).toEqual({ 'x-tiermesh-promoted-from': 'cheap' });
    expect(promotionHeaders('cheap', 'cheap')).toEqual({});
    expect(promotionHeaders('', 'cheap')).toEqual({});
  });
});
