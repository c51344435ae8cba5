/**
 * What budgets book, over real sockets: an OpenAI-compatible upstream whose usage object leaves a count out (the
 * spend is still a number, so the budget is exceeded on time; a NaN total never would be), and user ids bounded at
 * the door (an unbounded one is kept per window and sent to the operator).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routeConfig, SIMPLE_PROMPT } from '../helpers/config.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

let up: Server;
let baseURL: string;
const sidecars: TestSidecar[] = [];

beforeAll(async () => {
  // A server that counts the prompt and the total only (no completion_tokens), as some compatible servers do.
  up = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          id: 'chatcmpl-1',
          object: 'chat.completion',
          created: 1,
          model: 'small-model',
          choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 1000, total_tokens: 2000 },
        }),
      );
    });
  });
  await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
  baseURL = `http://127.0.0.1:${(up.address() as AddressInfo).port}/v1`;
});
afterAll(async () => {
  await Promise.all(sidecars.map((s) => s.close()));
  await new Promise((r) => up?.close(r));
});

describe('usage without completion_tokens', () => {
  it('books prompt + (total - prompt) tokens and rejects once the budget is spent', async () => {
    const s = await startTestSidecar(
      routeConfig({
        upstreams: [{ name: 'up', baseURL }],
        cheap: [{ name: 'small-model', upstreams: ['up'], inputPerMTok: 1, outputPerMTok: 1 }],
        premium: [{ name: 'big-model', upstreams: ['up'], inputPerMTok: 10, outputPerMTok: 10 }],
        budgets: [
          {
            name: 'tight',
            window: { period: 'daily', timezone: 'UTC' },
            limit: { usd: 0.004 },
            action: 'reject',
          },
        ],
      }),
    );
    sidecars.push(s);
    const client = new OpenAI({ baseURL: s.baseURL, apiKey: 'x', maxRetries: 0 });
    const ask = () =>
      client.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: SIMPLE_PROMPT }] });
    // $0.002 per answer: 1000 prompt + 1000 completion tokens at $1/M.
    const first = await ask();
    expect(first.choices[0]?.message.content).toBe('hi');
    await ask();
    const err = await ask().catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as InstanceType<typeof OpenAI.RateLimitError>).code).toBe('TM_BUDGET_EXCEEDED');
  });
});

describe('user ids', () => {
  it('answers 400 naming user for a user field or x-tiermesh-user over 253 characters, and serves 253', async () => {
    const s = await startTestSidecar(
      routeConfig({
        upstreams: [{ name: 'up', baseURL }],
        cheap: [{ name: 'small-model', upstreams: ['up'] }],
        premium: [{ name: 'big-model', upstreams: ['up'] }],
      }),
    );
    sidecars.push(s);
    const client = new OpenAI({ baseURL: s.baseURL, apiKey: 'x', maxRetries: 0 });
    const messages = [{ role: 'user' as const, content: SIMPLE_PROMPT }];
    const ok = await client.chat.completions.create({ model: 'auto', messages, user: 'u'.repeat(253) });
    expect(ok.choices[0]?.message.content).toBe('hi');
    for (const err of [
      await client.chat.completions
        .create({ model: 'auto', messages, user: 'u'.repeat(3000) })
        .catch((e) => e),
      await client.chat.completions
        .create({ model: 'auto', messages }, { headers: { 'x-tiermesh-user': 'u'.repeat(254) } })
        .catch((e) => e),
    ]) {
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      const e = err as InstanceType<typeof OpenAI.BadRequestError>;
      expect(e.code).toBe('TM_INVALID_REQUEST');
      expect(e.param).toBe('user');
    }
  });
});
