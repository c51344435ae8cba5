/** Pure: what a ModelRoute's status should say, given the compile outcome and what the sidecars answered. */
import type { ModelRoute, ModelRouteStatus } from '../api/modelroute.js';
import { canonicalJson } from '../config/canonical.js';
import { clip, setCondition } from './conditions.js';

export interface SidecarStats {
  connected: number;
  /** Connected sidecars running the current version. */
  acked: number;
  /** Connected sidecars that refused the current version. */
  nacked: number;
  lastNack?: string;
}

export interface RouteOutcome {
  configVersion: string;
  /** Non-empty when the compiler left the route out of the snapshot. */
  problems: string[];
}

/** A route status as merge-patched: `lastNack: null` / `configVersion: null` remove a stored one. */
export type RouteStatusPatch = Omit<ModelRouteStatus, 'lastNack' | 'configVersion'> & {
  lastNack?: string | null;
  configVersion?: string | null;
};

/** The status the apiserver stores after merging `patch` into a status without the nulled fields. */
export function merged(patch: RouteStatusPatch): ModelRouteStatus {
  const { lastNack, configVersion, ...rest } = patch;
  return {
    ...rest,
    ...(typeof configVersion === 'string' ? { configVersion } : {}),
    ...(typeof lastNack === 'string' ? { lastNack } : {}),
  };
}

export function routeStatus(
  route: ModelRoute,
  outcome: RouteOutcome,
  stats: SidecarStats,
  now: string,
): RouteStatusPatch {
  const old = route.status ?? {};
  const generation = route.metadata.generation;
  let ready: { status: 'True' | 'False'; reason: string; message: string };
  if (outcome.problems.length > 0) {
    ready = { status: 'False', reason: 'Invalid', message: clip(outcome.problems.join('; '), 32_768) };
  } else if (stats.nacked > 0) {
    ready = {
      status: 'False',
      reason: 'SidecarRejected',
      // No count here (it is in status.sidecars.nacked): one more refusing sidecar is not a new Event.
      message: clip(
        `sidecars rejected config ${outcome.configVersion}: ${stats.lastNack ?? 'no reason given'}`,
        32_768,
      ),
    };
  } else {
    ready = { status: 'True', reason: 'Compiled', message: `compiled into config ${outcome.configVersion}` };
  }
  const conditions = setCondition(
    old.conditions,
    { type: 'Ready', ...ready, ...(generation !== undefined ? { observedGeneration: generation } : {}) },
    now,
  );
  const invalid = outcome.problems.length > 0;
  const status: RouteStatusPatch = {
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    conditions,
    // Only a route in the snapshot has a version: an Invalid one showing the namespace's would read as deployed.
    ...(invalid ? {} : { configVersion: outcome.configVersion }),
    tiers: route.spec.tiers.length,
    sidecars: { connected: stats.connected, acked: stats.acked, nacked: stats.nacked },
  };
  // The version of its last valid generation is not what the sidecars run for it now: cleared.
  if (invalid && old.configVersion !== undefined) status.configVersion = null;
  // A NACK no sidecar holds any more is history: cleared (null in the merge patch), not shown as current.
  if (stats.nacked > 0) {
    const lastNack = stats.lastNack ?? old.lastNack;
    if (lastNack) status.lastNack = clip(lastNack, 4096);
  } else if (old.lastNack !== undefined) status.lastNack = null;
  return status;
}

/** Equal statuses mean no write: this is what stops a status patch from re-triggering its own reconcile forever. */
export function sameStatus(a: unknown, b: unknown): boolean {
  return canonicalJson(a ?? {}) === canonicalJson(b ?? {});
}
