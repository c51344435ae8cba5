/** Building blocks shared by the tiermesh CRDs: names, secret references, conditions, label selectors. */
import { z } from 'zod';

export const GROUP = 'tiermesh.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

/**
 * Most characters of a user id (x-tiermesh-user, a request's `user`), ModelBudget.status.topSpenders' own bound: ids
 * are kept per window and sent to the operator, so an unbounded one could make a usage batch too big to take.
 */
export const MAX_USER_LENGTH = 253;
export const userId = z.string().max(MAX_USER_LENGTH, `must be at most ${MAX_USER_LENGTH} characters`);

/** A DNS-1123 label: what Kubernetes accepts as a name inside our specs. */
export const dnsLabel = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS-1123 label (lower-case letters, digits, -)');

/**
 * A DNS-1123 subdomain (<= 253, dot-separated labels): what Kubernetes accepts as the name of a Secret or
 * ConfigMap, so `llm.openai` is a valid Secret name and a 70-character one too.
 */
export const dnsSubdomain = z
  .string()
  .min(1)
  .max(253)
  .regex(
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
    'must be a DNS-1123 subdomain (lower-case letters, digits, - and .)',
  );

/**
 * A Secret data key, as Kubernetes validates it (IsConfigMapKey): letters, digits, - _ . and never `.`, `..` or a
 * `..` prefix. The key is a file name under the Secret's mount, so `../token/token` would read the sidecar's own
 * ServiceAccount token and send it upstream as the API key. Written without look-ahead: the apiserver's regexp is RE2.
 */
export const secretKey = z
  .string()
  .min(1)
  .max(253)
  .regex(
    /^\.?[-_a-zA-Z0-9][-._a-zA-Z0-9]*$/,
    "must be a Secret key (letters, digits, - _ .), not '.' and not starting with '..'",
  );

/** Model identifiers are free-form upstream ("gpt-4o-mini", "claude-3-5-haiku-latest", "meta-llama/Llama-3-8b"). */
export const modelName = z
  .string()
  .min(1)
  .max(200)
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:/@-]*$/,
    'must start with a letter or digit and use only A-Z a-z 0-9 . _ : / @ -',
  );

/**
 * Where an API key comes from. Exactly one source; the key itself never appears in a spec, status or log.
 * In the cluster a secretKeyRef is mounted by the injector as a file; standalone it may name env or a file.
 */
export const keyRef = z
  .object({
    secretKeyRef: z
      .object({
        name: dnsSubdomain.describe('Name of the Secret, in the namespace of the ModelRoute.'),
        key: secretKey.describe('Key of the Secret holding the API key (mounted as a file of that name).'),
      })
      .optional()
      .describe('Secret in the route namespace; the injector mounts it into the sidecar.'),
    env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
      .optional()
      .describe('Environment variable holding the key (standalone mode).'),
    file: z
      .string()
      .min(1)
      .max(4096)
      .optional()
      .describe('File holding the key: standalone sidecars only (a sidecar fed by the operator refuses it).'),
  })
  // The same rule twice: CEL for the apiserver, refine for standalone mode where no apiserver checks it.
  .refine((k) => [k.secretKeyRef, k.env, k.file].filter((x) => x !== undefined).length === 1, {
    message: 'exactly one of secretKeyRef, env or file must be set',
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: '[has(self.secretKeyRef), has(self.env), has(self.file)].filter(x, x).size() == 1',
        message: 'exactly one of secretKeyRef, env or file must be set',
      },
    ],
  });
export type KeyRef = z.infer<typeof keyRef>;

