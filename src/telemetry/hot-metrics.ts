/**
 * Counters and histograms for the request path, exposed through a prom-client Registry.
 *
 * prom-client validates, sorts and hashes the label object on every inc()/observe(); per request the sidecar
 * updates eight series, and that showed as a sizeable share of its CPU per request in bench/sidecar.ts. Here the
 * hot path is a Map lookup per label value (label names are fixed per metric), and the work of
 * formatting is done at scrape time, when prom-client's registry asks `get()` for the values.
 */
import type { Registry } from 'prom-client';

type Labels<N extends string> = Record<N, string>;

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

interface Series<N extends string, S> {
  labels: Labels<N>;
  state: S;
}

abstract class HotMetric<N extends string, S> {
  /** Every series, in creation order (what `values` renders). */
  protected readonly series: Array<Series<N, S>> = [];
  /**
   * The series by label values, one Map level per label name. The values are mostly the config's own strings, whose
   * hash V8 keeps, so a lookup hashes nothing new; a key joined from the values was a fresh string to build and hash
   * on every update (about eight per request).
   */
  private readonly tree = new Map<string, unknown>();
  readonly aggregator = 'sum';
  abstract readonly type: 'counter' | 'histogram';

  constructor(
    readonly name: string,
    readonly help: string,
    protected readonly labelNames: readonly N[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  protected abstract fresh(): S;

  /** The series for these label values, created on first use. */
  protected at(labels: Labels<N>): S {
    const names = this.labelNames;
    const last = names.length - 1;
    let level = this.tree;
    for (let i = 0; i < last; i++) {
      const v = labels[names[i]!];
      let next = level.get(v) as Map<string, unknown> | undefined;
      if (!next) {
        next = new Map();
        level.set(v, next);
      }
      level = next;
    }
    const leaf = labels[names[last]!];
    let s = level.get(leaf) as Series<N, S> | undefined;
    if (!s) {
      s = { labels: { ...labels }, state: this.fresh() };
      level.set(leaf, s);
      this.series.push(s);
    }
    return s.state;
  }

  abstract values(): MetricValue[];

  /** What prom-client's registry reads when it renders the exposition. */
  get(): { name: string; help: string; type: string; values: MetricValue[]; aggregator: string } {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values: this.values(),
      aggregator: this.aggregator,
    };
  }

  reset(): void {
    this.series.length = 0;
    this.tree.clear();
  }
}

export class HotCounter<N extends string> extends HotMetric<N, { v: number }> {
  readonly type = 'counter';
  protected fresh() {
    return { v: 0 };
  }

  inc(labels: Labels<N>, by = 1): void {
    this.at(labels).v += by;
  }

  values(): MetricValue[] {
    return this.series.map((s) => ({ value: s.state.v, labels: s.labels }));
  }
}

export class HotHistogram<N extends string> extends HotMetric<
  N,
  { counts: Float64Array; sum: number; n: number }
> {
  readonly type = 'histogram';

  constructor(
    name: string,
    help: string,
    labelNames: readonly N[],
    private readonly buckets: readonly number[],
    registry: Registry,
  ) {
    super(name, help, labelNames, registry);
  }

  protected fresh() {
    return { counts: new Float64Array(this.buckets.length), sum: 0, n: 0 };
  }

  observe(labels: Labels<N>, value: number): void {
    const s = this.at(labels);
    s.sum += value;
    s.n++;
    // Counts per bucket, not cumulative: one increment per observation; `values` sums them up.
    for (let i = 0; i < this.buckets.length; i++) {
      if (value <= this.buckets[i]!) {
        s.counts[i]!++;
        return;
      }
    }
  }

  values(): MetricValue[] {
    const out: MetricValue[] = [];
    for (const { labels, state } of this.series) {
      let cumulative = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        cumulative += state.counts[i]!;
        out.push({
          metricName: `${this.name}_bucket`,
          labels: { le: this.buckets[i]!, ...labels },
          value: cumulative,
        });
      }
      out.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...labels }, value: state.n });
      out.push({ metricName: `${this.name}_sum`, labels, value: state.sum });
      out.push({ metricName: `${this.name}_count`, labels, value: state.n });
    }
    return out;
  }
}
