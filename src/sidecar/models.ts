/** The `GET /v1/models` list: every model of the namespace's routes, each route name, and `auto`. */
import type { Snapshot } from '../api/snapshot.js';

export interface ModelObject {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
}

export function listModels(s: Snapshot, created = 0): { object: 'list'; data: ModelObject[] } {
  const seen = new Set<string>();
  const data: ModelObject[] = [];
  const add = (id: string, owner: string) => {
    if (seen.has(id)) return;
    seen.add(id);
    data.push({ id, object: 'model', created, owned_by: owner });
  };
  add('auto', 'tiermesh');
  for (const r of s.routes) add(r.name, 'tiermesh');
  for (const r of s.routes) for (const m of r.spec.models) add(m.name, m.targets[0]!.provider);
  return { object: 'list', data };
}

/**
 * The same list as the Anthropic SDK reads it (`models.list()`, one page): a client that sends `anthropic-version`
 * (every Anthropic SDK does) gets this shape, the OpenAI SDKs the one above.
 */
export interface AnthropicModelObject {
  type: 'model';
  id: string;
  display_name: string;
  created_at: string;
}

export function anthropicModel(m: ModelObject): AnthropicModelObject {
  return {
    type: 'model',
    id: m.id,
    display_name: m.id === 'auto' ? 'auto (routed by tiermesh)' : m.id,
    created_at: new Date(m.created * 1000).toISOString(),
  };
}

export function anthropicModelList(list: { data: ModelObject[] }): {
  data: AnthropicModelObject[];
  has_more: false;
  first_id: string | null;
  last_id: string | null;
} {
  const data = list.data.map(anthropicModel);
  return { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
}

/** `GET /v1/models/{id}`: the model object, or undefined when no route, registry model or `auto` has that id. */
export function findModel(s: Snapshot, id: string, created = 0): ModelObject | undefined {
  return listModels(s, created).data.find((m) => m.id === id);
}

/** Every inbound endpoint, for the answer to the ones that do not exist (legacy completions, typos). */
export const SUPPORTED_ENDPOINTS = [
  'POST /v1/chat/completions',
  'POST /v1/responses',
  'POST /v1/messages',
  'POST /v1/messages/count_tokens',
  'POST /v1/embeddings',
  'GET /v1/models',
  'GET /v1/models/{id}',
] as const;

/** Why `/v1/completions` is refused, and what to call instead. */
export function legacyCompletionsMessage(): string {
  return `the legacy completions API (/v1/completions) is not supported; use one of: ${SUPPORTED_ENDPOINTS.join(', ')}`;
}
