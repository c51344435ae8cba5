/** A fixed-latency OpenAI-format upstream for benchmarks: same answer every time, JSON or SSE, on 127.0.0.1. */
// Self-contained (node: imports only, erasable types) so it runs as `node bench/lib/fixture-upstream.ts` in its own
// process, without a TypeScript loader inflating its memory or sharing an event loop with the load generator.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FixtureOptions {
  /** Time from the end of the request to the first response byte. */
  latencyMs: number;
  /** Gap between SSE content chunks. */
  chunkIntervalMs: number;
  /** Content chunks in a streamed answer. */
  chunks: number;
}

export const FIXTURE_REPLY_WORDS = ['Hello', ' from', ' the', ' fixture', ' upstream', ',', ' friend', '.'];

function reply(chunks: number): string[] {
  return Array.from({ length: chunks }, (_, i) => FIXTURE_REPLY_WORDS[i % FIXTURE_REPLY_WORDS.length]!);
}

/** The non-streaming answer, exactly as OpenAI shapes a chat.completion. */
export function completionBody(model: string, chunks: number, created: number, id: string): string {
  const content = reply(chunks).join('');
  return JSON.stringify({
    id,
    object: 'chat.completion',
    created,
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content, refusal: null },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: { prompt_tokens: 12, completion_tokens: chunks, total_tokens: 12 + chunks },
    system_fingerprint: 'fp_bench',
  });
}

/** The streamed answer as OpenAI's SSE events: a role delta, content deltas, a stop delta, usage if asked, [DONE]. */
export function streamEvents(
  model: string,
  chunks: number,
  created: number,
  id: string,
  includeUsage: boolean,
): string[] {
  const chunk = (delta: object, finish: string | null) =>
    `data: ${JSON.stringify({
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      system_fingerprint: 'fp_bench',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(includeUsage ? { usage: null } : {}),
    })}\n\n`;
  const events = [chunk({ role: 'assistant', content: '', refusal: null }, null)];
  for (const word of reply(chunks)) events.push(chunk({ content: word }, null));
  events.push(chunk({}, 'stop'));
  if (includeUsage) {
    events.push(
      `data: ${JSON.stringify({
        id,
        object: 'chat.completion.chunk',
        created,
        model,
        system_fingerprint: 'fp_bench',
        choices: [],
        usage: { prompt_tokens: 12, completion_tokens: chunks, total_tokens: 12 + chunks },
      })}\n\n`,
    );
  }
  events.push('data: [DONE]\n\n');
  return events;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (b: Buffer) => parts.push(b));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

let sequence = 0;

async function handle(req: IncomingMessage, res: ServerResponse, opts: FixtureOptions): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'GET' && (path === '/health' || path === '/')) return sendJson(res, 200, '{"ok":true}');
  if (req.method === 'GET' && path?.endsWith('/models')) {
    return sendJson(
      res,
      200,
      JSON.stringify({ object: 'list', data: [{ id: 'bench-model', object: 'model' }] }),
    );
  }
  if (req.method !== 'POST' || !path?.endsWith('/chat/completions')) {
    return sendJson(
      res,
      404,
      JSON.stringify({ error: { message: 'not found', type: 'invalid_request_error' } }),
    );
  }
  let request: { model?: unknown; stream?: unknown; stream_options?: { include_usage?: unknown } };
  try {
    request = JSON.parse(await readBody(req));
  } catch {
    return sendJson(
      res,
      400,
      JSON.stringify({ error: { message: 'invalid JSON', type: 'invalid_request_error' } }),
    );
  }
  const model = typeof request.model === 'string' ? request.model : 'bench-model';
  const created = Math.floor(Date.now() / 1000);
  const id = `chatcmpl-bench${++sequence}`;
  await sleep(opts.latencyMs);
  if (request.stream !== true) return sendJson(res, 200, completionBody(model, opts.chunks, created, id));

  const events = streamEvents(
    model,
    opts.chunks,
    created,
    id,
    request.stream_options?.include_usage === true,
  );
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  // The role delta and first word go out together, as a real provider's first packet does.
  res.write(events[0]! + events[1]!);
  for (let i = 2; i < events.length; i++) {
    if (i <= opts.chunks && opts.chunkIntervalMs > 0) await sleep(opts.chunkIntervalMs);
    if (res.destroyed) return;
    res.write(events[i]!);
  }
  res.end();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Starts the fixture on 127.0.0.1 and resolves with its port. */
export function startFixture(
  opts: FixtureOptions,
  port = 0,
): Promise<{ port: number; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    handle(req, res, opts).catch(() => res.destroy());
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a non-negative number`);
  return value;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { port } = await startFixture(
    {
      latencyMs: flag('latency-ms', 20),
      chunkIntervalMs: flag('chunk-interval-ms', 2),
      chunks: flag('chunks', 8),
    },
    flag('port', 0),
  );
  // The parent reads this line to learn the port.
  process.stdout.write(`${JSON.stringify({ listening: port })}\n`);
}
