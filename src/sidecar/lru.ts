/**
 * A least-recently-used map bounded by bytes, with a time to live per entry: the one memory primitive behind the
 * response cache and the Responses item memory. Pure: the caller passes the time and each value's size, so tests
 * need no clock and no serializer.
 *
 * A Map from key to entry for the lookups, and the entries linked least to most recently used for eviction. (Not the
 * Map's own insertion order: V8 leaves a hole for every deleted key until it rehashes, and finding the first key
 * walks over them, so a full cache evicting on every store paid for every entry it had ever dropped.)
 */
interface Slot<V> {
  key: string;
  value: V;
  bytes: number;
  expiresAt: number;
  older: Slot<V> | undefined;
  newer: Slot<V> | undefined;
}

export class ByteLru<V> {
  private readonly slots = new Map<string, Slot<V>>();
  private oldest: Slot<V> | undefined;
  private newest: Slot<V> | undefined;
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
    this.unlink(slot);
    this.link(slot);
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
    this.link(slot);
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
    for (let s = this.oldest; s; ) {
      const next = s.newer;
      if (s.expiresAt <= now) this.remove(s);
      s = next;
    }
  }

  private evict(): void {
    while (this.used > this.maxBytes && this.oldest) this.remove(this.oldest);
  }

  private remove(slot: Slot<V>): void {
    this.unlink(slot);
    this.slots.delete(slot.key);
    this.used -= slot.bytes;
  }

  /** As the most recently used. */
  private link(slot: Slot<V>): void {
    slot.older = this.newest;
    slot.newer = undefined;
    if (this.newest) this.newest.newer = slot;
    else this.oldest = slot;
    this.newest = slot;
  }

  private unlink(slot: Slot<V>): void {
    if (slot.older) slot.older.newer = slot.newer;
    else this.oldest = slot.newer;
    if (slot.newer) slot.newer.older = slot.older;
    else this.newest = slot.older;
    slot.older = undefined;
    slot.newer = undefined;
  }
}
