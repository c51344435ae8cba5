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
