/**
 * Generates the CustomResourceDefinitions from the zod schemas, so crds/ can never drift from what the code accepts.
 * zod emits JSON Schema 2020-12; Kubernetes wants a structural OpenAPI v3 subset, which `toStructural` converts to.
 */
import { stringify } from 'yaml';
import { z } from 'zod';
import { GROUP, VERSION } from './common.js';
import { modelBudgetSpec, modelBudgetStatus } from './modelbudget.js';
import { modelRouteSpec, modelRouteStatus } from './modelroute.js';

type Json = Record<string, unknown>;

/** Keywords JSON Schema 2020-12 has that a structural CRD schema rejects or that mean nothing there. */
const DROPPED = new Set(['$schema', 'id', '$id']);

/** A CEL string literal (single-quoted; RE2 patterns pass through with their backslashes kept). */
const celString = (s: string) => `'${s.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;

const chars = (n: number) => `${n} character${n === 1 ? '' : 's'}`;

/**
 * A record's key schema (`propertyNames`, which a structural schema cannot carry) as a CEL rule on the map, so the
 * apiserver refuses the keys zod refuses: a route it stored but the operator cannot parse would silently drop out of
 * the config. Throws on a key keyword it does not translate, so none is ever lost again.
 */
export function keyRule(names: Json): { rule: string; message: string } | undefined {
  const checks: string[] = [];
  const says: string[] = [];
  for (const [k, v] of Object.entries(names)) {
    if (k === 'type' && v === 'string') continue;
    if (k === 'minLength') {
      checks.push(`size(k) >= ${v as number}`);
      says.push(`at least ${chars(v as number)}`);
    } else if (k === 'maxLength') {
      checks.push(`size(k) <= ${v as number}`);
      says.push(`at most ${chars(v as number)}`);
    } else if (k === 'pattern') {
      checks.push(`k.matches(${celString(v as string)})`);
      says.push(`matching ${v as string}`);
    } else throw new Error(`gen-crds: propertyNames keyword ${k} has no CEL translation`);
  }
  if (checks.length === 0) return undefined;
  return { rule: `self.all(k, ${checks.join(' && ')})`, message: `every key must be ${says.join(', ')}` };
}

export function toStructural(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toStructural);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Json = {};
  for (const [key, value] of Object.entries(schema as Json)) {
    if (DROPPED.has(key)) continue;
    if (key === 'propertyNames') {
      const rule = keyRule(value as Json);
      if (rule) {
        const existing = ((schema as Json)['x-kubernetes-validations'] as unknown[] | undefined) ?? [];
        out['x-kubernetes-validations'] = [...existing, rule];
      }
      continue;
    }
    if (key === 'x-kubernetes-validations' && out[key]) continue;
    // additionalProperties:false is zod's default for closed objects; CRDs prune unknown fields instead.
    if (key === 'additionalProperties' && value === false) continue;
    if (key === 'const') {
      out['enum'] = [value];
      continue;
    }
    // zod bounds every int by the JS safe range; Kubernetes stores int64, so the bound is noise.
    if ((key === 'maximum' || key === 'minimum') && Math.abs(value as number) === Number.MAX_SAFE_INTEGER)
      continue;
    if (key === 'exclusiveMinimum' || key === 'exclusiveMaximum') {
      out[key === 'exclusiveMinimum' ? 'minimum' : 'maximum'] = value;
      out[key] = true;
      continue;
    }
    out[key] = key === 'properties' ? mapValues(value as Json, toStructural) : toStructural(value);
  }
  return out;
}

function mapValues(obj: Json, fn: (v: unknown) => unknown): Json {
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, fn(v)]));
}

function jsonSchema(schema: z.ZodType): Json {
  return toStructural(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'throw' })) as Json;
}

/** Conditions are a map keyed by type, as every Kubernetes status is; tells server-side apply how to merge them. */
function withConditionListType(status: Json): Json {
  const props = status['properties'] as Json;
  const conditions = props['conditions'] as Json | undefined;
  if (conditions) {
    props['conditions'] = {
      ...conditions,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
    };
  }
  return status;
}

interface CrdInput {
  kind: string;
  plural: string;
  shortNames: string[];
  spec: z.ZodType;
  status: z.ZodType;
  description: string;
  /** What spec is for, as `kubectl explain <kind>.spec` shows it. */
  specDescription: string;
  columns: Array<{ name: string; type: string; jsonPath: string; description?: string; priority?: number }>;
}

export function buildCrd(input: CrdInput): Json {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${input.plural}.${GROUP}`,
      labels: { 'app.kubernetes.io/part-of': 'tiermesh' },
    },
    spec: {
      group: GROUP,
      names: {
        kind: input.kind,
        listKind: `${input.kind}List`,
        plural: input.plural,
        singular: input.kind.toLowerCase(),
        shortNames: input.shortNames,
        categories: ['tiermesh'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          // Age before the Message (wide only): a long message last does not push Age off the screen.
          additionalPrinterColumns: [
            ...input.columns.filter((c) => c.name !== 'Message'),
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
            ...input.columns.filter((c) => c.name === 'Message'),
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: input.description,
              required: ['spec'],
              properties: {
                apiVersion: {
                  type: 'string',
                  description: `${GROUP}/${VERSION}: the versioned schema of this object.`,
                },
                kind: { type: 'string', description: `${input.kind}.` },
                // The apiserver refuses anything on metadata but its type (it describes it itself).
                metadata: { type: 'object' },
                spec: { ...jsonSchema(input.spec), description: input.specDescription },
                status: {
                  ...withConditionListType(jsonSchema(input.status)),
                  description: 'Written by the tiermesh operator (leader only); never edit by hand.',
                },
              },
            },
          },
        },
      ],
    },
  };
}

