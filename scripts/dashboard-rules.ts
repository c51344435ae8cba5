/**
 * The chart's Grafana dashboard as one Prometheus rule file, for `promtool check rules` (scripts/chart-check.sh):
 * every panel query becomes a recording rule, with Grafana's variables replaced by what they expand to, so the
 * PromQL parser sees exactly what Prometheus will. Also refuses (exit 1, naming the panel) a query of a metric that
 * neither the sidecar nor the operator exports: a renamed metric leaves an empty panel, not an error, otherwise.
 *
 *   tsx scripts/dashboard-rules.ts charts/tiermesh/files/dashboard.json > dashboard-rules.json
 */
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { operatorMetrics } from '../src/operator/metrics.js';
import { CacheMetrics } from '../src/telemetry/cache-metrics.js';
import { SidecarMetrics } from '../src/telemetry/metrics.js';

interface Panel {
  id: number;
  title: string;
  targets?: Array<{ expr: string; refId: string }>;
}

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: tsx scripts/dashboard-rules.ts DASHBOARD.json\n');
  process.exit(2);
}
const dashboard = JSON.parse(readFileSync(file, 'utf8')) as { panels: Panel[] };

// Every series name the two processes can expose; histograms as their _bucket/_sum/_count series.
const names = new Set<string>();
const cache = new Registry();
new CacheMetrics(cache);
for (const r of [new SidecarMetrics().registry, cache, operatorMetrics().registry])
  for (const m of r.getMetricsAsArray()) {
    const type = (m as unknown as { type: string }).type;
    if (type === 'histogram' || type === 'summary')
      for (const s of ['_bucket', '_sum', '_count']) names.add(`${m.name}${s}`);
    else names.add(m.name);
  }

// What Grafana substitutes: a multi-value variable set to All is its allValue (.*); interval and range macros a
// duration; a custom variable its current value.
const expand = (expr: string) =>
  expr
    .replaceAll('$__rate_interval', '5m')
    .replaceAll('$__interval', '1m')
    .replaceAll('$__range', '1h')
    .replaceAll('$namespace', '.*')
    .replaceAll('$route', '.*')
    .replaceAll('$top_tier', 'strong');

const rules: Array<{ record: string; expr: string }> = [];
let unknown = 0;
for (const p of dashboard.panels)
  for (const t of p.targets ?? []) {
    const expr = expand(t.expr);
    if (expr.includes('$')) {
      process.stderr.write(
        `dashboard-rules: panel ${p.id} "${p.title}" uses a variable this script does not know\n`,
      );
      unknown++;
    }
    for (const n of expr.match(/\btiermesh_[a-z_]+\b/g) ?? [])
      if (!names.has(n)) {
        process.stderr.write(
          `dashboard-rules: panel ${p.id} "${p.title}" queries ${n}, which nothing exports\n`,
        );
        unknown++;
      }
    rules.push({ record: `dashboard:panel_${p.id}_${t.refId.toLowerCase()}`, expr });
  }
if (unknown > 0) process.exit(1);
process.stdout.write(`${JSON.stringify({ groups: [{ name: 'dashboard', rules }] }, null, 2)}\n`);
