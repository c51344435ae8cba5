/** The savings report as a hand-written SVG bar chart: requests per tier, and routed vs baseline cost. */
import type { SavingsReport } from './savings.js';

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const PALETTE = ['#4caf50', '#2196f3', '#9c27b0', '#ff9800', '#795548', '#607d8b', '#e91e63', '#009688'];

export function savingsSvg(r: SavingsReport, title = 'tiermesh routing report'): string {
  const W = 760;
  const H = 380;
  const top = 70;
  const bottom = 320;
  const plotH = bottom - top;
  const parts: string[] = [];
  const text = (x: number, y: number, s: string, extra = '') =>
    parts.push(`<text x="${x}" y="${y}" ${extra}>${esc(s)}</text>`);

  text(20, 30, title, 'font-size="18" font-weight="bold"');
  text(
    20,
    52,
    `${r.requests} requests · routed $${r.routedUsd.toFixed(4)} vs baseline $${r.baselineUsd.toFixed(4)} · savings ${(r.savings * 100).toFixed(1)}%`,
    'font-size="13" fill="#444"',
  );

  // Left panel: requests per tier.
  const maxReq = Math.max(1, ...r.tiers.map((t) => t.requests));
  const left = 40;
  const panelW = 400;
  const slot = panelW / Math.max(1, r.tiers.length);
  const barW = Math.min(70, slot * 0.6);
  parts.push(`<line x1="${left}" y1="${bottom}" x2="${left + panelW}" y2="${bottom}" stroke="#999"/>`);
  r.tiers.forEach((t, i) => {
    const h = (t.requests / maxReq) * (plotH - 20);
    const x = left + i * slot + (slot - barW) / 2;
    parts.push(
      `<rect x="${x.toFixed(1)}" y="${(bottom - h).toFixed(1)}" width="${barW.toFixed(1)}" height="${h.toFixed(1)}" fill="${PALETTE[i % PALETTE.length]}"><title>${esc(`${t.tier}: ${t.requests} requests`)}</title></rect>`,
    );
    text(
      x + barW / 2,
      bottom - h - 6,
      `${t.requests} (${(t.share * 100).toFixed(0)}%)`,
      'font-size="12" text-anchor="middle"',
    );
    text(x + barW / 2, bottom + 18, t.tier, 'font-size="12" text-anchor="middle"');
  });
  text(
    left + panelW / 2,
    bottom + 44,
    'requests per tier',
    'font-size="13" text-anchor="middle" fill="#444"',
  );

  // Right panel: cost, routed (stacked by tier) vs baseline.
  const right = 500;
  const maxUsd = Math.max(r.baselineUsd, r.routedUsd, 1e-12);
  const cw = 80;
  parts.push(`<line x1="${right - 10}" y1="${bottom}" x2="${right + 230}" y2="${bottom}" stroke="#999"/>`);
  let y = bottom;
  r.tiers.forEach((t, i) => {
    const h = (t.routedUsd / maxUsd) * (plotH - 20);
    if (h <= 0) return;
    y -= h;
    parts.push(
      `<rect x="${right}" y="${y.toFixed(1)}" width="${cw}" height="${h.toFixed(1)}" fill="${PALETTE[i % PALETTE.length]}"><title>${esc(`${t.tier}: $${t.routedUsd.toFixed(4)}`)}</title></rect>`,
    );
  });
  text(right + cw / 2, y - 6, `$${r.routedUsd.toFixed(4)}`, 'font-size="12" text-anchor="middle"');
  text(right + cw / 2, bottom + 18, 'routed', 'font-size="12" text-anchor="middle"');
  const bh = (r.baselineUsd / maxUsd) * (plotH - 20);
  parts.push(
    `<rect x="${right + 120}" y="${(bottom - bh).toFixed(1)}" width="${cw}" height="${bh.toFixed(1)}" fill="#bbb"/>`,
  );
  text(
    right + 120 + cw / 2,
    bottom - bh - 6,
    `$${r.baselineUsd.toFixed(4)}`,
    'font-size="12" text-anchor="middle"',
  );
  text(right + 120 + cw / 2, bottom + 18, 'baseline', 'font-size="12" text-anchor="middle"');
  text(right + 110, bottom + 44, 'estimated cost (USD)', 'font-size="13" text-anchor="middle" fill="#444"');

  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">\n` +
    `<rect width="${W}" height="${H}" fill="#fff"/>\n${parts.join('\n')}\n</svg>\n`
  );
}