const ready = '.status.conditions[?(@.type=="Ready")].status';
/** Why it is (not) Ready, beside the status: `kubectl get` then tells Invalid from SidecarRejected without a describe. */
const reason = {
  name: 'Reason',
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
};
/** What to fix, in -o wide (long: a list of problems by field). */
const message = {
  name: 'Message',
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Ready")].message',
  priority: 1,
};

export const crds: Record<string, Json> = {
  [`${GROUP}_modelroutes.yaml`]: buildCrd({
    kind: 'ModelRoute',
    plural: 'modelroutes',
    shortNames: ['mroute'],
    spec: modelRouteSpec,
    status: modelRouteStatus,
    description:
      'ModelRoute declares the providers, models and tiers a namespace routes LLM requests across.',
    specDescription:
      'Providers and their keys, the model registry, the tiers (cheapest first) and how requests are routed ' +
      'across them. The route named default serves model "auto".',
    columns: [
      { name: 'Ready', type: 'string', jsonPath: ready },
      reason,
      { name: 'Tiers', type: 'integer', jsonPath: '.status.tiers' },
      {
        name: 'Escalation',
        type: 'number',
        jsonPath: '.status.routing.escalationRate',
        description: 'Escalations per request over status.routing.windowSeconds',
      },
      {
        name: 'Calibration',
        type: 'number',
        jsonPath: '.status.calibration.offset',
        description: 'Premium share added by spec.classifier.adapt',
        priority: 1,
      },
      { name: 'Version', type: 'string', jsonPath: '.status.configVersion', priority: 1 },
      {
        name: 'Acked',
        type: 'integer',
        jsonPath: '.status.sidecars.acked',
        description: 'Connected sidecars running Version',
        priority: 1,
      },
      {
        name: 'Connected',
        type: 'integer',
        jsonPath: '.status.sidecars.connected',
        description: 'Sidecars of the namespace connected to the operator',
        priority: 1,
      },
      message,
    ],
  }),
  [`${GROUP}_modelbudgets.yaml`]: buildCrd({
    kind: 'ModelBudget',
    plural: 'modelbudgets',
    shortNames: ['mbudget'],
    spec: modelBudgetSpec,
    status: modelBudgetStatus,
    description: 'ModelBudget caps what a namespace (or one ModelRoute) spends on LLM calls per window.',
    specDescription: 'The window, the limit (USD, tokens), per-user limits and what happens past the limit.',
    columns: [
      { name: 'Ready', type: 'string', jsonPath: ready },
      reason,
      { name: 'State', type: 'string', jsonPath: '.status.state' },
      { name: 'Limit', type: 'number', jsonPath: '.spec.limit.usd', description: 'USD per window' },
      { name: 'Spend', type: 'number', jsonPath: '.status.spentUSD', description: 'USD spent this window' },
      { name: 'Remaining', type: 'number', jsonPath: '.status.remainingUSD' },
      message,
    ],
  }),
};

const HEADER = '# Generated from src/api by scripts/gen-crds.ts (`make crds`). Do not edit by hand.\n';

export function renderCrd(crd: Json): string {
  return HEADER + stringify(crd, { lineWidth: 0 });
}
