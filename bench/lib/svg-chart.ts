/** A hand-written SVG line chart of latency p50 (solid) and p99 (dashed) against request rate, log-scale y. */

export interface Series {
  label: string;
  /** One value per x; undefined or NaN where the system has no measurement. */
  p50: Array<number | undefined>;
  p99: Array<number | undefined>;
}

export interface ChartInput {
  title: string;
  subtitle: string;
  /** Request rates, drawn evenly spaced in the given order. */
  xs: number[];
  series: Series[];
}

const COLORS = ['#4d4d4d', '#8c8c8c', '#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e'];
const W = 800;
const H = 480;
const M = { left: 70, right: 210, top: 64, bottom: 56 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** 1-2-5 ticks covering [lo, hi]. */
export function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const t = m * 10 ** e;
      if (t >= lo && t <= hi) ticks.push(t);
    }
  }
  return ticks;
}

/** The largest 1-2-5 step at or below x (x > 0). */
export function niceBelow(x: number): number {
  const e = 10 ** Math.floor(Math.log10(x));
  return [5, 2, 1].map((m) => m * e).find((t) => t <= x) ?? e;
}

/** The smallest 1-2-5 step at or above x (x > 0). */
export function niceAbove(x: number): number {
  const e = 10 ** Math.floor(Math.log10(x));
  return [1, 2, 5, 10].map((m) => m * e).find((t) => t >= x) ?? 10 * e;
}

function finite(v: number | undefined): v is number {
  return v !== undefined && Number.isFinite(v) && v > 0;
}

export function renderLatencyChart(input: ChartInput): string {
  const values = input.series.flatMap((s) => [...s.p50, ...s.p99]).filter(finite);
  const lo = values.length ? niceBelow(Math.min(...values)) : 1;
  const hi = values.length ? niceAbove(Math.max(...values)) : 10;
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const x = (i: number) => M.left + (input.xs.length === 1 ? plotW / 2 : (i * plotW) / (input.xs.length - 1));
  const y = (v: number) =>
    M.top + plotH - ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotH;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${M.left}" y="24" font-size="16" font-weight="bold">${esc(input.title)}</text>`,
    `<text x="${M.left}" y="44" fill="#555">${esc(input.subtitle)}</text>`,
  );
  for (const t of logTicks(lo, hi)) {
    const ty = y(t).toFixed(1);
    out.push(
      `<line x1="${M.left}" x2="${M.left + plotW}" y1="${ty}" y2="${ty}" stroke="#e5e5e5"/>`,
      `<text x="${M.left - 8}" y="${ty}" text-anchor="end" dominant-baseline="middle">${t}</text>`,
    );
  }
  input.xs.forEach((rate, i) => {
    const tx = x(i).toFixed(1);
    out.push(
      `<line x1="${tx}" x2="${tx}" y1="${M.top}" y2="${M.top + plotH}" stroke="#f0f0f0"/>`,
      `<text x="${tx}" y="${M.top + plotH + 18}" text-anchor="middle">${rate}</text>`,
    );
  });
  out.push(
    `<rect x="${M.left}" y="${M.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`,
    `<text x="${M.left + plotW / 2}" y="${H - 12}" text-anchor="middle">request rate (requests/s, open loop)</text>`,
    `<text transform="translate(18 ${M.top + plotH / 2}) rotate(-90)" text-anchor="middle">latency (ms, log scale)</text>`,
  );

  input.series.forEach((s, si) => {
    const color = COLORS[si % COLORS.length]!;
    for (const [key, dash] of [
      ['p50', ''],
      ['p99', ' stroke-dasharray="6 4"'],
    ] as const) {
      const pts = s[key]
        .map((v, i) => (finite(v) ? `${x(i).toFixed(1)},${y(v).toFixed(1)}` : undefined))
        .filter((p): p is string => p !== undefined);
      if (pts.length === 0) continue;
      if (pts.length > 1) {
        out.push(
          `<polyline data-series="${esc(s.label)}" data-stat="${key}" points="${pts.join(' ')}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`,
        );
      }
      for (const p of pts) {
        const [cx, cy] = p.split(',');
        out.push(
          `<circle cx="${cx}" cy="${cy}" r="3" fill="${key === 'p50' ? color : '#fff'}" stroke="${color}"/>`,
        );
      }
    }
    const ly = M.top + 10 + si * 22;
    const lx = M.left + plotW + 16;
    out.push(
      `<line x1="${lx}" x2="${lx + 24}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/>`,
      `<text x="${lx + 30}" y="${ly}" dominant-baseline="middle">${esc(s.label)}</text>`,
    );
  });
  const ky = M.top + 10 + input.series.length * 22 + 14;
  const kx = M.left + plotW + 16;
  out.push(
    `<line x1="${kx}" x2="${kx + 24}" y1="${ky}" y2="${ky}" stroke="#333" stroke-width="2"/>`,
    `<text x="${kx + 30}" y="${ky}" dominant-baseline="middle">p50</text>`,
    `<line x1="${kx}" x2="${kx + 24}" y1="${ky + 18}" y2="${ky + 18}" stroke="#333" stroke-width="2" stroke-dasharray="6 4"/>`,
    `<text x="${kx + 30}" y="${ky + 18}" dominant-baseline="middle">p99</text>`,
    '</svg>',
  );
  return `${out.join('\n')}\n`;
}
