/** The benchmark's own instruments over real loopback sockets: fixture upstream, bare proxy, load generator. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFixture } from '../../bench/lib/fixture-upstream.js';
import { closedLoop, openLoop, type Target } from '../../bench/lib/load.js';
import { treeCpuTicks, treeMemory } from '../../bench/lib/procstat.js';
import { bare } from '../../bench/peers/bare.js';
import type { Running } from '../../bench/peers/types.js';

const LATENCY_MS = 20;
let fixture: { port: number; close: () => Promise<void> };
let proxy: Running;
let workDir: string;

function target(r: Running, path = r.path): Target {
  return {
    origin: r.origin,
    path,
    headers: r.headers,
    body: { model: r.model, messages: [{ role: 'user', content: 'hi' }] },
  };
}

beforeAll(async () => {
  fixture = await startFixture({ latencyMs: LATENCY_MS, chunkIntervalMs: 1, chunks: 4 });
  workDir = mkdtempSync(join(tmpdir(), 'bench-loadgen-'));
  proxy = await bare.start({
    upstreamBaseURL: `http://127.0.0.1:${fixture.port}/v1`,
    workDir,
    root: process.cwd(),
  });
});

afterAll(async () => {
  await proxy?.stop();
  await fixture?.close();
  rmSync(workDir, { recursive: true, force: true });
});

describe('load generator through the bare proxy to the fixture', () => {
  it('open loop sends exactly rate x duration requests and counts every correct answer', async () => {
    const r = await openLoop(target(proxy), { rate: 40, durationMs: 1000, stream: false });
    expect(r.sent).toBe(40);
    expect(r.ok).toBe(40);
    expect(r.errors).toBe(0);
    // Measured from when each request was due, so never less than the upstream's own fixed latency.
    expect(r.latency.p50).toBeGreaterThanOrEqual(LATENCY_MS);
    expect(r.latency.count).toBe(40);
  });

  it('streams: first byte no earlier than the upstream latency, end no earlier than first byte', async () => {
    const r = await openLoop(target(proxy), { rate: 20, durationMs: 500, stream: true });
    expect(r.ok).toBe(10);
    expect(r.ttfb.p50).toBeGreaterThanOrEqual(LATENCY_MS);
    expect(r.latency.p50).toBeGreaterThanOrEqual(r.ttfb.p50);
  });

  it('closed loop stops at its request cap and reports throughput from answers', async () => {
    const r = await closedLoop(target(proxy), {
      concurrency: 4,
      durationMs: 5000,
      maxRequests: 24,
      stream: false,
    });
    expect(r.sent).toBe(24);
    expect(r.ok).toBe(24);
    expect(r.throughput).toBeCloseTo((24 * 1000) / r.elapsedMs, 6);
  });

  it('counts an error answer as a failure with its reason, never as a fast success', async () => {
    const r = await openLoop(target(proxy, '/v1/nope'), { rate: 20, durationMs: 500, stream: false });
    expect(r.ok).toBe(0);
    expect(r.errors).toBe(10);
    expect(r.errorKinds).toEqual({ 'HTTP 404': 10 });
    expect(r.latency.count).toBe(0);
  });

  it('reads the proxy process memory and CPU from /proc', () => {
    const pid = proxy.child!.pid;
    const mem = treeMemory(pid)!;
    expect(mem.processes).toBe(1);
    expect(mem.rssKiB).toBeGreaterThan(10_000);
    expect(treeCpuTicks(pid)).toBeGreaterThan(0);
  });
});
