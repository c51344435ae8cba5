/**
 * Priority and user-tier routing from metadata only: the client's `x-tiermesh-priority` header, or the route's mapping
 * of the user (x-tiermesh-user / `user`) or group (`x-tiermesh-group`), names a priority class of `spec.priority`, and
 * the class bounds the tiers the request may use (`minTier`, `maxTier`). The prompt is never read.
 *
 *   priorityWindow(spec, { priority, user, group }): PriorityWindow | undefined
 *     throws TM_INVALID_REQUEST (param "x-tiermesh-priority") for a header value that names no class
 *
 * Precedence: the header (the app knows this request), then the user's class, then the group's, then `default`.
 * An unmapped user or group is not an error: the mappings are the route's, the header is the client's claim.
 */
import type { ModelRouteSpec } from '../api/modelroute.js';
import { TiermeshError } from '../errors.js';

export const PRIORITY_HEADER = 'x-tiermesh-priority';
export const GROUP_HEADER = 'x-tiermesh-group';

export interface PriorityWindow {
  /** The class that applied. */
  name: string;
  source: 'header' | 'user' | 'group' | 'default';
  /** Lowest and highest tier index the request may use (inclusive). */
  lo: number;
  hi: number;
}

export interface PriorityMetadata {
  priority?: string | undefined;
  user?: string | undefined;
  group?: string | undefined;
}

export function priorityWindow(spec: ModelRouteSpec, meta: PriorityMetadata): PriorityWindow | undefined {
  const p = spec.priority;
  let name: string | undefined;
  let source: PriorityWindow['source'] | undefined;
  if (meta.priority !== undefined) {
    if (!p || !Object.hasOwn(p.classes, meta.priority)) {
      const known = p ? Object.keys(p.classes) : [];
      throw new TiermeshError(
        'TM_INVALID_REQUEST',
        known.length > 0
          ? `${PRIORITY_HEADER} must be one of ${known.map((k) => `"${k}"`).join(', ')}`
          : `${PRIORITY_HEADER} is not accepted: this route defines no priority classes`,
        { param: PRIORITY_HEADER },
      );
    }
    name = meta.priority;
    source = 'header';
  } else if (!p) {
    return undefined;
  } else if (meta.user !== undefined && p.users && Object.hasOwn(p.users, meta.user)) {
    name = p.users[meta.user];
    source = 'user';
  } else if (meta.group !== undefined && p.groups && Object.hasOwn(p.groups, meta.group)) {
    name = p.groups[meta.group];
    source = 'group';
  } else if (p.default !== undefined) {
    name = p.default;
    source = 'default';
  }
  if (name === undefined || source === undefined) return undefined;
  const cls = p!.classes[name];
  if (!cls) return undefined; // the compiler rejects mappings to unknown classes; a stale spec routes as if unmapped
  const index = (tier: string | undefined, fallback: number) => {
    if (tier === undefined) return fallback;
    const i = spec.tiers.findIndex((t) => t.name === tier);
    return i < 0 ? fallback : i;
  };
  const lo = index(cls.minTier, 0);
  const hi = Math.max(lo, index(cls.maxTier, spec.tiers.length - 1));
  return { name, source, lo, hi };
}
