import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CacheMetrics } from './cache-metrics.js';

describe('CacheMetrics', () => {
  it('counts hits and misses per route, the hit ratio, the saved USD and the bytes held', async () => {
    const registry = new Registry();
    const m = new CacheMetrics(registry);
    m.lookup('default', false);
    m.lookup('default', true, 0.25);
    m.lookup('default', true, 0.25);
    m.lookup('other', false);
    m.size('default', { bytes: 2048, entries: 1 });
    const text = await registry.metrics();
    expect(text).toContain('tiermesh_cache_lookups_total{route="default",result="hit"} 2');
    expect(text).toContain('tiermesh_cache_lookups_total{route="default",result="miss"} 1');
    expect(text).toMatch(/tiermesh_cache_hit_ratio\{route="default"\} 0\.666/);
    expect(text).toContain('tiermesh_cache_hit_ratio{route="other"} 0');
    expect(text).toContain('tiermesh_cache_saved_usd_total{route="default"} 0.5');
    expect(text).toContain('tiermesh_cache_bytes{route="default"} 2048');
    expect(text).toContain('tiermesh_cache_entries{route="default"} 1');
  });
});
