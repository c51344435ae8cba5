import { describe, expect, it } from 'vitest';
import { routingStatusOf } from '../operator/routing-status.js';
import { RoutingTally } from './routing-tally.js';

describe('RoutingTally', () => {
  it('a clock stepped back never makes an interval end before it starts', () => {
    const t = new RoutingTally(10_000);
    t.request('default', 'cheap', 0);
    expect(t.drain('pod-a', 9_700)).toEqual([expect.objectContaining({ from: 10_000, to: 10_000 })]);
    t.request('default', 'cheap', 0);
    expect(t.drain('pod-a', 9_800)).toEqual([expect.objectContaining({ from: 10_000, to: 10_000 })]);
    t.request('default', 'cheap', 0);
    expect(t.drain('pod-a', 12_000)).toEqual([expect.objectContaining({ from: 10_000, to: 12_000 })]);
  });

  it('counts per route since the last drain, and what it drains is what the operator sums', () => {
    const t = new RoutingTally(1000);
    for (let i = 0; i < 8; i++) t.request('default', 'cheap', i < 2 ? 1 : 0);
    t.request('default', 'premium', 0);
    t.request('default', 'premium', 0);
    t.escalation('default');
    t.feedback('default', 1);
    t.feedback('default', 0);
    t.request('other', 'cheap', 0);
    const deltas = t.drain('pod-a', 61_000);
    expect(deltas).toEqual([
      {
        sidecarId: 'pod-a',
        route: 'default',
        from: 1000,
        to: 61_000,
        requests: { cheap: 8, premium: 2 },
        escalations: 3,
        feedbackCount: 2,
        feedbackSum: 1,
      },
      expect.objectContaining({ route: 'other', requests: { cheap: 1 } }),
    ]);
    const status = routingStatusOf(
      deltas.filter((d) => d.route === 'default'),
      61_000,
      3600,
    )!;
    expect(status).toMatchObject({
      requests: 10,
      escalationRate: 0.3,
      shareByTier: { cheap: 0.8, premium: 0.2 },
    });
    expect(t.drain('pod-a', 62_000)).toEqual([]);
  });
});
