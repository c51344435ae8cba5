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
  return (
    Number(usd.toPrecision(6))
      .toFixed(10)
      .replace(/\.?0+$/, '') || '0'
  );
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
