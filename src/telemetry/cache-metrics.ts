/**
 * The response cache's Prometheus metrics, registered on the sidecar's registry. Apart from SidecarMetrics so the
 * cache can be added or left out without touching the request metrics. Labels: route names only (bounded).
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export class CacheMetrics {
  private readonly lookups: Counter<'route' | 'result'>;
  private readonly saved: Counter<'route'>;
  private readonly bytesGauge: Gauge<'route'>;
  private readonly entriesGauge: Gauge<'route'>;
  private readonly ratio: Gauge<'route'>;
  private readonly counts = new Map<string, { hits: number; misses: number }>();

  constructor(registry: Registry) {
    const registers = [registry];
    this.lookups = new Counter({
      name: 'tiermesh_cache_lookups_total',
      help: 'Response cache lookups by route and result (hit or miss); requests the cache does not apply to are not counted.',
      labelNames: ['route', 'result'] as const,
      registers,
    });
    this.saved = new Counter({
      name: 'tiermesh_cache_saved_usd_total',
      help: 'USD not spent because the answer came from the response cache (its cost when produced, or at the baselineModel).',
      labelNames: ['route'] as const,
      registers,
    });
    this.bytesGauge = new Gauge({
      name: 'tiermesh_cache_bytes',
      help: "Memory held by each route's cached answers.",
      labelNames: ['route'] as const,
      registers,
    });
    this.entriesGauge = new Gauge({
      name: 'tiermesh_cache_entries',
      help: 'Answers cached per route.',
      labelNames: ['route'] as const,
      registers,
    });
    this.ratio = new Gauge({
      name: 'tiermesh_cache_hit_ratio',
      help: "Share of each route's cache lookups that hit, since the sidecar started.",
      labelNames: ['route'] as const,
      registers,
    });
  }

  lookup(route: string, hit: boolean, savedUSD = 0): void {
    this.lookups.inc({ route, result: hit ? 'hit' : 'miss' });
    if (hit && savedUSD > 0) this.saved.inc({ route }, savedUSD);
    let c = this.counts.get(route);
    if (!c) {
      c = { hits: 0, misses: 0 };
      this.counts.set(route, c);
    }
    if (hit) c.hits++;
    else c.misses++;
    this.ratio.set({ route }, c.hits / (c.hits + c.misses));
  }

  size(route: string, stats: { bytes: number; entries: number }): void {
    this.bytesGauge.set({ route }, stats.bytes);
    this.entriesGauge.set({ route }, stats.entries);
  }
}
