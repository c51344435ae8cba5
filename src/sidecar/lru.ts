/**
 * A least-recently-used map bounded by bytes, with a time to live per entry: the one memory primitive behind the
 * response cache and the Responses item memory. Pure: the caller passes the time and each value's size, so tests
 * need no clock and no serializer.
 *
 * A Map from key to entry for the lookups, and the entries in a RecencyList, least recently used first, for eviction
 * (not the Map's own insertion order: see recency-list.ts).
 */
import { type Linked, RecencyList } from './recency-list.js';

interface Slot<V> extends Linked<Slot<V>> {
  key: string;
  value: V;
  bytes: number;
  expiresAt: number;
}

export class ByteLru<V> {
  private readonly slots = new Map<string, Slot<V>>();
  private readonly list = new RecencyList<Slot<V>>();
  private used = 0;

  constructor(private maxBytes: number) {}

  get bytes(): number {
    return this.used;
  }

  get size(): number {
    return this.slots.size;
  }

  get limit(): number {
    return this.maxBytes;
  }

  /** The live value, made most recently used; an expired one is dropped on the way. */
  get(key: string, now: number): V | undefined {
    const slot = this.slots.get(key);
    if (!slot) return undefined;
    if (slot.expiresAt <= now) {
      this.remove(slot);
      return undefined;
    }
    this.list.unlink(slot);
    this.list.push(slot);
    return slot.value;
  }

  /**
   * Stores the value for `ttlMs`, evicting least recently used entries until it fits. A value larger than the whole
   * bound is not stored (it would evict everything and then not fit): false.
   */
  set(key: string, value: V, bytes: number, ttlMs: number, now: number): boolean {
    this.delete(key);
    if (bytes > this.maxBytes || ttlMs <= 0) return false;
    const slot: Slot<V> = { key, value, bytes, expiresAt: now + ttlMs, older: undefined, newer: undefined };
    this.slots.set(key, slot);
    this.list.push(slot);
    this.used += bytes;
    this.evict();
    return true;
  }

  delete(key: string): void {
    const slot = this.slots.get(key);
    if (slot) this.remove(slot);
  }

  /** A new bound (the config changed): shrinking evicts at once. */
  resize(maxBytes: number): void {
    this.maxBytes = maxBytes;
    this.evict();
  }

  /** Drops every expired entry; the cache calls it now and then so dead entries do not hold memory until evicted. */
  prune(now: number): void {
    for (let s = this.list.oldest; s; ) {
      const next = s.newer;
      if (s.expiresAt <= now) this.remove(s);
      s = next;
    }
  }

  private evict(): void {
    while (this.used > this.maxBytes && this.list.oldest) this.remove(this.list.oldest);
  }

  private remove(slot: Slot<V>): void {
    this.list.unlink(slot);
    this.slots.delete(slot.key);
    this.used -= slot.bytes;
  }
}