/** metav1.Condition, as controller-runtime writes it. */
export const condition = z.object({
  type: z.string().min(1).max(316).describe('Condition type; tiermesh writes Ready.'),
  status: z.enum(['True', 'False', 'Unknown']).describe('True, False or Unknown.'),
  observedGeneration: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe('metadata.generation the condition was decided for; older than it: not yet reconciled.'),
  lastTransitionTime: z.string().describe('RFC 3339 time of the last status change.'),
  reason: z
    .string()
    .min(1)
    .max(1024)
    .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/)
    .describe('CamelCase cause, e.g. Compiled, Invalid, SidecarRejected, RouteNotFound.'),
  message: z
    .string()
    .max(32768)
    .describe('What is wrong and where, by field (e.g. spec.tiers[0].models[1]: "x" is not in spec.models).'),
});
export type Condition = z.infer<typeof condition>;

/** The two fields every tiermesh status opens with: the generation it was written for, and its Ready condition. */
export function statusBase(readyDescription: string) {
  return {
    observedGeneration: z
      .number()
      .int()
      .optional()
      .describe('metadata.generation this status was written for.'),
    conditions: z.array(condition).max(16).optional().describe(readyDescription),
  };
}

/**
 * A label key as Kubernetes validates it (IsQualifiedName): an optional DNS-subdomain prefix and `/`, then a name of
 * at most 63 characters that starts and ends with a letter or digit.
 */
export const labelKey = z
  .string()
  .min(1)
  .max(317)
  .regex(
    /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/,
    'must be a label key: an optional DNS subdomain and /, then up to 63 letters, digits, - _ . starting and ending with a letter or digit',
  );
/** A label value as Kubernetes validates it: empty, or up to 63 letters, digits, - _ . starting and ending alphanumeric. */
export const labelValue = z
  .string()
  .max(63)
  .regex(
    /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/,
    'must be a label value: up to 63 letters, digits, - _ . starting and ending with a letter or digit',
  );

const selectorValuesRule = 'values must be non-empty for In and NotIn, and empty for Exists and DoesNotExist';

/**
 * metav1.LabelSelector, held to what Kubernetes' LabelSelectorAsSelector accepts: a selector it would refuse (In with
 * no values, Exists with some) is refused here too, rather than matching no pod or quietly ignoring its values.
 */
export const labelSelector = z.object({
  matchLabels: z
    .record(labelKey, labelValue)
    .meta({ maxProperties: 64 })
    .optional()
    .describe('Labels the pod must carry with exactly these values.'),
  matchExpressions: z
    .array(
      z
        .object({
          key: labelKey.describe('The label key the expression tests.'),
          operator: z
            .enum(['In', 'NotIn', 'Exists', 'DoesNotExist'])
            .describe("How the pod's value of key is tested against values."),
          values: z
            .array(labelValue)
            .max(64)
            .optional()
            .describe('Non-empty for In and NotIn; empty or absent for Exists and DoesNotExist.'),
        })
        // The same rule twice: CEL for the apiserver, refine for standalone mode.
        .refine(
          (e) =>
            e.operator === 'In' || e.operator === 'NotIn'
              ? (e.values?.length ?? 0) > 0
              : (e.values?.length ?? 0) === 0,
          { message: selectorValuesRule, path: ['values'] },
        )
        .meta({
          'x-kubernetes-validations': [
            {
              rule: "self.operator == 'In' || self.operator == 'NotIn' ? has(self.values) && size(self.values) > 0 : !has(self.values) || size(self.values) == 0",
              message: selectorValuesRule,
              fieldPath: '.values',
            },
          ],
        }),
    )
    .max(32)
    .optional()
    .describe('Expressions on the pod labels; all must hold.'),
});
export type LabelSelector = z.infer<typeof labelSelector>;

/** The part of ObjectMeta the compiler reads. The apiserver owns the rest. */
export const objectMeta = z.looseObject({
  // As the apiserver validates them, so a standalone file is held to the same names a cluster would take.
  name: dnsSubdomain,
  namespace: dnsLabel.optional(),
  generation: z.number().int().optional(),
  resourceVersion: z.string().optional(),
  uid: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type ObjectMeta = z.infer<typeof objectMeta>;
