/**
 * The shell around routing/sticky.ts: one bounded TTL map per route with spec.stickiness on, looked up before the
 * decision and updated after a served answer. Routes without stickiness cost one map lookup of the route name.
 *
 *   const c = conversations.lookup(runtime, inbound, now);      // undefined: the route does not stick
 *   decideRoute(runtime, inbound, random, c?.state);
 *   ... served from tier T by model M ... c?.remember(decision, T, M, now);
 */
import { resolveRoute } from '../routing/decide.js';
import { conversationKey, StickyMap, type StickyState } from '../routing/sticky.js';
import type { RouteDecision } from '../routing/types.js';
import type { InboundRequest } from './inbound.js';
import type { SidecarRuntime } from './runtime.js';

export interface Conversation {
  state: StickyState | undefined;
  remember(d: RouteDecision, tier: string, model: string, now: number): void;
}

interface RouteMap {
  map: StickyMap<StickyState>;
  ttlMs: number;
  max: number;
}

export class Conversations {
  private readonly routes = new Map<string, RouteMap>();

  lookup(runtime: SidecarRuntime, inbound: InboundRequest, now: number): Conversation | undefined {
    let route: ReturnType<typeof resolveRoute>['route'];
    try {
      route = resolveRoute(runtime.snapshot, inbound.request.model).route;
    } catch {
      return undefined; // decide answers the unknown model
    }
    const cfg = route.spec.stickiness;
    if (!cfg?.enabled) return undefined;
    const user = inbound.headers.user ?? (inbound.request.user || undefined);
    const key = conversationKey(inbound.request, inbound.headers.session, user);
    if (key === undefined) return undefined;
    const ttlMs = cfg.ttlSeconds * 1000;
    let rm = this.routes.get(route.name);
    if (!rm || rm.ttlMs !== ttlMs || rm.max !== cfg.maxConversations) {
      rm = {
        map: new StickyMap({ ttlMs, maxEntries: cfg.maxConversations }),
        ttlMs,
        max: cfg.maxConversations,
      };
      this.routes.set(route.name, rm);
    }
    const map = rm.map;
    return {
      state: map.get(key, now),
      remember(d, tier, model, at) {
        const tierIndex = d.spec.tiers.findIndex((t) => t.name === tier);
        if (tierIndex >= 0) map.set(key, { tierIndex, model }, at);
      },
    };
  }
}
