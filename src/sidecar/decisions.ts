/**
 * The bounded in-memory ring of recent routing decisions, by request id: what `POST /v1/feedback` looks up to
 * attribute a score to the route, tier and model that answered, and what a `retry` re-runs one tier up.
 *
 *   new DecisionRing({ size?, ttlMs? })
 *     .add(record, now)            newest in; past `size` the oldest goes; a repeated id replaces the old entry
 *     .get(requestId, now)         the record, or undefined when unknown or older than `ttlMs` (then dropped)
 *     .size
 *   featuresFingerprint(features)  short stable hash of the structural features (no prompt text)
 *
 * Memory is bounded by `size` whatever the traffic: a Map kept in insertion order is the ring (the first key is
 * the oldest), so eviction and expiry are O(1) per entry. Records hold no prompt text: `request` (the body, for
 * a retry) is kept only when the sidecar runs with --log-prompts, which is when prompts may be retained at all.
 */
import { createHash } from 'node:crypto';
import type { ChatCompletionRequest } from '../api/openai.js';
import type { Features } from '../routing/features.js';
import type { DecisionSource } from '../routing/types.js';

/** One quality check of the cascade on one tier's answer: ok, or the check that failed and sent it up. */
export interface CascadeVerdict {
  tier: string;
  model: string;
  ok: boolean;
  check?: string;
  /** Tier the cascade moved on to after a failed check. */
  to?: string;
}

export interface DecisionRecord {
  requestId: string;
  /** Epoch ms when the answer was finished. */
  at: number;
  route: string;
  /** Tier the classifier (or task, split, downgrade) chose, before any cascade escalation. */
  initialTier: string;
  /** Tier that served the answer the client got. */
  tier: string;
  model: string;
  provider: string;
  source: DecisionSource;
  /** Classifier difficulty score in [0, 1] and its confidence. */
  score: number;
  confidence: number;
  /** Names of the signals that fired; never prompt text. */
  signals: string[];
  /** featuresFingerprint of the request's structural features ("" when the classifier did not run). */
  fingerprint: string;
  /** The structural features themselves: counts and flags, no text; for threshold calibration. */
  features?: Features | undefined;
  /** x-tiermesh-task as sent, and the declared x-tiermesh-feature label (bounded), when present. */
  task?: string | undefined;
  feature?: string | undefined;
  costUSD: number;
  cascade: CascadeVerdict[];
  /** HTTP status the client got. */
  status: number;
  stream: boolean;
  /** The request body, only with --log-prompts: what `retry: true` re-sends one tier up. */
  request?: ChatCompletionRequest | undefined;
}

export const DEFAULT_RING_SIZE = 10_000;
export const DEFAULT_RING_TTL_MS = 15 * 60_000;
/** Expired entries dropped per `add`: keeps up with arrivals without ever scanning the whole ring in one call. */
const SWEEP = 4;

export class DecisionRing {
  readonly maxSize: number;
  readonly ttlMs: number;
  private readonly entries = new Map<string, DecisionRecord>();

  constructor(opts: { size?: number; ttlMs?: number } = {}) {
    const size = opts.size ?? DEFAULT_RING_SIZE;
    const ttl = opts.ttlMs ?? DEFAULT_RING_TTL_MS;
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError('decision ring size must be a positive integer');
    if (!(ttl > 0)) throw new RangeError('decision ring TTL must be positive');
    this.maxSize = size;
    this.ttlMs = ttl;
  }

  get size(): number {
    return this.entries.size;
  }

  add(record: DecisionRecord, now: number): void {
    this.sweep(now);
    // Delete first so a re-used request id moves to the newest end instead of keeping its old place.
    this.entries.delete(record.requestId);
    this.entries.set(record.requestId, record);
    while (this.entries.size > this.maxSize) {
      this.entries.delete(this.entries.keys().next().value as string);
    }
  }

  get(requestId: string, now: number): DecisionRecord | undefined {
    const r = this.entries.get(requestId);
    if (!r) return undefined;
    if (this.expired(r, now)) {
      this.entries.delete(requestId);
      return undefined;
    }
    return r;
  }

  private expired(r: DecisionRecord, now: number): boolean {
    return now - r.at > this.ttlMs;
  }

  /** Oldest first: stops at the first live entry, since everything after it is newer. */
  private sweep(now: number): void {
    let n = 0;
    for (const [id, r] of this.entries) {
      if (n++ >= SWEEP || !this.expired(r, now)) break;
      this.entries.delete(id);
    }
  }
}

/**
 * 12 hex digits of SHA-256 over the features in a fixed key order: equal structure, equal fingerprint, so misroutes
 * of one kind of request can be grouped in the decision log without any prompt text.
 */
export function featuresFingerprint(f: Features | undefined): string {
  if (!f) return '';
  const keys = Object.keys(f).sort() as Array<keyof Features>;
  const canonical = keys.map((k) => `${k}=${String(f[k])}`).join(';');
  return createHash('sha256').update(canonical).digest('hex').slice(0, 12);
}
