/** metav1.Condition bookkeeping: lastTransitionTime moves only when the status flips, as controller-runtime does. */
import { z } from 'zod';
import { type Condition, condition } from '../api/common.js';

export type ConditionInput = Omit<Condition, 'lastTransitionTime'>;

export function setCondition(
  conditions: Condition[] | undefined,
  next: ConditionInput,
  now: string,
): Condition[] {
  const list = conditions ?? [];
  const old = list.find((c) => c.type === next.type);
  const lastTransitionTime = old && old.status === next.status ? old.lastTransitionTime : now;
  const updated: Condition = { ...next, lastTransitionTime };
  return old ? list.map((c) => (c.type === next.type ? updated : c)) : [...list, updated];
}

/** Messages are capped by the CRD; keep the head, which names the first bad field. */
export function clip(message: string, max: number): string {
  return message.length <= max ? message : `${message.slice(0, max - 3)}...`;
}

/**
 * The status of an object that cannot be served, written by the reconciler rather than the code that normally owns
 * the status: Ready=False with `reason`, for this generation. A route the schema refuses after the apiserver stored
 * it (Invalid), a budget whose routeRef names no route (RouteNotFound): neither keeps a stale Ready=True. Only the
 * fields it owns, so a merge patch leaves the rest as stored; compare it with `readyFields(stored)`.
 */
export function notReadyStatus(
  stored: unknown,
  generation: number | undefined,
  reason: string,
  message: string,
  now: string,
): { observedGeneration?: number; conditions: Condition[] } {
  const old = z.array(condition).safeParse(readyFields(stored).conditions);
  const conditions = setCondition(
    old.success ? old.data : undefined,
    {
      type: 'Ready',
      status: 'False',
      reason,
      message: clip(message, 32_768),
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    },
    now,
  );
  return { ...(generation !== undefined ? { observedGeneration: generation } : {}), conditions };
}

/** The fields of a stored status that notReadyStatus writes. */
export function readyFields(stored: unknown): { observedGeneration?: unknown; conditions?: unknown } {
  if (!stored || typeof stored !== 'object') return {};
  const { observedGeneration, conditions } = stored as Record<string, unknown>;
  return {
    ...(observedGeneration !== undefined ? { observedGeneration } : {}),
    ...(conditions !== undefined ? { conditions } : {}),
  };
}
