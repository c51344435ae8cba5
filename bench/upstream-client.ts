/** Picks the upstream HTTP client by measurement: our adapter (undici request + shared pool) vs fetch vs node:http. */
import http from 'node:http';
import { request } from 'undici';
import type { Provider } from '../src/api/modelroute.js';
import type { ChatCompletionRequest } from '../src/api/openai.js';
import { upstreamAgent } from '../src/providers/http.js';
import { createOpenAIAdapter } from '../src/providers/openai.js';
import { startOpenAIFixture } from '../test/fixtures/providers/index.js';

const up = await startOpenAIFixture();
up.fallback({ reply: 'a short answer of a few words', usage: { prompt: 30, completion: 7 } });
const url = `${up.baseURL}/chat/completions`;
const body: ChatCompletionRequest = {
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'hello there '.repeat(20) }],
};
const payload = JSON.stringify(body);

const provider: Provider = { name: 'bench', type: 'openai-compatible', baseURL: up.baseURL };
const adapter = createOpenAIAdapter(provider, () => ({ ok: false, why: 'no key needed' }));
const signal = new AbortController().signal;

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 256 });
function viaNodeHttp(): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: 'POST', agent: keepAlive, headers: { 'content-type': 'application/json' } },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(parts).toString('utf8'))));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const clients: Record<string, () => Promise<unknown>> = {
  'undici raw': async () => {
    const r = await request(url, {
      method: 'POST',
      dispatcher: upstreamAgent,
      headers: { 'content-type': 'application/json' },
      body: payload,
    });
    return r.body.json();
  },
  'undici adapter': () => adapter.complete({ body, signal, firstByteTimeoutMs: 10_000 }),
  fetch: async () => {
    const r = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: payload,
    });
    return r.json();
  },
  'node:http keepAlive': viaNodeHttp,
};

async function measure(call: () => Promise<unknown>, n: number, concurrency = 16): Promise<number> {
  for (let i = 0; i < 200; i++) await call(); // warm-up: connections open, JIT warm
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < n) await call();
    }),
  );
  return n / ((performance.now() - start) / 1000);
}

const n = Number(process.argv[2] ?? 3000);
const rounds: Record<string, number[]> = Object.fromEntries(Object.keys(clients).map((k) => [k, []]));
for (let round = 0; round < 3; round++) {
  for (const [name, call] of Object.entries(clients)) rounds[name]!.push(await measure(call, n));
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rps = Object.fromEntries(Object.entries(rounds).map(([k, v]) => [k, Math.round(med(v))]));
console.log(JSON.stringify({ requestsPerSecond: rps }, null, 2));
const base = rps['undici adapter']!;
for (const [k, v] of Object.entries(rps))
  if (k !== 'undici adapter') console.log(`undici adapter / ${k} throughput ratio: ${(base / v).toFixed(2)}`);
keepAlive.destroy();
await up.close();
process.exit(0);
