/** Load generators over undici: open-loop at a fixed arrival rate (latency from the intended send time), and
 * closed-loop at fixed concurrency (throughput). Every run is bounded in request count and in time. */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { type LatencySummary, summarize } from './stats.js';

/** Where and what to send: one OpenAI chat request, replayed. */
export interface Target {
  origin: string;
  path: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

export interface RunResult {
  mode: 'open' | 'closed';
  stream: boolean;
  /** Arrival rate asked for (open loop) or NaN (closed loop). */
  rate: number;
  concurrency: number;
  sent: number;
  ok: number;
  errors: number;
  /** Up to a few distinct failure reasons with their counts, for the report. */
  errorKinds: Record<string, number>;
  /** Time to the end of the answer (open loop: from the moment the request was due, so queueing counts). */
  latency: LatencySummary;
  /** Time to the first response body byte (the first token, when streaming). */
  ttfb: LatencySummary;
  elapsedMs: number;
  /** Successful answers per second over the run. */
  throughput: number;
  /** CPU time (ms) the system under test used during the run, when it is a process of its own: unlike latency,
   * this barely moves when other work on the machine competes for the CPU. */
  proxyCpuMs?: number;
}

interface Outcome {
  ok: boolean;
  error?: string;
  firstByteAt: number;
  endAt: number;
}

/** How many of `total` requests are due `elapsedMs` after the start at `rate` per second (the first at t=0). */
export function dueCount(elapsedMs: number, rate: number, total: number): number {
  if (elapsedMs < 0) return 0;
  return Math.min(total, Math.floor((elapsedMs * rate) / 1000) + 1);
}

/** Why an answer is not a correct chat completion, or undefined when it is. */
export function checkAnswer(
  status: number,
  contentType: string,
  text: string,
  stream: boolean,
): string | undefined {
  if (status !== 200) return `HTTP ${status}`;
  if (stream) {
    if (!contentType.includes('text/event-stream')) return `content-type ${contentType || 'missing'}`;
    if (!text.includes('chat.completion.chunk')) return 'no chat.completion.chunk event';
    if (!/^data: \[DONE\]\s*$/m.test(text)) return 'stream not terminated by [DONE]';
    return undefined;
  }
  try {
    const body = JSON.parse(text) as {
      object?: unknown;
      choices?: Array<{ message?: { content?: unknown } }>;
    };
    if (body.object !== 'chat.completion') return 'not a chat.completion';
    const content = body.choices?.[0]?.message?.content;
    if (typeof content !== 'string' || content.length === 0) return 'empty answer';
    return undefined;
  } catch {
    return 'body is not JSON';
  }
}

/** Aborts whatever is still in flight `ms` from now: requests queued in the client have no timeout of their own. */
function deadline(ms: number): { signal: AbortSignal; clear: () => void } {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  return { signal: ac.signal, clear: () => clearTimeout(timer) };
}

function makePool(origin: string, connections: number, timeoutMs: number): Pool {
  return new Pool(origin, {
    connections,
    pipelining: 1,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    keepAliveTimeout: 30_000,
  });
}

async function fire(
  pool: Pool,
  target: Target,
  payload: string,
  stream: boolean,
  signal: AbortSignal,
): Promise<Outcome> {
  let firstByteAt = Number.NaN;
  try {
    const res = await pool.request({
      method: 'POST',
      path: target.path,
      headers: { 'content-type': 'application/json', ...target.headers },
      body: payload,
      signal,
    });
    const parts: Buffer[] = [];
    for await (const chunk of res.body) {
      if (Number.isNaN(firstByteAt)) firstByteAt = performance.now();
      parts.push(chunk as Buffer);
    }
    const endAt = performance.now();
    if (Number.isNaN(firstByteAt)) firstByteAt = endAt;
    const contentType = String(res.headers['content-type'] ?? '');
    const error = checkAnswer(res.statusCode, contentType, Buffer.concat(parts).toString('utf8'), stream);
    return error ? { ok: false, error, firstByteAt, endAt } : { ok: true, firstByteAt, endAt };
  } catch (err) {
    const endAt = performance.now();
    const code = signal.aborted ? 'still waiting at the run deadline' : (err as { code?: string }).code;
    return { ok: false, error: code ?? (err as Error).message, firstByteAt: endAt, endAt };
  }
}

class Tally {
  readonly latencies: number[] = [];
  readonly ttfbs: number[] = [];
  readonly errorKinds: Record<string, number> = {};
  sent = 0;
  ok = 0;
  errors = 0;

