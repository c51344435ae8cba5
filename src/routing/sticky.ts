/**
 * Conversation stickiness, pure parts: a conversation stays on the tier and model it started with unless a new turn's
 * score passes the tier boundary by a margin; a tool-call loop never switches model.
 *
 *   conversationKey(request, session, user): string | undefined   x-tiermesh-session, else a hash of user + first turns
 *   inToolLoop(request): boolean                                  the last message is a tool result
 *   stickyTier(previous, score, tiers, margin, toolLoop): StickyVerdict
 *   new StickyMap({ ttlMs, maxEntries }).get(key, now) / .set(key, value, now)
 *
 * The fingerprint is a SHA-256 of the first system and user turns: the map never holds prompt text.
 */
import { createHash } from 'node:crypto';
import type { ChatCompletionRequest } from '../api/openai.js';
import { clamp01, scoreToTier } from './tiering.js';
import { messageText } from './tokens.js';

export const SESSION_HEADER = 'x-tiermesh-session';

export interface StickyState {
  tierIndex: number;
  model: string;
}

/**
 * Which conversation a request belongs to. Without a session header, only a request that already carries history
 * (more than one non-system turn) or a first turn can be matched, by hashing the opening turns every later request of
 * the same conversation repeats.
 */
export function conversationKey(
  req: ChatCompletionRequest,
  session: string | undefined,
  user: string | undefined,
): string | undefined {
  if (session !== undefined && session !== '') return `s:${session}`;
  const h = createHash('sha256');
  // Two users who both open with "hi" are two conversations.
  h.update(user ?? '');
  h.update('\u0000');
  let turns = 0;
  for (const m of req.messages) {
    if (m.role === 'system' || m.role === 'developer' || (m.role === 'user' && turns === 0)) {
      h.update(m.role);
      h.update('\u0000');
      h.update(messageText(m));
      h.update('\u0000');
      if (m.role === 'user') turns++;
    }
    if (turns > 0) break;
  }
  return turns === 0 ? undefined : `f:${h.digest('base64url').slice(0, 22)}`;
}

/** The conversation is inside a tool-call loop: the model asked for tools and this request carries the results. */
export function inToolLoop(req: ChatCompletionRequest): boolean {
  const last = req.messages.at(-1);
  return last?.role === 'tool' || last?.role === 'function';
}

export type StickyVerdict =
  | { keep: true; reason: 'tool-loop' | 'within-margin' }
  | { keep: false; reason: 'no-history' | 'past-margin' };

/**
 * Keep the previous tier unless the new score lies in another tier and at least `margin` away from the boundary
 * between them; in a tool loop, always keep (the model that asked for the tools reads their results).
 */
export function stickyTier(
  previous: StickyState | undefined,
  score: number,
  tiers: number,
  margin: number,
  toolLoop: boolean,
): StickyVerdict {
  if (!previous) return { keep: false, reason: 'no-history' };
  if (toolLoop) return { keep: true, reason: 'tool-loop' };
  const now = scoreToTier(score, tiers);
  if (now === previous.tierIndex) return { keep: true, reason: 'within-margin' };
  // The boundary crossed: the upper edge of the previous tier when moving up, its lower edge when moving down.
  const boundary =
    (now > previous.tierIndex ? previous.tierIndex + 1 : previous.tierIndex) / Math.max(1, tiers);
  return Math.abs(clamp01(score) - boundary) >= margin
    ? { keep: false, reason: 'past-margin' }
    : { keep: true, reason: 'within-margin' };
}

interface Slot<T> {
  value: T;
  expires: number;
}

/** Bounded map with a TTL per entry: the oldest entry goes when full, an expired one is never returned. */
export class StickyMap<T> {
  private readonly slots = new Map<string, Slot<T>>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;

  constructor(opts: { ttlMs: number; maxEntries: number }) {
    this.ttlMs = opts.ttlMs;
    this.maxEntries = opts.maxEntries;
  }

  get(key: string, now: number): T | undefined {
    const s = this.slots.get(key);
    if (!s) return undefined;
    if (s.expires <= now) {
      this.slots.delete(key);
      return undefined;
    }
    return s.value;
  }

  /** Sets (and refreshes the TTL of) an entry; re-inserted last, so insertion order is least recently used first. */
  set(key: string, value: T, now: number): void {
    this.slots.delete(key);
    while (this.slots.size >= this.maxEntries) {
      const oldest = this.slots.keys().next().value as string;
      this.slots.delete(oldest);
    }
    this.slots.set(key, { value, expires: now + this.ttlMs });
  }

  get size(): number {
    return this.slots.size;
  }
}
