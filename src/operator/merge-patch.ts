/**
 * Pure: a JSON merge patch (RFC 7386) that turns `old` into `next`. A merge patch merges maps key by key, so a
 * key that `next` no longer has must be sent as null or the apiserver keeps it: this is what lets a retired
 * reporter or a spent slice actually leave `ModelBudget.status`.
 */
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function mergePatch(old: unknown, next: unknown): Json {
  if (!isObject(next)) return (next ?? null) as Json;
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(next)) {
    if (v === undefined) continue;
    out[k] = isObject(v) && isObject(old) && isObject(old[k]) ? mergePatch(old[k], v) : (v as Json);
  }
  if (isObject(old)) for (const k of Object.keys(old)) if (!(k in out) && old[k] !== undefined) out[k] = null;
  return out;
}

/** What the apiserver does with a merge patch: for tests standing in for it. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}
