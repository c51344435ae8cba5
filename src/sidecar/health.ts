/**
 * The sidecar's liveness and readiness answers, said once: the loopback API serves them, and so does the
 * probe-only listener on the pod IP that the kubelet's httpGet probes dial (the API itself stays on loopback).
 */
import http, { type ServerResponse } from 'node:http';
import { TiermeshError } from '../errors.js';
import { listen } from '../http/listen.js';
import { sendError, sendJson } from '../http/reply.js';
import type { Logger } from '../telemetry/logger.js';
import type { ConfigStore, Versioned } from './config-store.js';

export const HEALTH_PATHS = ['/healthz', '/readyz'] as const;
export type HealthPath = (typeof HEALTH_PATHS)[number];

export function isHealthPath(path: string): path is HealthPath {
  return path === '/healthz' || path === '/readyz';
}

/** Live once the process answers at all; ready once a config is loaded (before that there is nothing to route by). */
export function healthAnswer(
  path: HealthPath,
  current: { snapshot: { version: string } } | undefined,
): { status: number; body: Record<string, string> } {
  if (path === '/healthz') return { status: 200, body: { status: 'ok' } };
  return current
    ? { status: 200, body: { status: 'ready', configVersion: current.snapshot.version } }
    : { status: 503, body: { status: 'not ready', reason: 'no config loaded' } };
}

export function sendHealth<R extends Versioned>(
  res: ServerResponse,
  path: HealthPath,
  store: ConfigStore<R>,
): void {
  const { status, body } = healthAnswer(path, store.current);
  sendJson(res, status, body);
}

/**
 * GET/HEAD /healthz and /readyz and nothing else, for kubelet httpGet probes on the pod IP: everything else is a
 * 404, so neither the chat API (which spends this pod's budget with its keys) nor /metrics is reachable here.
 */
export async function serveHealthOnly<R extends Versioned>(
  store: ConfigStore<R>,
  at: { host: string; port: number },
  logger: Logger,
): Promise<{ url: string; server: http.Server }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !isHealthPath(path)) {
      sendError(res, new TiermeshError('TM_NOT_FOUND', 'only GET /healthz and /readyz are served here'));
      return;
    }
    sendHealth(res, path, store);
  });
  // A probe is one small GET; a client that holds a socket open gets nothing from it.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.keepAliveTimeout = 5_000;
  const url = await listen(server, at.host, at.port);
  logger.info({ url }, `tiermesh sidecar health probes on ${url}/healthz and ${url}/readyz`);
  return { url, server };
}
