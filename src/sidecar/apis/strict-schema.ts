/**
 * Whether a function's parameters schema fits OpenAI's strict mode (Structured Outputs' subset of JSON Schema).
 * The Responses API, unlike chat completions, uses strict validation for a function tool that leaves `strict` out
 * when its schema is compatible, and non-strict otherwise (the openai SDK's FunctionTool docs); chat completions
 * default to non-strict, so the Responses translation sends `strict: true` where this says yes.
 *
 * Conservative on purpose: a schema this calls compatible must never earn a 400 upstream, so only the documented
 * subset passes (every object closed with `additionalProperties: false` and every property required, at most 10
 * levels of nesting, known keywords only); anything doubtful stays non-strict, as it was before.
 */
const KEYWORDS = new Set([
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'enum',
  'const',
  'anyOf',
  'description',
  'title',
  '$ref',
  '$defs',
  'definitions',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minItems',
  'maxItems',
]);

const MAX_DEPTH = 10;

export function strictCompatible(schema: unknown): boolean {
  if (!isObject(schema) || schema['type'] !== 'object' || 'anyOf' in schema) return false;
  return fits(schema, 0);
}

function fits(node: unknown, depth: number): boolean {
  if (!isObject(node) || depth > MAX_DEPTH) return false;
  for (const k of Object.keys(node)) if (!KEYWORDS.has(k)) return false;
  const type = node['type'];
  const types = Array.isArray(type) ? type : [type];
  const props = node['properties'];
  if (types.includes('object') || props !== undefined) {
    if (node['additionalProperties'] !== false) return false;
    const keys = props === undefined ? [] : isObject(props) ? Object.keys(props) : undefined;
    const required = node['required'] ?? [];
    if (!keys || !Array.isArray(required)) return false;
    if (keys.length !== required.length || !keys.every((k) => required.includes(k))) return false;
    if (!keys.every((k) => fits((props as Record<string, unknown>)[k], depth + 1))) return false;
  }
  if (node['items'] !== undefined && !fits(node['items'], depth + 1)) return false;
  const anyOf = node['anyOf'];
  if (anyOf !== undefined && !(Array.isArray(anyOf) && anyOf.every((s) => fits(s, depth + 1)))) return false;
  for (const defs of ['$defs', 'definitions'] as const) {
    const d = node[defs];
    if (d === undefined) continue;
    if (!isObject(d) || !Object.values(d).every((s) => fits(s, depth + 1))) return false;
  }
  return true;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