  record(startedAt: number, o: Outcome): void {
    if (o.ok) {
      this.ok++;
      this.latencies.push(o.endAt - startedAt);
      this.ttfbs.push(o.firstByteAt - startedAt);
      return;
    }
    this.errors++;
    const kind = (o.error ?? 'unknown').slice(0, 120);
    if (kind in this.errorKinds || Object.keys(this.errorKinds).length < 5) {
      this.errorKinds[kind] = (this.errorKinds[kind] ?? 0) + 1;
    }
  }
}

function result(
  t: Tally,
  mode: 'open' | 'closed',
  stream: boolean,
  rate: number,
  concurrency: number,
  elapsedMs: number,
): RunResult {
  return {
    mode,
    stream,
    rate,
    concurrency,
    sent: t.sent,
    ok: t.ok,
    errors: t.errors,
    errorKinds: t.errorKinds,
    latency: summarize(t.latencies),
    ttfb: summarize(t.ttfbs),
    elapsedMs,
    throughput: (t.ok * 1000) / elapsedMs,
  };
}

export interface OpenLoopOptions {
  rate: number;
  durationMs: number;
  stream: boolean;
  /** Per-request bound on waiting for headers and for each body chunk. */
  timeoutMs?: number;
  /** Connections the client may open; requests beyond them queue in the client, and that wait counts. */
  connections?: number;
}

/** Sends rate*duration requests on a fixed schedule, whatever the answers do (no coordinated omission). */
export async function openLoop(target: Target, opts: OpenLoopOptions): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const total = Math.max(1, Math.round((opts.rate * opts.durationMs) / 1000));
  const pool = makePool(target.origin, opts.connections ?? 256, timeoutMs);
  const payload = JSON.stringify({ ...target.body, stream: opts.stream });
  const tally = new Tally();
  const inflight: Promise<void>[] = [];
  const stop = deadline(opts.durationMs + timeoutMs);
  const start = performance.now();
  try {
    await new Promise<void>((done) => {
      const tick = () => {
        const due = dueCount(performance.now() - start, opts.rate, total);
        while (tally.sent < due) {
          const intended = start + (tally.sent * 1000) / opts.rate;
          tally.sent++;
          inflight.push(
            fire(pool, target, payload, opts.stream, stop.signal).then((o) => tally.record(intended, o)),
          );
        }
        if (tally.sent >= total) return done();
        const nextAt = start + (tally.sent * 1000) / opts.rate;
        setTimeout(tick, Math.max(0, nextAt - performance.now()));
      };
      tick();
    });
    // Each request is bounded by the pool's timeouts, so this wait is bounded too.
    await Promise.all(inflight);
    return result(tally, 'open', opts.stream, opts.rate, opts.connections ?? 256, performance.now() - start);
  } finally {
    stop.clear();
    await pool.destroy();
  }
}

export interface ClosedLoopOptions {
  concurrency: number;
  durationMs: number;
  /** Hard cap on requests, whatever the duration. */
  maxRequests: number;
  stream: boolean;
  timeoutMs?: number;
}

/** `concurrency` clients each send their next request as soon as the previous answer ends, until time or count runs out. */
export async function closedLoop(target: Target, opts: ClosedLoopOptions): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const pool = makePool(target.origin, opts.concurrency, timeoutMs);
  const payload = JSON.stringify({ ...target.body, stream: opts.stream });
  const tally = new Tally();
  const stop = deadline(opts.durationMs + timeoutMs);
  const start = performance.now();
  const end = start + opts.durationMs;
  const worker = async () => {
    while (performance.now() < end && tally.sent < opts.maxRequests) {
      tally.sent++;
      const sentAt = performance.now();
      tally.record(sentAt, await fire(pool, target, payload, opts.stream, stop.signal));
    }
  };
  try {
    await Promise.all(Array.from({ length: opts.concurrency }, worker));
    return result(tally, 'closed', opts.stream, Number.NaN, opts.concurrency, performance.now() - start);
  } finally {
    stop.clear();
    await pool.destroy();
  }
}
