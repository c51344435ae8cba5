/** metav1.Condition bookkeeping: lastTransitionTime moves only when the status flips, as controller-runtime does. */
import type { Condition } from '../api/common.js';

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
