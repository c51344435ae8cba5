/** RFC 6902 JSON Patch operations and RFC 6901 pointer escaping, as the apiserver applies them to admitted objects. */

export type JsonPatchOp =
  | { op: 'add'; path: string; value: unknown }
  | { op: 'replace'; path: string; value: unknown }
  | { op: 'remove'; path: string }
  | { op: 'test'; path: string; value: unknown };

/** One reference token: `~` first, so the `~1` produced for `/` is not escaped again. */
export function escapePointerToken(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}

export function pointer(...tokens: (string | number)[]): string {
  return tokens.map((t) => `/${escapePointerToken(String(t))}`).join('');
}

/**
 * Ops that add entries to an array which may not exist yet: one `add` of the whole array when it is missing
 * (appending with `/-` to a missing array fails), otherwise one `/-` append per entry.
 */
export function appendAll(
  path: string,
  existing: readonly unknown[] | undefined,
  items: readonly unknown[],
): JsonPatchOp[] {
  if (items.length === 0) return [];
  if (existing === undefined) return [{ op: 'add', path, value: [...items] }];
  return items.map((value) => ({ op: 'add', path: `${path}/-`, value }));
}

/** Ops that set keys of a string map which may not exist yet (annotations, labels). */
export function setKeys(
  path: string,
  existing: Record<string, string> | undefined,
  entries: Record<string, string>,
): JsonPatchOp[] {
  const keys = Object.keys(entries);
  if (keys.length === 0) return [];
  if (existing === undefined) return [{ op: 'add', path, value: { ...entries } }];
  return keys.map((k) => ({ op: 'add', path: `${path}/${escapePointerToken(k)}`, value: entries[k] }));
}
