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
 * Memory is bounded by `size` whatever the traffic: a Map from id to entry for the lookups, and the entries in a
 * RecencyList (oldest first) for eviction and expiry, both O(1) per entry. (With the Map's own insertion order, a
 * full ring cost ~10 us per request in bench/sidecar.ts: see recency-list.ts.) Records hold no prompt text: `request`
 * (the body, for a retry) is kept only when the sidecar runs with --log-prompts, which is when prompts may be
 * retained at all.
 */
import { createHash } from 'node:crypto';
import type { ChatCompletionRequest } from '../api/openai.js';
import type { Features } from '../routing/features.js';
import type { DecisionSource, LearnedScore } from '../routing/types.js';
import { type Linked, RecencyList } from './recency-list.js';

/**
 * What the cascade made of one answer of a tier step (a hedge's loser and the judge's reply are not answers here):
 * ok, or the check that failed and where the request went. `checked`: a check ran at all (none runs on a stream, nor
 * the judge on the last step), so `ok` without it says only that nothing sent the answer up. The last step's answer
 * (no tier above, or no escalation left) is checked only to record the verdict: a failed one has no `to`, since the
 * answer was served anyway.
 */
export interface CascadeVerdict {
  tier: string;
  model: string;
  ok: boolean;
  checked: boolean;
  check?: string;
  /** Tier the cascade moved on to after a failed check; absent when the failed answer was served (the last step). */
  to?: string;
}

/** The verdict moved the request on (up a tier, or a strict retry on the same one): what escalation counts count. */
export function escalated(v: CascadeVerdict): v is CascadeVerdict & { to: string } {
  return !v.ok && v.to !== undefined;
}

export interface DecisionRecord {
  requestId: string;
  /** Epoch ms when the answer was finished. */
  at: number;
  route: string;
  /** Tier the classifier (or task, split, downgrade) chose, before any cascade escalation or tier promotion. */
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
  /** The learned model's own score, percentile and tie, when it classified the request. */
  learned?: LearnedScore | undefined;
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

interface RingEntry extends Linked<RingEntry> {
  record: DecisionRecord;
}

export class DecisionRing {
  readonly maxSize: number;
  readonly ttlMs: number;
  private readonly byId = new Map<string, RingEntry>();
  private readonly list = new RecencyList<RingEntry>();

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
    return this.byId.size;
  }

  add(record: DecisionRecord, now: number): void {
    this.sweep(now);
    // A re-used request id leaves its old place and becomes the newest entry.
    const old = this.byId.get(record.requestId);
    if (old) this.list.unlink(old);
    const entry: RingEntry = { record, older: undefined, newer: undefined };
    this.list.push(entry);
    this.byId.set(record.requestId, entry);
    while (this.byId.size > this.maxSize && this.list.oldest) this.remove(this.list.oldest);
  }

  get(requestId: string, now: number): DecisionRecord | undefined {
    const e = this.byId.get(requestId);
    if (!e) return undefined;
    if (this.expired(e.record, now)) {
      this.remove(e);
      return undefined;
    }
    return e.record;
  }

  private expired(r: DecisionRecord, now: number): boolean {
    return now - r.at > this.ttlMs;
  }

  /** Oldest first: stops at the first live entry, since everything after it is newer. */
  private sweep(now: number): void {
    for (let n = 0; n < SWEEP && this.list.oldest && this.expired(this.list.oldest.record, now); n++)
      this.remove(this.list.oldest);
  }

  private remove(e: RingEntry): void {
    this.list.unlink(e);
    this.byId.delete(e.record.requestId);
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
