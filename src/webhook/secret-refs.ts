/**
 * What a pod's sidecar needs mounted, from the namespace's ModelRoutes that select the pod: the provider-key Secrets
 * they name, and the ConfigMaps their learned classifiers' `modelRef`s name.
 */
import { z } from 'zod';
import { dnsSubdomain, labelSelector } from '../api/common.js';
import { selectorMatches } from '../config/pod-selector.js';
import { modelRefConfigMap } from '../routing/learned/model-ref-kind.js';

/**
 * Only the fields the injector reads, parsed leniently: one route that fails full validation must not stop
 * every pod in the namespace from starting (the operator reports that route; the injector still mounts keys).
 */
const routeKeys = z.looseObject({
  spec: z.looseObject({
    providers: z
      .array(
        z.looseObject({
          apiKey: z
            .looseObject({ secretKeyRef: z.looseObject({ name: dnsSubdomain }).optional() })
            .optional(),
        }),
      )
      .catch([]),
    // Checked on its own in selects(): a selector that does not parse must select no pod, never every pod.
    podSelector: z.unknown().optional(),
    classifier: z
      .looseObject({ mode: z.string().optional(), modelRef: z.string().optional() })
      .optional()
      .catch(undefined),
  }),
});

/**
 * Whether a route's podSelector selects the pod. Absent: every pod (the route serves the whole namespace). Present
 * but malformed (stored under an older CRD, an operator the apiserver let through): no pod, so its Secrets are not
 * mounted into every pod of the namespace; the operator reports the route Invalid.
 */
function selects(podSelector: unknown, podLabels: Record<string, string> | undefined): boolean {
  if (podSelector === undefined || podSelector === null) return true;
  const parsed = labelSelector.safeParse(podSelector);
  return parsed.success && selectorMatches(parsed.data, podLabels);
}

/** Sorted, de-duplicated Secret names; routes that do not parse or do not select the pod contribute nothing. */
export function providerKeySecrets(
  routes: readonly unknown[],
  podLabels: Record<string, string> | undefined,
): string[] {
  const names = new Set<string>();
  for (const raw of routes) {
    const r = routeKeys.safeParse(raw);
    if (!r.success || !selects(r.data.spec.podSelector, podLabels)) continue;
    for (const p of r.data.spec.providers) {
      const name = p.apiKey?.secretKeyRef?.name;
      if (name) names.add(name);
    }
  }
  return [...names].sort();
}

/**
 * Sorted, de-duplicated ConfigMap names of the learned models the selecting routes reference. Rules-mode routes
 * never load their modelRef, and file-path refs are for standalone use: neither is mounted.
 */
export function modelConfigMaps(
  routes: readonly unknown[],
  podLabels: Record<string, string> | undefined,
): string[] {
  const names = new Set<string>();
  for (const raw of routes) {
    const r = routeKeys.safeParse(raw);
    if (!r.success || !selects(r.data.spec.podSelector, podLabels)) continue;
    const c = r.data.spec.classifier;
    if (!c?.modelRef || c.mode === 'rules') continue;
    const name = modelRefConfigMap(c.modelRef);
    if (name) names.add(name);
  }
  return [...names].sort();
}
