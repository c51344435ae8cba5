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
    podSelector: labelSelector.optional().catch(undefined),
    classifier: z
      .looseObject({ mode: z.string().optional(), modelRef: z.string().optional() })
      .optional()
      .catch(undefined),
  }),
});

/** Sorted, de-duplicated Secret names; routes that do not parse or do not select the pod contribute nothing. */
export function providerKeySecrets(
  routes: readonly unknown[],
  podLabels: Record<string, string> | undefined,
): string[] {
  const names = new Set<string>();
  for (const raw of routes) {
    const r = routeKeys.safeParse(raw);
    if (!r.success || !selectorMatches(r.data.spec.podSelector, podLabels)) continue;
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
    if (!r.success || !selectorMatches(r.data.spec.podSelector, podLabels)) continue;
    const c = r.data.spec.classifier;
    if (!c?.modelRef || c.mode === 'rules') continue;
    const name = modelRefConfigMap(c.modelRef);
    if (name) names.add(name);
  }
  return [...names].sort();
}
