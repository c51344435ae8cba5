/**
 * Entries linked oldest to newest, for the bounded maps beside a Map index (DecisionRing, ByteLru): append as the
 * newest, remove from anywhere, and find the oldest, each O(1). Why not the Map's own insertion order: V8 leaves a
 * hole for every deleted key until it rehashes, and finding the first key walks over them, so a full map that drops
 * its oldest key on every insert pays for every key it ever dropped.
 *
 * The links live on the entries themselves (no node objects of its own).
 */
export interface Linked<E> {
  older: E | undefined;
  newer: E | undefined;
}

export class RecencyList<E extends Linked<E>> {
  oldest: E | undefined;
  newest: E | undefined;

  /** Appends `e` (not in the list) as the newest. */
  push(e: E): void {
    e.older = this.newest;
    e.newer = undefined;
    if (this.newest) this.newest.newer = e;
    else this.oldest = e;
    this.newest = e;
  }

  /** Takes `e` (in the list) out. */
  unlink(e: E): void {
    if (e.older) e.older.newer = e.newer;
    else this.oldest = e.newer;
    if (e.newer) e.newer.older = e.older;
    else this.newest = e.older;
    e.older = undefined;
    e.newer = undefined;
  }
}
