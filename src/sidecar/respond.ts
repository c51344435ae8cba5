/** Writing JSON answers and OpenAI-shaped errors, with the x-tiermesh-* headers that say who answered. */
import type { ServerResponse } from 'node:http';
import { type TiermeshError, toTiermeshError } from '../errors.js';

/** What the client learns about how its request was served; present on every answer given after routing. */
export interface ServedBy {
  model: string;
  provider: string;
  tier: string;
  attempts: number;
  costUSD: number;
}

/** USD with enough digits for sub-cent requests, without float noise ("0.000123", not "0.00012300000000000001"). */
export function formatUSD(usd: number): string {
  const n = Number(usd.toPrecision(6));
  // The common range, without toFixed and a regex on every answer: six significant digits from 1e-4 up need at most
  // nine decimals, and below 1000 a double is close enough to its digits that String(n) spells them the same way.
  if (n >= 1e-4 && n < 1000) return String(n);
  return n.toFixed(10).replace(/\.?0+$/, '') || '0';
}

export function servedByHeaders(s: ServedBy | undefined): Record<string, string> {
  if (!s) return {};
  return {
    'x-tiermesh-model': s.model,
    'x-tiermesh-provider': s.provider,
    'x-tiermesh-tier': s.tier,
    'x-tiermesh-attempts': String(s.attempts),
    'x-tiermesh-cost-usd': formatUSD(s.costUSD),
  };
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

export function sendError(
  res: ServerResponse,
  err: unknown,
  headers: Record<string, string> = {},
): TiermeshError {
  const e = toTiermeshError(err);
  const extra: Record<string, string> = { ...headers };
  if (e.retryAfter !== undefined) extra['retry-after'] = String(Math.max(1, Math.ceil(e.retryAfter)));
  if (res.headersSent) {
    res.end();
    return e;
  }
  sendJson(res, e.status, e.toBody(), extra);
  return e;
}
