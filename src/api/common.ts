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
      .object({ name: dnsSubdomain, key: secretKey })
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
  type: z.string().min(1).max(316),
  status: z.enum(['True', 'False', 'Unknown']),
  observedGeneration: z.number().int().min(0).optional(),
  lastTransitionTime: z.string().describe('RFC 3339 time of the last status change.'),
  reason: z
    .string()
    .min(1)
    .max(1024)
    .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/),
  message: z.string().max(32768),
});
export type Condition = z.infer<typeof condition>;

/** metav1.LabelSelector. */
export const labelSelector = z.object({
  matchLabels: z.record(z.string(), z.string()).optional(),
  matchExpressions: z
    .array(
      z.object({
        key: z.string().min(1),
        operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
        values: z.array(z.string()).optional(),
      }),
    )
    .optional(),
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
