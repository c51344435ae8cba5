// The app a user deploys into a namespace labelled for injection: it knows nothing of tiermesh but the
// OPENAI_BASE_URL the injector gives it, and calls its sidecar with the official openai SDK. It calls on a loop
// (alternating JSON and streaming) and keeps count, and serves on its pod IP, for the test on the host:
//   GET /stats                         every call so far: ok, failed, the last errors
//   GET /once?stream=1&task=chat       one call now; the answer, its x-tiermesh-* headers
//   GET /load?n=400&concurrency=16     a burst of calls; how many failed
import http from 'node:http';
import OpenAI from 'openai';

const client = new OpenAI({
  apiKey: 'the-sidecar-holds-the-real-keys',
  baseURL: process.env.OPENAI_BASE_URL,
  maxRetries: 0,
  timeout: 30_000,
});
const LOOP_MS = Number(process.env.LOOP_MS ?? 250);
const stats = { ok: 0, failed: 0, streamed: 0, firstOkAt: 0, startedAt: Date.now(), errors: [] };

function tiermeshHeaders(headers) {
  const out = {};
  for (const [k, v] of headers) if (k.startsWith('x-tiermesh-')) out[k] = v;
  return out;
}

async function once({ stream = false, task, prompt = 'Is this review positive? I love it.' } = {}) {
  const body = { model: 'auto', messages: [{ role: 'user', content: prompt }] };
  const options = task ? { headers: { 'x-tiermesh-task': task } } : {};
  if (!stream) {
    const { data, response } = await client.chat.completions.create(body, options).withResponse();
    return {
      stream: false,
      content: data.choices[0]?.message?.content ?? '',
      model: data.model,
      usage: data.usage,
      headers: tiermeshHeaders(response.headers),
    };
  }
  const { data, response } = await client.chat.completions
    .create({ ...body, stream: true, stream_options: { include_usage: true } }, options)
    .withResponse();
  let content = '';
  let chunks = 0;
  let usage;
  for await (const chunk of data) {
    chunks++;
    content += chunk.choices[0]?.delta?.content ?? '';
    if (chunk.usage) usage = chunk.usage;
  }
  return { stream: true, content, chunks, usage, headers: tiermeshHeaders(response.headers) };
}

async function counted(args) {
  try {
    const r = await once(args);
    if (!r.content) throw new Error(`empty answer from ${JSON.stringify(r.headers)}`);
    stats.ok++;
    if (r.stream) stats.streamed++;
    stats.firstOkAt ||= Date.now();
    return r;
  } catch (err) {
    stats.failed++;
    stats.errors = [
      ...stats.errors.slice(-9),
      `${new Date().toISOString()} ${err?.status ?? ''} ${err?.message}`,
    ];
    throw err;
  }
}

async function loop() {
  for (let i = 0; ; i++) {
    await counted({ stream: i % 2 === 1 }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, LOOP_MS));
  }
}

async function load(n, concurrency) {
  let next = 0;
  let failed = 0;
  const started = Date.now();
  const worker = async () => {
    while (next < n) {
      const i = next++;
      await counted({ stream: i % 2 === 1 }).catch(() => failed++);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { n, concurrency, failed, ms: Date.now() - started };
}

http
  .createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://app');
    const reply = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    try {
      if (url.pathname === '/stats') return reply(200, stats);
      if (url.pathname === '/once')
        return reply(
          200,
          await counted({
            stream: url.searchParams.get('stream') === '1',
            task: url.searchParams.get('task') ?? undefined,
          }),
        );
      if (url.pathname === '/load')
        return reply(
          200,
          await load(
            Number(url.searchParams.get('n') ?? 200),
            Number(url.searchParams.get('concurrency') ?? 8),
          ),
        );
      reply(404, { error: 'not found' });
    } catch (err) {
      reply(502, { error: err?.message ?? String(err), status: err?.status });
    }
  })
  .listen(8080, '0.0.0.0', () => {
    console.log(`app: calling ${process.env.OPENAI_BASE_URL} every ${LOOP_MS} ms; stats on :8080`);
    loop();
  });
