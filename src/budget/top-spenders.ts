/**
 * The biggest spenders of a budget window in bounded memory ("one power user generating 40% of GPT-4 costs"):
 * the Space-Saving heavy-hitters summary. With `capacity` counters, every user who spent more than
 * total / capacity is guaranteed to be tracked, and each tracked figure overstates the truth by at most its
 * `errorUSD` (what the evicted counter it replaced had reached). Users are ids as given; no prompt data.
 *
 *   new TopSpenders(capacity)
 *     .add(user, usd)         spend of one request ("" or undefined user: not tracked)
 *     .top(n): Spender[]      the n largest, biggest first, with their error bound
 *     .reset()                a new window
 *   TopSpenders.from(list, capacity)   continues from a persisted top list (ModelBudget.status.topSpenders)
 *   .clone()                a copy to change without touching this one (a write that may fail)
 */

export interface Spender {
  user: string;
  usd: number;
  requests: number;
  /** Upper bound of how much of `usd` may belong to users this counter replaced. */
  errorUSD: number;
}

export class TopSpenders {
  private readonly counters = new Map<string, Spender>();

  constructor(readonly capacity = 100) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('capacity must be a positive integer');
  }

  /**
   * A summary that carries on from `spenders`, e.g. what a previous leader wrote. Users who were tracked but not in
   * the list start again from zero, so until they spend again their figure can understate; `usd - errorUSD` stays
   * a lower bound.
   */
  static from(spenders: readonly Spender[], capacity = 100): TopSpenders {
    const t = new TopSpenders(capacity);
    for (const s of spenders.slice(0, capacity)) t.counters.set(s.user, { ...s });
    return t;
  }

  clone(): TopSpenders {
    return TopSpenders.from([...this.counters.values()], this.capacity);
  }

  add(user: string | undefined, usd: number): void {
    if (!user || !(usd >= 0)) return;
    const c = this.counters.get(user);
    if (c) {
      c.usd += usd;
      c.requests++;
      return;
    }
    if (this.counters.size < this.capacity) {
      this.counters.set(user, { user, usd, requests: 1, errorUSD: 0 });
      return;
    }
    // Replace the smallest counter; the newcomer inherits its count as the error bound (Space-Saving).
    let min: Spender | undefined;
    for (const s of this.counters.values()) if (!min || s.usd < min.usd) min = s;
    this.counters.delete(min!.user);
    this.counters.set(user, { user, usd: min!.usd + usd, requests: 1, errorUSD: min!.usd });
  }

  top(n: number): Spender[] {
    return [...this.counters.values()]
      .sort((a, b) => b.usd - a.usd || a.user.localeCompare(b.user))
      .slice(0, n)
      .map((s) => ({ ...s }));
  }

  reset(): void {
    this.counters.clear();
  }
}
