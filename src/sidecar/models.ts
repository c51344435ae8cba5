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
