import { describe, expect, it } from 'vitest';
import { modelRouteStatus } from '../api/modelroute.js';
import {
  BUCKET_MS,
  MIN_REQUESTS,
  RoutingBook,
  type RoutingDelta,
  routingEvents,
  routingStatusOf,
  tierDrift,
} from './routing-status.js';

const H = 3600_000;
const now = Date.UTC(2026, 11, 1, 12);
const delta = (
  sidecarId: string,
  to: number,
  requests: Record<string, number>,
  extra: Partial<RoutingDelta> = {},
): RoutingDelta => ({
  sidecarId,
  route: 'default',
  from: to - 60_000,
  to,
  requests,
  escalations: 0,
  feedbackCount: 0,
  feedbackSum: 0,
  ...extra,
});
const monitoring = { maxEscalationRate: 0.1, maxTierShareDrift: 0.2 };

describe('routingStatusOf', () => {
  it('sums two sidecars over the window: shares, escalation rate, mean feedback', () => {
    const s = routingStatusOf(
      [
        delta(
          'a',
          now - 10_000,
          { cheap: 60, premium: 20 },
          { escalations: 6, feedbackCount: 2, feedbackSum: 1.5 },
        ),
        delta(
          'b',
          now - 20_000,
          { cheap: 15, premium: 5 },
          { escalations: 4, feedbackCount: 2, feedbackSum: 0.5 },
        ),
        // Outside the window: not counted.
        delta('c', now - 2 * H, { cheap: 1000 }),
      ],
      now,
      3600,
    )!;
    expect(s).toMatchObject({
      requests: 100,
      sidecars: 2,
      shareByTier: { cheap: 0.75, premium: 0.25 },
      escalationRate: 0.1,
      feedback: { count: 4, mean: 0.5 },
      windowSeconds: 3600,
    });
    expect(modelRouteStatus.shape.routing.parse(s)).toEqual(s);
  });

  it('measures drift against the window before, once it had enough traffic', () => {
    const deltas = [
      delta('a', now - 1.5 * H, { cheap: 80, premium: 20 }),
      delta('a', now - 0.5 * H, { cheap: 50, premium: 50 }),
    ];
    expect(routingStatusOf(deltas, now, 3600)?.drift).toBe(0.3);
    const thin = [
      delta('a', now - 1.5 * H, { cheap: MIN_REQUESTS - 1 }),
      delta('a', now - 0.5 * H, { premium: 50 }),
    ];
    expect(routingStatusOf(thin, now, 3600)?.drift).toBeUndefined();
  });

  it('says nothing without a report in the window', () => {
    expect(routingStatusOf([delta('a', now - 2 * H, { cheap: 5 })], now, 3600)).toBeUndefined();
  });
});

describe('tierDrift', () => {
  it('is the largest share change, a tier missing on one side counting as 0', () => {
    expect(tierDrift({ cheap: 0.7, premium: 0.3 }, { cheap: 0.6, premium: 0.4 })).toBe(0.1);
    expect(tierDrift({ cheap: 1 }, { premium: 1 })).toBe(1);
  });
});

describe('routingEvents', () => {
  const status = (escalationRate: number, drift?: number, requests = 100) => ({
    windowSeconds: 3600,
    from: '',
    to: '',
    requests,
    sidecars: 1,
    shareByTier: { cheap: 0.8, premium: 0.2 },
    escalationRate,
    ...(drift !== undefined ? { drift } : {}),
  });

  it('warns once when the escalation rate crosses the maximum', () => {
    const e = routingEvents(status(0.05), status(0.15), monitoring);
    expect(e).toHaveLength(1);
    expect(e[0]).toMatchObject({ type: 'Warning', reason: 'EscalationRateHigh' });
    expect(e[0]!.message).toContain('15.0%');
    expect(routingEvents(status(0.15), status(0.2), monitoring)).toEqual([]);
    expect(routingEvents(undefined, status(0.15), monitoring)).toHaveLength(1);
  });

  it('warns when the tier distribution drifts past the bound', () => {
    expect(routingEvents(status(0, 0.1), status(0, 0.3), monitoring).map((e) => e.reason)).toEqual([
      'RoutingDrift',
    ]);
    expect(routingEvents(status(0, 0.3), status(0, 0.35), monitoring)).toEqual([]);
  });

  it('says once, as a Normal Event, when the rate or the drift is back within bounds', () => {
    const back = routingEvents(status(0.15, 0.3), status(0.05, 0.1), monitoring);
    expect(back.map((e) => [e.type, e.reason])).toEqual([
      ['Normal', 'EscalationRateNormal'],
      ['Normal', 'RoutingDriftResolved'],
    ]);
    expect(back[0]!.message).toContain('5.0%');
    expect(routingEvents(status(0.05, 0.1), status(0.04, 0.1), monitoring)).toEqual([]);
    // No baseline any more is no evidence the drift ended.
    expect(routingEvents(status(0, 0.3), status(0), monitoring)).toEqual([]);
  });

  it('stays quiet on too little traffic and within bounds', () => {
    expect(routingEvents(undefined, status(0.5, 0.9, MIN_REQUESTS - 1), monitoring)).toEqual([]);
    expect(routingEvents(undefined, status(0.1, 0.2), monitoring)).toEqual([]);
  });
});

