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

export function routeStatus(
  route: ModelRoute,
  outcome: RouteOutcome,
  stats: SidecarStats,
  now: string,
): ModelRouteStatus {
  const old = route.status ?? {};
  const generation = route.metadata.generation;
  let ready: { status: 'True' | 'False'; reason: string; message: string };
  if (outcome.problems.length > 0) {
    ready = { status: 'False', reason: 'Invalid', message: clip(outcome.problems.join('; '), 32_768) };
  } else if (stats.nacked > 0) {
    ready = {
      status: 'False',
      reason: 'SidecarRejected',
      message: clip(
        `${stats.nacked} sidecar(s) rejected config ${outcome.configVersion}: ${stats.lastNack ?? 'no reason given'}`,
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
  const status: ModelRouteStatus = {
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    conditions,
    configVersion: outcome.configVersion,
    tiers: route.spec.tiers.length,
    sidecars: { connected: stats.connected, acked: stats.acked, nacked: stats.nacked },
  };
  const lastNack = stats.lastNack ?? old.lastNack;
  if (lastNack) status.lastNack = clip(lastNack, 4096);
  return status;
}

/** Equal statuses mean no write: this is what stops a status patch from re-triggering its own reconcile forever. */
export function sameStatus(a: unknown, b: unknown): boolean {
  return canonicalJson(a ?? {}) === canonicalJson(b ?? {});
}
