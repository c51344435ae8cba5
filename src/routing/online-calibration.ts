/**
 * Online calibration of a route's threshold on its real traffic (spec.classifier.adapt), pure: the operator's
 * leader calls it at each status.routing pass and keeps its state in ModelRoute.status.calibration.
 *
 *   nextCalibration(previous, stats, limits, now): { state, moved }
 *
 * The controlled value is an `offset` added to the route's premium share (sidecars: learnedThreshold). Two targets:
 * the escalation rate must stay at or below spec.monitoring.maxEscalationRate (escalations are what a too
 * aggressive threshold costs), and the premium share should be the configured one (what the route owner pays for).
 * So the offset only ever buys escalation headroom: it rises by `step` while the escalation rate is above the
 * target, never past `maxShift`, and is given back a step at a time once the rate is `deadband` below it; it never
 * goes below 0, so the route never gets cheaper than configured. Between the two bounds it holds (hysteresis), and
 * "above" and "below" mean by more than one standard error of the observed rate.
 *
 * It moves at most once per `intervalSeconds` and only on `minSamples` requests routed *since the last move*: the
 * figures it reacts to were routed with the current offset, so it cannot wind up on traffic from before a move
 * (which a sliding window would still hold) and swing past the target.
 *
 * This is not the sidecar's rolling percentile (routing/learned/calibration.ts): that one keeps the premium share it
 * is given exact on each sidecar's own traffic within seconds, in memory; this one decides, cluster-wide and slowly,
 * which share to give it, from outcomes (escalations) the percentile cannot see, and persists it.
 */
import type { AdaptSpec, CalibrationStatus } from '../api/modelroute.js';

/** What the sidecars reported for a route since `state.since`. */
export interface CalibrationStats {
  requests: number;
  escalations: number;
  /** Requests first sent above the cheapest tier. */
  premium: number;
}

export interface CalibrationLimits
  extends Pick<AdaptSpec, 'maxShift' | 'step' | 'intervalSeconds' | 'minSamples'> {
  deadband: number;
  maxEscalationRate: number;
}

export interface CalibrationStep {
  state: CalibrationStatus;
  /** The offset changed: a new compiled config, an Event and a log line. */
  moved: boolean;
}

const round = (x: number) => Math.round(x * 10_000) / 10_000;
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

export function nextCalibration(
  previous: CalibrationStatus | undefined,
  stats: CalibrationStats,
  limits: CalibrationLimits,
  now: Date,
): CalibrationStep {
  const at = now.toISOString();
  const prev: CalibrationStatus = previous ?? {
    offset: 0,
    since: at,
    samples: 0,
    moves: 0,
    reason: 'started',
  };
  const observed = {
    samples: stats.requests,
    ...(stats.requests > 0
      ? {
          escalationRate: round(stats.escalations / stats.requests),
          premiumShare: round(Math.min(1, stats.premium / stats.requests)),
        }
      : {}),
  };
  const hold = (reason: string): CalibrationStep => {
    const { escalationRate: _e, premiumShare: _p, ...kept } = prev;
    return { state: { ...kept, ...observed, reason }, moved: false };
  };
  const move = (offset: number, reason: string): CalibrationStep => ({
    state: {
      offset: round(offset),
      since: at,
      samples: 0,
      lastMove: at,
      moves: prev.moves + 1,
      reason,
    },
    moved: true,
  });
  // A maxShift lowered since the last move: back within it now, whatever the traffic says.
  if (prev.offset > limits.maxShift)
    return move(limits.maxShift, `offset bounded by maxShift ${pct(limits.maxShift)}`);
  if (stats.requests < limits.minSamples)
    return hold(`waiting for ${limits.minSamples} requests since the last move (${stats.requests} so far)`);
  const sinceMs = Date.parse(prev.since);
  const nextAt = (Number.isFinite(sinceMs) ? sinceMs : 0) + limits.intervalSeconds * 1000;
  // A time, not a countdown: the reason stays the same from pass to pass, so holding writes no status.
  if (nextAt > now.getTime())
    return hold(
      `no move before ${new Date(nextAt).toISOString()} (intervalSeconds ${limits.intervalSeconds})`,
    );
  const rate = stats.escalations / stats.requests;
  const target = limits.maxEscalationRate;
  const figures = `escalation rate ${pct(rate)} over ${stats.requests} requests`;
  // One standard error of the observed rate: a move needs the rate past its bound by more than sampling noise,
  // or a route whose true rate sits at a bound would flip a step up and down on every pass.
  const noise = Math.sqrt(Math.max(rate * (1 - rate), 1 / stats.requests) / stats.requests);
  if (rate - noise > target) {
    if (prev.offset >= limits.maxShift)
      return hold(
        `${figures} is above ${pct(target)}, but the offset is at maxShift ${pct(limits.maxShift)}`,
      );
    const offset = Math.min(limits.maxShift, prev.offset + limits.step);
    return move(offset, `${figures} is above ${pct(target)}: premium share raised to +${pct(offset)}`);
  }
  if (prev.offset > 0 && rate + noise < target - limits.deadband) {
    const offset = Math.max(0, prev.offset - limits.step);
    return move(
      offset,
      `${figures} is clearly more than ${pct(limits.deadband)} below ${pct(target)}: premium share lowered to +${pct(offset)}`,
    );
  }
  return hold(
    prev.offset > 0
      ? `${figures} is not clearly off ${pct(target)} (deadband ${pct(limits.deadband)}): holding +${pct(prev.offset)}`
      : `${figures} is not clearly above ${pct(target)}: the configured premium share holds`,
  );
}

/** The limits a route's spec sets (adapt enabled). */
export function calibrationLimits(adapt: AdaptSpec, maxEscalationRate: number): CalibrationLimits {
  return {
    maxShift: adapt.maxShift,
    step: adapt.step,
    intervalSeconds: adapt.intervalSeconds,
    minSamples: adapt.minSamples,
    deadband: adapt.deadband,
    maxEscalationRate,
  };
}
