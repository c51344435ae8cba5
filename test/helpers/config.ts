/** Builds sidecar configs (ModelRoute/ModelBudget YAML) whose providers point at loopback fixture upstreams. */
import { stringify } from 'yaml';

export interface UpstreamRef {
  name: string;
  baseURL: string;
  /** Environment variable holding its key; the fixture checks it when started with `apiKey`. */
  keyEnv?: string;
}

export interface ModelOptions {
  name: string;
  upstreams: string[];
  inputPerMTok?: number;
  outputPerMTok?: number;
  /** `models[].request`: how the request is adapted for this model. */
  request?: Record<string, unknown>;
}

export interface RouteConfigOptions {
  namespace?: string;
  route?: string;
  /** Cheap tier models, premium tier models; each model lists its upstream names in failover order. */
  cheap: ModelOptions[];
  premium: ModelOptions[];
  upstreams: UpstreamRef[];
  retries?: number;
  /** Overrides of `spec.resilience` (timeouts, stream deadlines); retries and breaker have their own options. */
  resilience?: Record<string, number>;
  breaker?: {
    errorThresholdPercentage: number;
    volumeThreshold: number;
    resetTimeoutMs: number;
    rollingWindowMs: number;
  };
  cascade?: { enabled: boolean; checks: Array<'empty' | 'refusal' | 'json'>; maxEscalations: number };
  baselineModel?: string;
  budgets?: Array<Record<string, unknown> & { name: string }>;
  extraRoutes?: string;
}

/** A two-tier route (cheap, premium) with a decisive rule so "prove"/"step by step" prompts go premium. */
export function routeConfig(o: RouteConfigOptions): string {
  const ns = o.namespace ?? 'test';
  const models = [...o.cheap, ...o.premium].map((m) => ({
    name: m.name,
    targets: m.upstreams.map((u) => ({ provider: u })),
    pricing: { inputPerMTok: m.inputPerMTok ?? 1, outputPerMTok: m.outputPerMTok ?? 2 },
    contextWindow: 128_000,
    ...(m.request ? { request: m.request } : {}),
  }));
  const route = {
    apiVersion: 'tiermesh.dev/v1alpha1',
    kind: 'ModelRoute',
    metadata: { name: o.route ?? 'default', namespace: ns },
    spec: {
      providers: o.upstreams.map((u) => ({
        name: u.name,
        type: 'openai-compatible',
        baseURL: u.baseURL,
        ...(u.keyEnv ? { apiKey: { env: u.keyEnv } } : {}),
      })),
      models,
      tiers: [
        { name: 'cheap', models: o.cheap.map((m) => m.name) },
        { name: 'premium', models: o.premium.map((m) => m.name) },
      ],
      classifier: {
        mode: 'rules',
        confidenceBand: 0.05,
        rules: [{ name: 'hard', pattern: '\\b(prove|step by step|derive)\\b', tier: 'premium', weight: 10 }],
      },
      cascade: o.cascade ?? { enabled: true, checks: ['empty', 'refusal', 'json'], maxEscalations: 1 },
      resilience: {
        timeoutMs: 10_000,
        firstByteTimeoutMs: 5_000,
        ...o.resilience,
        retries: { attempts: o.retries ?? 0, backoffMs: 10, maxBackoffMs: 50 },
        breaker: o.breaker ?? {
          errorThresholdPercentage: 50,
          volumeThreshold: 1000,
          resetTimeoutMs: 10_000,
          rollingWindowMs: 30_000,
        },
      },
      ...(o.baselineModel ? { baselineModel: o.baselineModel } : {}),
    },
  };
  const budgets = (o.budgets ?? []).map(({ name, ...spec }) => ({
    apiVersion: 'tiermesh.dev/v1alpha1',
    kind: 'ModelBudget',
    metadata: { name, namespace: ns },
    spec,
  }));
  return (
    [route, ...budgets].map((d) => stringify(d)).join('---\n') +
    (o.extraRoutes ? `---\n${o.extraRoutes}` : '')
  );
}

export const SIMPLE_PROMPT = 'hi, how are you?';
export const COMPLEX_PROMPT =
  'Prove step by step that the square root of 2 is irrational, then derive a general statement for every prime p.';
