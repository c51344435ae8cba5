/** One admission decision for a Pod: parse, decide, look up what the sidecar needs, and answer with a patch or a denial. */
import { type AdmissionRequest, type AdmissionResponse, allow, deny } from './admission.js';
import type { InjectorConfig } from './injector-config.js';
import {
  admittedPod,
  buildPatch,
  envFromWarnings,
  isInjected,
  namespaceDecision,
  podDecision,
} from './patch.js';
import { modelConfigMaps, providerKeySecrets } from './secret-refs.js';

/** Cluster lookups, injected so the decision can be tested without an apiserver. A throw means "cannot decide". */
export interface MutateDeps {
  cfg: InjectorConfig;
  namespaceLabels(namespace: string): Promise<Record<string, string> | undefined>;
  /** Raw ModelRoute objects of a namespace. */
  routesIn(namespace: string): Promise<unknown[]>;
  /** The CA bundle (PEM) sidecars verify the operator with, as known now (it follows cert rotation). */
  operatorCA?: () => string | undefined;
}

export interface MutateOutcome {
  response: AdmissionResponse;
  /** For logs and metrics: why the pod was (not) injected. Never contains pod contents. */
  reason: string;
}

export async function mutate(request: AdmissionRequest, deps: MutateDeps): Promise<MutateOutcome> {
  const { uid } = request;
  if (request.kind.kind !== 'Pod' || request.kind.group !== '') {
    const reason = `not a Pod: ${request.kind.group}/${request.kind.version} ${request.kind.kind}`;
    return {
      response: allow(uid, [], [`tiermesh injector ignores ${request.kind.kind}; check the webhook rules`]),
      reason,
    };
  }
  const parsed = admittedPod.safeParse(request.object);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `object.${i.path.join('.')}: ${i.message}`).join('; ');
    return {
      response: deny(uid, 400, `tiermesh injector: malformed Pod: ${problems}`),
      reason: 'malformed pod',
    };
  }
  const pod = parsed.data;
  const namespace = request.namespace || pod.metadata.namespace;
  if (!namespace)
    return {
      response: deny(uid, 400, 'tiermesh injector: request has no namespace'),
      reason: 'no namespace',
    };

  const byPod = podDecision(pod, namespace, deps.cfg);
  if (byPod && !byPod.inject) return { response: allow(uid), reason: byPod.reason };
  // Re-invocation (or a pod created from an injected pod's spec): no lookups needed, the sidecar is there.
  if (isInjected(pod)) {
    const again = buildPatch(pod, deps.cfg, []);
    return { response: allow(uid, again.ok ? again.ops : []), reason: 'already injected' };
  }
  // Both lookups at once: the webhook's selectors only send pods that are meant to be injected, so the route
  // list is rarely wasted, and it halves the latency every injected pod adds to its creation.
  const [labels, routes] = await Promise.all([
    byPod ? undefined : deps.namespaceLabels(namespace),
    deps.routesIn(namespace),
  ]);
  const decision = byPod ?? namespaceDecision(labels);
  if (!decision.inject) return { response: allow(uid), reason: decision.reason };

  const secrets = providerKeySecrets(routes, pod.metadata.labels);
  const patch = buildPatch(pod, deps.cfg, secrets, {
    operatorCA: deps.operatorCA?.(),
    models: modelConfigMaps(routes, pod.metadata.labels),
  });
  if (!patch.ok) {
    return {
      response: deny(uid, 400, `tiermesh injector: ${patch.problems.join('; ')}`),
      reason: 'invalid annotations',
    };
  }
  return {
    response: allow(uid, patch.ops, patch.ops.length > 0 ? envFromWarnings(pod) : []),
    reason: patch.ops.length > 0 ? decision.reason : 'already injected',
  };
}
