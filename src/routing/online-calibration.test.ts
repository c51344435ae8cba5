import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../scripts/train/rng.js';
import type { CalibrationStatus } from '../api/modelroute.js';
import { type CalibrationLimits, nextCalibration } from './online-calibration.js';

const limits: CalibrationLimits = {
  maxShift: 0.1,
  step: 0.02,
  intervalSeconds: 60,
  minSamples: 100,
  deadband: 0.02,
  maxEscalationRate: 0.1,
};
const t0 = Date.parse('2026-12-01T12:00:00.000Z');
const at = (s: number) => new Date(t0 + s * 1000);
const stats = (requests: number, escalations: number, premium = 0) => ({ requests, escalations, premium });

describe('nextCalibration', () => {
  it('starts at offset 0 and holds until minSamples requests were routed since it started', () => {
    const first = nextCalibration(undefined, stats(10, 5), limits, at(0));
    expect(first.moved).toBe(false);
    expect(first.state).toMatchObject({ offset: 0, since: at(0).toISOString(), samples: 10, moves: 0 });
    expect(first.state.reason).toContain('waiting for 100 requests');
    // A high rate on too few requests moves nothing, however long ago the last move was.
    const later = nextCalibration(first.state, stats(99, 50), limits, at(3600));
    expect(later.moved).toBe(false);
    expect(later.state.offset).toBe(0);
  });

  it('raises the premium share one step when the escalation rate is above the target', () => {
    const start = nextCalibration(undefined, stats(0, 0), limits, at(0)).state;
    const s = nextCalibration(start, stats(200, 40, 60), limits, at(61));
    expect(s.moved).toBe(true);
    expect(s.state).toMatchObject({
      offset: 0.02,
      since: at(61).toISOString(),
      lastMove: at(61).toISOString(),
      samples: 0,
      moves: 1,
    });
    expect(s.state.reason).toContain('escalation rate 20.0% over 200 requests is above 10.0%');
  });

  it('moves at most once per intervalSeconds, with a reason that does not change while it waits', () => {
    const moved = nextCalibration(
      { offset: 0, since: at(0).toISOString(), samples: 0, moves: 0, reason: 'started' },
      stats(500, 100),
      limits,
      at(60),
    ).state;
    const a = nextCalibration(moved, stats(500, 100), limits, at(70));
    const b = nextCalibration(a.state, stats(500, 100), limits, at(80));
    expect(a.moved || b.moved).toBe(false);
    expect(b.state.offset).toBe(0.02);
    expect(a.state.reason).toBe(b.state.reason);
    expect(a.state.reason).toContain(`no move before ${at(120).toISOString()}`);
    expect(nextCalibration(b.state, stats(500, 100), limits, at(120)).state.offset).toBe(0.04);
  });

  it('never goes past maxShift, and says so while the rate stays high', () => {
    let s: CalibrationStatus | undefined;
    for (let i = 1; i <= 20; i++) s = nextCalibration(s, stats(1000, 500), limits, at(i * 61)).state;
    expect(s!.offset).toBe(0.1);
    expect(s!.moves).toBe(5);
    expect(s!.reason).toContain('at maxShift 10.0%');
  });

  it('holds inside the deadband, gives back a step below it, and never goes below 0', () => {
    const prev: CalibrationStatus = {
      offset: 0.04,
      since: at(0).toISOString(),
      samples: 0,
      moves: 2,
      reason: '',
    };
    // 9% is at or under the 10% target but within the 2-point deadband: hold.
    const inside = nextCalibration(prev, stats(1000, 90), limits, at(61));
    expect(inside.moved).toBe(false);
    expect(inside.state.offset).toBe(0.04);
    expect(inside.state.reason).toContain('holding +4.0%');
    // Exactly at the target is not above it.
    expect(nextCalibration(prev, stats(1000, 100), limits, at(61)).moved).toBe(false);
    const down = nextCalibration(prev, stats(1000, 50), limits, at(61));
    expect(down.state.offset).toBe(0.02);
    let s = down.state;
    for (let i = 2; i < 10; i++) s = nextCalibration(s, stats(1000, 0), limits, at(61 * i)).state;
    expect(s.offset).toBe(0);
    expect(s.moves).toBe(4);
    expect(s.reason).toContain('the configured premium share holds');
  });

  it('a maxShift lowered below the offset bounds it at once', () => {
    const prev: CalibrationStatus = {
      offset: 0.1,
      since: at(0).toISOString(),
      samples: 0,
      moves: 5,
      reason: '',
    };
    const s = nextCalibration(prev, stats(0, 0), { ...limits, maxShift: 0.04 }, at(1));
    expect(s.moved).toBe(true);
    expect(s.state.offset).toBe(0.04);
  });

  it('resumes from a state read back from status (a new leader): offset and move count carry on', () => {
    const stored = JSON.parse(
      JSON.stringify({ offset: 0.06, since: at(0).toISOString(), samples: 40, moves: 3, reason: 'x' }),
    ) as CalibrationStatus;
    const s = nextCalibration(stored, stats(150, 30), limits, at(90));
    expect(s.state).toMatchObject({ offset: 0.08, moves: 4 });
  });

  it('closed loop: settles where the escalation rate meets the target and does not oscillate', () => {
    // A route whose escalation rate falls as more traffic goes premium, observed with binomial noise.
    const rand = mulberry32(11);
    const rateAt = (offset: number) => Math.max(0, 0.17 - 1.2 * offset);
    let s: CalibrationStatus | undefined;
    const offsets: number[] = [];
    let requests = 0;
    let escalations = 0;
    for (let pass = 1; pass <= 400; pass++) {
      // 100 requests routed with the current offset between two passes (20 s apart).
      for (let i = 0; i < 100; i++) {
        requests++;
        if (rand() < rateAt(s?.offset ?? 0)) escalations++;
      }
      const step = nextCalibration(s, stats(requests, escalations), limits, at(pass * 20));
      s = step.state;
      if (step.moved) requests = escalations = 0;
      offsets.push(s.offset);
      expect(s.offset).toBeGreaterThanOrEqual(0);
      expect(s.offset).toBeLessThanOrEqual(limits.maxShift);
    }
    // The rate is 10% at offset 0.058: it climbs to the steps either side of that and stays there.
    expect(offsets.slice(0, 10)).toContain(0.02);
    const settled = offsets.slice(50);
    expect(Math.min(...settled)).toBeGreaterThanOrEqual(0.04);
    expect(Math.max(...settled)).toBeLessThanOrEqual(0.08);
    const changes = settled.filter((o, i) => i > 0 && o !== settled[i - 1]).length;
    expect(changes).toBeLessThanOrEqual(3);
  });
});