describe('RoutingBook', () => {
  it('keeps deltas per namespace/route, dropping old ones and bounding the count', () => {
    const book = new RoutingBook(2 * H, 3);
    book.add('ns', delta('a', now - 3 * H, { cheap: 1 }), now);
    book.add('ns', delta('a', now - H, { cheap: 2 }), now);
    expect(book.deltas('ns', 'default').map((d) => d.requests['cheap'])).toEqual([2]);
    for (let i = 3; i <= 6; i++) book.add('ns', delta(`s${i}`, now - 1000, { cheap: i }), now);
    expect(book.deltas('ns', 'default').map((d) => d.requests['cheap'])).toEqual([4, 5, 6]);
    expect(book.deltas('other', 'default')).toEqual([]);
  });

  it("merges one sidecar's back-to-back deltas of the same minute into one entry", () => {
    const book = new RoutingBook(2 * H);
    const minute = Math.floor(now / BUCKET_MS) * BUCKET_MS;
    for (let i = 1; i <= 5; i++)
      book.add(
        'ns',
        delta(
          'a',
          minute + i * 1000,
          { cheap: 1, premium: i === 5 ? 1 : 0 },
          { from: minute + (i - 1) * 1000 },
        ),
        now,
      );
    expect(book.deltas('ns', 'default')).toEqual([
      expect.objectContaining({ from: minute, to: minute + 5000, requests: { cheap: 5, premium: 1 } }),
    ]);
  });

  it('counts a resent delta (same sidecar and start) once', () => {
    const book = new RoutingBook(2 * H);
    book.add('ns', delta('a', now - 1000, { cheap: 3 }), now);
    book.add('ns', delta('a', now - 1000, { cheap: 3 }), now);
    book.add('ns', delta('b', now - 1000, { cheap: 4 }), now);
    expect(routingStatusOf(book.deltas('ns', 'default'), now, 3600)?.requests).toBe(7);
    book.clear();
    expect(book.deltas('ns', 'default')).toEqual([]);
  });

  it('holds a computed status for refreshMs, so a reconcile right after its own write finds it unchanged', () => {
    const book = new RoutingBook(2 * H, 100, 10_000);
    book.add('ns', delta('a', now - 1000, { cheap: 3 }), now);
    const first = book.status('ns', 'default', 3600, now);
    expect(first?.requests).toBe(3);
    book.add('ns', delta('b', now, { cheap: 4 }), now);
    expect(book.status('ns', 'default', 3600, now + 9_999)).toEqual(first);
    expect(book.status('ns', 'default', 3600, now + 10_000)?.requests).toBe(7);
    expect(book.status('ns', 'default', 60, now + 10_001)?.windowSeconds).toBe(60);
    // News after the last computation is due once the interval since it has passed; none, nothing due.
    expect(book.dueIn('ns', 'default', now + 10_002)).toBeUndefined();
    book.add('ns', delta('b', now + 5_000, { cheap: 1 }, { from: now }), now + 12_000);
    expect(book.dueIn('ns', 'default', now + 12_000)).toBe(8_001);
    expect(book.dueIn('ns', 'default', now + 30_000)).toBe(0);
    expect(book.dueIn('ns', 'elsewhere', now + 30_000)).toBeUndefined();
  });

  it('totalsSince counts the deltas routed since a time, no longer merging later ones into earlier buckets', () => {
    const book = new RoutingBook(2 * H, 100, 10_000);
    const minute = Math.floor(now / BUCKET_MS) * BUCKET_MS;
    const sec = (i: number, requests: Record<string, number>, escalations = 0) =>
      book.add(
        'ns',
        delta('a', minute + i * 1000, requests, { from: minute + (i - 1) * 1000, escalations }),
        minute + i * 1000,
      );
    sec(1, { cheap: 5 }, 2);
    sec(2, { cheap: 5, premium: 1 }, 1);
    // A move at second 2: what came before is not counted.
    const cut = minute + 2000;
    expect(book.totalsSince('ns', 'default', cut, cut)).toEqual({ requests: 0, escalations: 0, byTier: {} });
    // A report straddling the cut (sent before the sidecar heard of it) does not count, nor taint later ones.
    book.add('ns', delta('b', cut + 500, { cheap: 9 }, { from: cut - 500, escalations: 9 }), cut + 500);
    book.add('ns', delta('b', cut + 1500, { premium: 2 }, { from: cut + 500 }), cut + 1500);
    // Same minute, but after the cut: its own bucket.
    sec(3, { cheap: 3, premium: 2 }, 1);
    sec(4, { cheap: 1 });
    expect(book.totalsSince('ns', 'default', cut, cut + 10_000)).toEqual({
      requests: 8,
      escalations: 1,
      byTier: { cheap: 4, premium: 4 },
    });
    // The window's status still counts everything.
    expect(book.status('ns', 'default', 3600, cut + 10_000)?.requests).toBe(28);
    // Held for refreshMs like status(); a new `since` is computed at once.
    sec(5, { cheap: 1 });
    expect(book.totalsSince('ns', 'default', cut, cut + 15_000).requests).toBe(8);
    expect(book.totalsSince('ns', 'default', cut, cut + 20_000).requests).toBe(9);
    // Exact only from a cut on: seconds 3 to 5 were merged into one bucket starting at the first cut.
    expect(book.totalsSince('ns', 'default', minute + 3000, cut + 20_001).requests).toBe(0);
  });
});
