/** Picks the sidecar's HTTP layer by measurement: express 5 vs bare node:http on a JSON POST, same process, same run. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Pool } from 'undici';

const body = JSON.stringify({
  model: 'auto',
  messages: [{ role: 'user', content: 'hello there '.repeat(20) }],
});
const answer = JSON.stringify({
  id: 'x',
  object: 'chat.completion',
  choices: [{ index: 0, message: { role: 'assistant', content: 'hi' } }],
});

function bare(): http.Server {
  return http.createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/v1/chat/completions') {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        JSON.parse(Buffer.concat(parts).toString('utf8'));
        res.writeHead(200, { 'content-type': 'application/json', 'x-tiermesh-model': 'm' }).end(answer);
      });
      return;
    }
    res.writeHead(404).end();
  });
}

function viaExpress(): http.Server {
  const app = express();
  app.post('/v1/chat/completions', express.json({ limit: '1mb' }), (_req, res) => {
    res.set('x-tiermesh-model', 'm').type('application/json').send(answer);
  });
  return http.createServer(app);
}

async function measure(server: http.Server, n: number): Promise<{ rps: number; p50: number; p99: number }> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 16 });
  const lat: number[] = [];
  const one = async () => {
    const t = performance.now();
    const r = await pool.request({
      method: 'POST',
      path: '/v1/chat/completions',
      body,
      headers: { 'content-type': 'application/json' },
    });
    await r.body.text();
    lat.push(performance.now() - t);
  };
  for (let i = 0; i < 200; i++) await one(); // warm-up
  lat.length = 0;
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next++ < n) await one();
    }),
  );
  const secs = (performance.now() - start) / 1000;
  await pool.close();
  await new Promise((r) => server.close(r));
  lat.sort((a, b) => a - b);
  return { rps: n / secs, p50: lat[Math.floor(lat.length * 0.5)]!, p99: lat[Math.floor(lat.length * 0.99)]! };
}

const n = Number(process.argv[2] ?? 5000);
const rounds: Record<string, Array<{ rps: number; p50: number; p99: number }>> = {
  'node:http': [],
  express: [],
};
for (let round = 0; round < 3; round++) {
  rounds['node:http']!.push(await measure(bare(), n));
  rounds['express']!.push(await measure(viaExpress(), n));
}
const med = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const summary = Object.fromEntries(
  Object.entries(rounds).map(([k, v]) => [
    k,
    { rps: med(v.map((x) => x.rps)), p50: med(v.map((x) => x.p50)), p99: med(v.map((x) => x.p99)) },
  ]),
);
console.log(JSON.stringify(summary, null, 2));
console.log(
  `express/node:http throughput ratio: ${(summary['express']!.rps / summary['node:http']!.rps).toFixed(2)}`,
);
