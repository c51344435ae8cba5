/**
 * spec.podSelector: which pods of a namespace a ModelRoute serves. The injector mounts only the selecting routes'
 * Secrets and models; the sidecar, told its pod's labels by the injector, runs only the selecting routes, so
 * `model: "auto"` never lands on another app's route. One matcher for both.
 */
import { z } from 'zod';
import type { LabelSelector } from '../api/common.js';
import type { Snapshot } from '../api/snapshot.js';
import { defaultRouteOf } from './compile.js';

/** The env var the injector sets on the sidecar: the pod's labels at admission, as a JSON object. */
export const POD_LABELS_ENV = 'TIERMESH_POD_LABELS';

/** metav1.LabelSelector semantics: every matchLabels pair and every expression must hold; an empty selector matches all. */
export function selectorMatches(
  selector: LabelSelector | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  if (!selector) return true;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(l, e.key);
    const inValues = has && (e.values ?? []).includes(l[e.key] as string);
    if (e.operator === 'In' && !inValues) return false;
    if (e.operator === 'NotIn' && inValues) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/**
 * The part of a namespace snapshot a pod with these labels runs: the routes that select it, with the default route
 * chosen among them by the compiler's rule. The version stays the operator's, so the sidecar's ACK names what was
 * pushed. Without labels (a standalone sidecar, or one injected before labels were passed) every route stays.
 */
export function routesForPod(snapshot: Snapshot, labels: Record<string, string> | undefined): Snapshot {
  if (!labels) return snapshot;
  const routes = snapshot.routes.filter((r) => selectorMatches(r.spec.podSelector, labels));
  if (routes.length === snapshot.routes.length) return snapshot;
  return { ...snapshot, routes, defaultRoute: defaultRouteOf(routes) };
}

const labelsJson = z.record(z.string(), z.string());

/** The labels from POD_LABELS_ENV: undefined when unset, an Error naming the variable when it is not a JSON object of strings. */
export function podLabelsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): Record<string, string> | undefined {
  const raw = env[POD_LABELS_ENV];
  if (raw === undefined || raw === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new Error(`${POD_LABELS_ENV}: not JSON (expected an object of label names to values)`);
  }
  const r = labelsJson.safeParse(value);
  if (!r.success)
    throw new Error(`${POD_LABELS_ENV}: expected a JSON object of label names to string values`);
  return r.data;
}
