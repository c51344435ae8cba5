/** What a traffic sample costs routed versus sent to the baseline model: per-tier counts and USD (pure arithmetic). */
import type { ModelEntry } from '../api/modelroute.js';
import { costUSD } from '../budget/cost.js';

/** Completion length assumed when a traffic line has neither usage nor max_tokens. */
export const DEFAULT_COMPLETION_TOKENS = 300;

/** A request's price at model `m`: budget/cost.ts's costUSD, the one price of a usage. */
export function costUsd(
  m: Pick<ModelEntry, 'pricing'>,
  promptTokens: number,
  completionTokens: number,
): number {
  return costUSD(m.pricing, promptTokens, completionTokens);
}

export interface RoutedRequest {
  /** Tier label, "route/tier" when the sample spans several routes. */
  tier: string;
  /** Order of the tier in its route (cheapest first), for sorting. */
  tierIndex: number;
  model: ModelEntry;
  baseline: ModelEntry;
  promptTokens: number;
  completionTokens: number;
}

export interface TierRow {
  tier: string;
  requests: number;
  share: number;
  routedUsd: number;
  baselineUsd: number;
  /** Requests per model within the tier, by model name. */
  models: Record<string, number>;
}

export interface SavingsReport {
  requests: number;
  tiers: TierRow[];
  routedUsd: number;
  baselineUsd: number;
  /** 1 - routed / baseline; 0 when the baseline costs nothing. */
  savings: number;
  baselineModels: string[];
}

/** `tiers` lists every tier to show, cheapest first, so unused tiers still appear with zero requests. */
export function summarizeSavings(
  items: readonly RoutedRequest[],
  tiers: readonly string[] = [],
): SavingsReport {
  const rows = new Map<string, TierRow & { index: number }>();
  for (const [i, t] of tiers.entries())
    rows.set(t, { tier: t, index: i, requests: 0, share: 0, routedUsd: 0, baselineUsd: 0, models: {} });
  let routedUsd = 0;
  let baselineUsd = 0;
  const baselines = new Set<string>();
  for (const r of items) {
    let row = rows.get(r.tier);
    if (!row) {
      row = {
        tier: r.tier,
        index: tiers.length + r.tierIndex,
        requests: 0,
        share: 0,
        routedUsd: 0,
        baselineUsd: 0,
        models: {},
      };
      rows.set(r.tier, row);
    }
    const routed = costUsd(r.model, r.promptTokens, r.completionTokens);
    const base = costUsd(r.baseline, r.promptTokens, r.completionTokens);
    row.requests++;
    row.routedUsd += routed;
    row.baselineUsd += base;
    row.models[r.model.name] = (row.models[r.model.name] ?? 0) + 1;
    routedUsd += routed;
    baselineUsd += base;
    baselines.add(r.baseline.name);
  }
  const n = items.length;
  const ordered = [...rows.values()]
    .sort((a, b) => a.index - b.index)
    .map(({ index: _index, ...row }) => ({ ...row, share: n > 0 ? row.requests / n : 0 }));
  return {
    requests: n,
    tiers: ordered,
    routedUsd,
    baselineUsd,
    savings: baselineUsd > 0 ? 1 - routedUsd / baselineUsd : 0,
    baselineModels: [...baselines].sort(),
  };
}

const usd = (x: number) => (x >= 100 ? `$${x.toFixed(2)}` : `$${x.toFixed(4)}`);

export function formatSavings(r: SavingsReport): string {
  const w = Math.max(4, ...r.tiers.map((t) => t.tier.length));
  const lines = [
    `${'tier'.padEnd(w)}  requests   share      routed    baseline  models`,
    ...r.tiers.map(
      (t) =>
        `${t.tier.padEnd(w)}  ${String(t.requests).padStart(8)}  ${`${(t.share * 100).toFixed(1)}%`.padStart(6)}  ${usd(t.routedUsd).padStart(10)}  ${usd(t.baselineUsd).padStart(10)}  ` +
        Object.entries(t.models)
          .sort((a, b) => b[1] - a[1])
          .map(([m, c]) => `${m} ${c}`)
          .join(', '),
    ),
    '',
    `requests:       ${r.requests}`,
    `routed cost:    ${usd(r.routedUsd)}`,
    `baseline cost:  ${usd(r.baselineUsd)} (every request on ${r.baselineModels.join(', ') || 'n/a'})`,
    `savings:        ${(r.savings * 100).toFixed(1)}%`,
  ];
  return `${lines.join('\n')}\n`;
}
