/** Turns zod issues into messages that name the offending field, the way kubectl reports CRD schema errors. */
import type { z } from 'zod';

type Issue = z.core.$ZodIssue;

export function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out || '(root)';
}

export function formatIssues(error: z.ZodError, prefix = ''): string[] {
  return error.issues.map((issue) => {
    const path = fieldPath([...(prefix ? [prefix] : []), ...issue.path]);
    // A record key's own rule ("must be a DNS-1123 label") says more than zod's "Invalid key in record".
    if (issue.code === 'invalid_key' && issue.issues.length > 0)
      return `${path}: invalid key: ${issue.issues.map((i) => i.message).join('; ')}`;
    return `${path}: ${issue.message}`;
  });
}

/** The JSON type of a value as a client names it; never the value itself, which may be prompt text. */
export function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** What sits at `path` inside `root`, and whether the last key is present at all. */
function lookup(root: unknown, path: ReadonlyArray<PropertyKey>): { present: boolean; value: unknown } {
  let cur: unknown = root;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, key))
      return { present: false, value: undefined };
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return { present: cur !== undefined, value: cur };
}

/**
 * One issue as `{ path, message }`, judged against the input it came from. zod 4 does not keep the offending
 * input on the issue, so "missing" versus "wrong type" is told apart by looking at the input at the issue's
 * path. Unions are resolved to the branch that got furthest, or merged when every branch failed at one spot.
 * Messages name JSON types and allowed values, never the input's own text.
 */
export function describeIssue(issue: Issue, input: unknown): { path: PropertyKey[]; message: string } {
  const path = [...issue.path];
  switch (issue.code) {
    case 'invalid_union': {
      const firsts = issue.errors.map((branch) => branch[0]).filter((i): i is Issue => i !== undefined);
      if (firsts.length === 0) break;
      const samePlace = firsts.every(
        (i) => i.path.length === firsts[0]!.path.length && i.path.every((k, n) => k === firsts[0]!.path[n]),
      );
      const sub = [...firsts[0]!.path];
      if (samePlace && firsts.every((i) => i.code === 'invalid_type')) {
        const at = [...path, ...sub];
        const { present, value } = lookup(input, at);
        const expected = [...new Set(firsts.map((i) => (i as { expected: string }).expected))];
        return {
          path: at,
          message: present ? `expected ${orList(expected)}, received ${jsonType(value)}` : MISSING,
        };
      }
      if (samePlace && firsts.every((i) => i.code === 'invalid_value')) {
        const values = firsts.flatMap((i) => (i as { values: unknown[] }).values);
        return {
          path: [...path, ...sub],
          message: `expected one of ${values.map((v) => JSON.stringify(v)).join('|')}`,
        };
      }
      // The branch whose first complaint is deepest is the one the client most likely meant.
      let best = firsts[0]!;
      for (const i of firsts) if (i.path.length > best.path.length) best = i;
      const inner = describeIssue({ ...best, path: [...path, ...best.path] } as Issue, input);
      return inner;
    }
    case 'invalid_type': {
      const { present, value } = lookup(input, path);
      if (!present) return { path, message: MISSING };
      if (issue.expected === 'int') return { path, message: 'expected an integer' };
      return { path, message: `expected ${issue.expected}, received ${jsonType(value)}` };
    }
    case 'invalid_value':
      return { path, message: `expected one of ${issue.values.map((v) => JSON.stringify(v)).join('|')}` };
    case 'too_small':
    case 'too_big':
      if (issue.origin === 'number') {
        const op = issue.code === 'too_small' ? (issue.inclusive ? '>=' : '>') : issue.inclusive ? '<=' : '<';
        const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
        return { path, message: `must be ${op} ${String(bound)}` };
      }
      break;
  }
  return { path, message: issue.message };
}

const MISSING = 'required field is missing';

function orList(items: string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}
