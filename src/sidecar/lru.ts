/**
 * A least-recently-used map bounded by bytes, with a time to live per entry: the one memory primitive behind the
 * response cache and the Responses item memory. Pure: the caller passes the time and each value's size, so tests
 * need no clock and no serializer.
 *
 * A Map keeps insertion order; moving an entry to the end on every hit makes its first key the least recently used.
 */
interface Slot<V> {
  value: V;
  bytes: number;
  expiresAt: number;
}

export class ByteLru<V> {
  private readonly slots = new Map<string, Slot<V>>();
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
    this.slots.delete(key);
    if (slot.expiresAt <= now) {
      this.used -= slot.bytes;
      return undefined;
    }
    this.slots.set(key, slot);
    return slot.value;
  }

  /**
   * Stores the value for `ttlMs`, evicting least recently used entries until it fits. A value larger than the whole
   * bound is not stored (it would evict everything and then not fit): false.
   */
  set(key: string, value: V, bytes: number, ttlMs: number, now: number): boolean {
    this.delete(key);
    if (bytes > this.maxBytes || ttlMs <= 0) return false;
    this.slots.set(key, { value, bytes, expiresAt: now + ttlMs });
    this.used += bytes;
    this.evict();
    return true;
  }

  delete(key: string): void {
    const slot = this.slots.get(key);
    if (!slot) return;
    this.slots.delete(key);
    this.used -= slot.bytes;
  }

  /** A new bound (the config changed): shrinking evicts at once. */
  resize(maxBytes: number): void {
    this.maxBytes = maxBytes;
    this.evict();
  }

  /** Drops every expired entry; the cache calls it now and then so dead entries do not hold memory until evicted. */
  prune(now: number): void {
    for (const [key, slot] of this.slots) if (slot.expiresAt <= now) this.delete(key);
  }

  private evict(): void {
    for (const key of this.slots.keys()) {
      if (this.used <= this.maxBytes) return;
      this.delete(key);
    }
  }
}
