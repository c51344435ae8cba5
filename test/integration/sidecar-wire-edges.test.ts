/**
 * Edges of the inbound wire, over real sockets: HTTP/1.0 stream clients, and a stream the respond stage cannot
 * start after the upstream opened. The upstream here is a bare node:http server writing exact SSE frames (the ones
 * OpenAI-compatible servers really send, not only the fixture's).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import Anthropic from '@anthropic-ai/sdk';
import { jsonSchema, streamText, tool } from 'ai';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { UsageRecord } from '../../src/budget/types.js';
import { compileManifests, parseManifests } from '../../src/config/manifests.js';
import { BreakerBoard } from '../../src/providers/breaker.js';
import { ConfigStore } from '../../src/sidecar/config-store.js';
import { openAIChatAdapter } from '../../src/sidecar/inbound.js';
import { chatPipeline } from '../../src/sidecar/pipeline.js';
import { runtimeBuilder, type SidecarRuntime } from '../../src/sidecar/runtime.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { SidecarMetrics } from '../../src/telemetry/metrics.js';
import { routeConfig } from '../helpers/config.js';
import { LogCapture, startTestSidecar, type TestSidecar, testKeyEnv } from '../helpers/sidecar.js';

/** What the upstream does with one call: write to `res` (the body is the parsed JSON request). */
type Upstream = (body: { stream?: boolean; messages?: unknown[] }, res: http.ServerResponse) => void;

const chunk = (delta: object | undefined, finish: string | null = null) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'small-model',
  choices: [{ index: 0, ...(delta ? { delta } : {}), finish_reason: finish }],
});
const usageChunk = (prompt: number, completion: number) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'small-model',
  choices: [],
  usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
});

function sse(res: http.ServerResponse, frames: unknown[], end = true): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  for (const f of frames) res.write(`data: ${JSON.stringify(f)}\n\n`);
  if (!end) return;
  res.write('data: [DONE]\n\n');
  res.end();
}

let handler: Upstream;
/** How each upstream response ended: `finished` sent whole, `aborted` when the sidecar hung up first. */
let ended: Array<Promise<'finished' | 'aborted'>> = [];
let upstream: http.Server;
let upstreamURL: string;

beforeAll(async () => {
  upstream = http.createServer(async (req, res) => {
    const parts: Buffer[] = [];
    for await (const c of req) parts.push(c as Buffer);
    ended.push(
      new Promise((resolve) =>
        res.once('close', () => resolve(res.writableFinished ? 'finished' : 'aborted')),
      ),
    );
    handler(JSON.parse(Buffer.concat(parts).toString('utf8')), res);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  upstreamURL = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
});
afterAll(async () => {
  upstream.closeAllConnections();
  await new Promise((r) => upstream.close(r));
});
beforeEach(() => {
  ended = [];
});

const config = () =>
  routeConfig({
    upstreams: [{ name: 'up', baseURL: upstreamURL }],
    cheap: [{ name: 'small-model', upstreams: ['up'] }],
    premium: [{ name: 'big-model', upstreams: ['up'] }],
    cascade: { enabled: false, checks: [], maxEscalations: 0 },
  });

/**
 * One request written by hand on a raw socket; resolves with every byte the server sent until it closed the
 * connection, or until the bytes match `until` (a kept-alive HTTP/1.1 answer).
 */
function rawRequest(url: string, head: string, body: string, until?: RegExp): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(port), '127.0.0.1');
    let out = '';
    s.on('data', (d) => {
      out += d.toString('utf8');
      if (until?.test(out)) s.destroy();
    });
    s.on('error', reject);
    s.on('close', () => resolve(out));
    s.write(
      `${head}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  });
}

let sidecar: TestSidecar;
beforeAll(async () => {
  sidecar = await startTestSidecar(config());
});
afterAll(async () => {
  await sidecar.close();
});

describe('HTTP/1.0 stream clients', () => {
  it('get the stream, ended by the connection, with the cost as a comment and no trailer; usage is booked', async () => {
    handler = (_body, res) =>
      sse(res, [
        chunk({ role: 'assistant', content: 'hello ' }),
        chunk({ content: 'world' }),
        chunk({}, 'stop'),
        usageChunk(3, 2),
      ]);
    const body = JSON.stringify({ model: 'auto', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    const out = await rawRequest(sidecar.url, 'POST /v1/chat/completions HTTP/1.0\r\nhost: 127.0.0.1', body);
    const [head, ...rest] = out.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    expect(head).not.toMatch(/^trailer:/im);
    expect(head).not.toMatch(/^transfer-encoding:/im);
    const text = rest.join('\r\n\r\n');
    expect(text).toContain('"content":"hello "');
    expect(text).toMatch(/: x-tiermesh-cost-usd [\d.]+\n\ndata: \[DONE\]\n\n$/);
    expect(await ended[0]).toBe('finished');
    expect(sidecar.logs.byMsg('request').at(-1)).toMatchObject({
      status: 200,
      inputTokens: 3,
      outputTokens: 2,
    });
  });

  it('on /v1/messages too', async () => {
    handler = (_body, res) =>
      sse(res, [chunk({ role: 'assistant', content: 'hello' }), chunk({}, 'stop'), usageChunk(4, 1)]);
    const body = JSON.stringify({
      model: 'auto',
      max_tokens: 20,
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const out = await rawRequest(sidecar.url, 'POST /v1/messages HTTP/1.0\r\nhost: 127.0.0.1', body);
    expect(out).toMatch(/^HTTP\/1\.1 200 /);
    expect(out).toContain('event: message_stop');
    expect(sidecar.logs.byMsg('request').at(-1)).toMatchObject({
      status: 200,
      inputTokens: 4,
      outputTokens: 1,
    });
  });

  it('an HTTP/1.1 client that sent connection: close gets the whole stream, then the close it asked for', async () => {
    handler = (_body, res) =>
      sse(res, [chunk({ role: 'assistant', content: 'hi' }), chunk({}, 'stop'), usageChunk(3, 1)]);
    const body = JSON.stringify({ model: 'auto', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    const out = await rawRequest(
      sidecar.url,
      'POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close',
      body,
    );
    expect(out).not.toMatch(/^connection: keep-alive/im);
    expect(out).toMatch(/data: \[DONE\]\n\n\r\n0\r\nx-tiermesh-cost-usd: [\d.]+\r\n\r\n$/);
  });

  it('HTTP/1.1 streams keep the trailer', async () => {
    handler = (_body, res) =>
      sse(res, [chunk({ role: 'assistant', content: 'hi' }), chunk({}, 'stop'), usageChunk(3, 1)]);
    const body = JSON.stringify({ model: 'auto', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    const out = await rawRequest(
      sidecar.url,
      'POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1',
      body,
      /\r\n0\r\n[\s\S]*\r\n\r\n$/,
    );
    expect(out).toMatch(/^trailer: x-tiermesh-cost-usd$/im);
    expect(out).toMatch(/\r\n0\r\nx-tiermesh-cost-usd: [\d.]+\r\n\r\n$/);
  });
});

describe('upstream stream chunks as OpenAI-compatible servers send them', () => {
  it('a finish chunk without a delta ends the stream cleanly on every API', async () => {
    handler = (_body, res) =>
      sse(res, [chunk({ role: 'assistant', content: 'hello' }), chunk(undefined, 'stop'), usageChunk(5, 1)]);
    const anthropic = new Anthropic({ baseURL: sidecar.url, apiKey: 'unused', maxRetries: 0 });
    const m = await anthropic.messages
      .stream({ model: 'auto', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] })
      .finalMessage();
    expect(m.content).toMatchObject([{ type: 'text', text: 'hello' }]);
    expect(m.stop_reason).toBe('end_turn');
    const openai = new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'unused', maxRetries: 0 });
    let text = '';
    let finish: string | null | undefined;
    for await (const c of await openai.chat.completions.create({
      model: 'auto',
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    })) {
      text += c.choices[0]?.delta?.content ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    expect({ text, finish }).toEqual({ text: 'hello', finish: 'stop' });
    const r = await openai.responses.stream({ model: 'auto', input: 'hi' }).finalResponse();
    expect(r.status).toBe('completed');
    expect(r.output_text).toBe('hello');
    expect(sidecar.logs.byMsg('fallback')).toEqual([]);
  });
});

describe('tool calls the upstream sent without an id', () => {
  // The upstream answers a tool call without an id on the first turn, and "18C" once the tool's result is back.
  const toolTurn: Upstream = (body, res) => {
    const last = body.messages?.at(-1) as { role?: string } | undefined;
    if (last?.role === 'tool') {
      if (body.stream)
        return sse(res, [chunk({ role: 'assistant', content: '18C' }), chunk({}, 'stop'), usageChunk(9, 1)]);
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(
        JSON.stringify({
          id: 'chatcmpl-2',
          object: 'chat.completion',
          created: 1,
          model: 'small-model',
          choices: [{ index: 0, message: { role: 'assistant', content: '18C' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 9, completion_tokens: 1, total_tokens: 10 },
        }),
      );
    }
    const call = { type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } };
    if (body.stream)
      return sse(res, [
        chunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, ...call }] }),
        chunk({}, 'tool_calls'),
        usageChunk(5, 5),
      ]);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: 'chatcmpl-1',
        object: 'chat.completion',
        created: 1,
        model: 'small-model',
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: null, tool_calls: [call] },
            finish_reason: 'tool_calls',
          },
        ],
        usage: { prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 },
      }),
    );
  };

  it('get an id the client can send its result back with, on /v1/messages and /v1/responses', async () => {
    handler = toolTurn;
    const anthropic = new Anthropic({ baseURL: sidecar.url, apiKey: 'unused', maxRetries: 0 });
    const tools = [{ name: 'get_weather', input_schema: { type: 'object' as const, properties: {} } }];
    const ask: Anthropic.MessageParam = { role: 'user', content: 'weather in Oslo?' };
    for (const stream of [false, true]) {
      const first = stream
        ? await anthropic.messages
            .stream({ model: 'auto', max_tokens: 50, tools, messages: [ask] })
            .finalMessage()
        : await anthropic.messages.create({ model: 'auto', max_tokens: 50, tools, messages: [ask] });
      const use = first.content.find((b) => b.type === 'tool_use');
      expect(use?.id).toMatch(/^toolu_[0-9a-f]+$/);
      const second = await anthropic.messages.create({
        model: 'auto',
        max_tokens: 50,
        tools,
        messages: [
          ask,
          { role: 'assistant', content: first.content },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: use!.id, content: '18C' }] },
        ],
      });
      expect(second.content).toMatchObject([{ type: 'text', text: '18C' }]);
    }
    const openai = new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'unused', maxRetries: 0 });
    const fnTools = [
      { type: 'function' as const, name: 'get_weather', parameters: { type: 'object' }, strict: false },
    ];
    for (const stream of [false, true]) {
      const first = stream
        ? await openai.responses.stream({ model: 'auto', input: 'weather?', tools: fnTools }).finalResponse()
        : await openai.responses.create({ model: 'auto', input: 'weather?', tools: fnTools });
      const call = first.output.find((o) => o.type === 'function_call') as
        | OpenAI.Responses.ResponseFunctionToolCall
        | undefined;
      expect(call?.call_id).toMatch(/^call_[0-9a-f]+$/);
      const second = await openai.responses.create({
        model: 'auto',
        tools: fnTools,
        input: [
          { role: 'user', content: 'weather?' },
          { type: 'function_call', call_id: call!.call_id, name: call!.name, arguments: call!.arguments },
          { type: 'function_call_output', call_id: call!.call_id, output: '18C' },
        ],
      });
      expect(second.output_text).toBe('18C');
    }
  });
});

describe('an answer without usage', () => {
  it('made of a tool call books its arguments as output tokens', async () => {
    const args = JSON.stringify({ path: 'notes.txt', text: 'lorem ipsum dolor sit amet '.repeat(20) });
    handler = (_body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'chatcmpl-1',
          object: 'chat.completion',
          created: 1,
          model: 'small-model',
          choices: [
            {
              index: 0,
              message: {
                role: 'assistant',
                content: null,
                tool_calls: [
                  { id: 'call_a', type: 'function', function: { name: 'write_file', arguments: args } },
                ],
              },
              finish_reason: 'tool_calls',
            },
          ],
        }),
      );
    };
    const openai = new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'unused', maxRetries: 0 });
    const c = await openai.chat.completions.create({
      model: 'auto',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(c.choices[0]?.message.tool_calls).toHaveLength(1);
    expect(Number(sidecar.logs.byMsg('request').at(-1)?.['outputTokens'])).toBeGreaterThan(50);
  });
});

describe('a streamed refusal', () => {
  it('reaches Messages clients as the text and Responses clients as a refusal part', async () => {
    const refusal = "I'm sorry, I can't help with that.";
    handler = (_body, res) =>
      sse(res, [
        chunk({ role: 'assistant', content: null, refusal: '' }),
        chunk({ refusal: refusal.slice(0, 10) }),
        chunk({ refusal: refusal.slice(10) }),
        chunk({}, 'stop'),
        usageChunk(10, 9),
      ]);
    const anthropic = new Anthropic({ baseURL: sidecar.url, apiKey: 'unused', maxRetries: 0 });
    const m = await anthropic.messages
      .stream({ model: 'auto', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] })
      .finalMessage();
    expect(m.content).toMatchObject([{ type: 'text', text: refusal }]);
    const openai = new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'unused', maxRetries: 0 });
    const deltas: string[] = [];
    const stream = openai.responses.stream({ model: 'auto', input: 'hi' });
    stream.on('response.refusal.delta', (e) => deltas.push(e.delta));
    const r = await stream.finalResponse();
    expect(deltas.join('')).toBe(refusal);
    expect(r.output).toMatchObject([
      { type: 'message', status: 'completed', content: [{ type: 'refusal', refusal }] },
    ]);
  });
});

describe('streamed tool calls without an index', () => {
  it('stay apart: two calls in one chunk are two tool_use blocks and two function_call items', async () => {
    handler = (_body, res) =>
      sse(res, [
        chunk({
          role: 'assistant',
          content: '',
          tool_calls: [
            {
              id: 'call_a',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
            },
            { id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{"tz":"CET"}' } },
          ],
        }),
        chunk({}, 'tool_calls'),
        usageChunk(5, 5),
      ]);
    const anthropic = new Anthropic({ baseURL: sidecar.url, apiKey: 'unused', maxRetries: 0 });
    const m = await anthropic.messages
      .stream({
        model: 'auto',
        max_tokens: 50,
        tools: [
          { name: 'get_weather', input_schema: { type: 'object' } },
          { name: 'get_time', input_schema: { type: 'object' } },
        ],
        messages: [{ role: 'user', content: 'hi' }],
      })
      .finalMessage();
    expect(m.content).toMatchObject([
      { type: 'tool_use', id: 'call_a', name: 'get_weather', input: { city: 'Oslo' } },
      { type: 'tool_use', id: 'call_b', name: 'get_time', input: { tz: 'CET' } },
    ]);
    const openai = new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'unused', maxRetries: 0 });
    const r = await openai.responses
      .stream({
        model: 'auto',
        input: 'hi',
        tools: ['get_weather', 'get_time'].map((name) => ({
          type: 'function' as const,
          name,
          parameters: { type: 'object' },
          strict: false,
        })),
      })
      .finalResponse();
    expect(r.output).toMatchObject([
      { type: 'function_call', call_id: 'call_a', name: 'get_weather', arguments: '{"city":"Oslo"}' },
      { type: 'function_call', call_id: 'call_b', name: 'get_time', arguments: '{"tz":"CET"}' },
    ]);
  });
});

describe('an Anthropic conversation with no message left to send', () => {
  it('is a 400 naming messages, and reaches no upstream', async () => {
    handler = (_body, res) => sse(res, [chunk({ role: 'assistant', content: 'should not be asked' })]);
    const res = await fetch(`${sidecar.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      // A thinking-only turn translates to nothing (thinking blocks are dropped from history).
      body: JSON.stringify({
        model: 'auto',
        max_tokens: 10,
        messages: [{ role: 'user', content: [{ type: 'thinking', thinking: 'hmm', signature: 's' }] }],
      }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      type: 'error',
      error: {
        type: 'invalid_request_error',
        message: 'messages: must hold at least one message with content',
      },
    });
    expect(ended).toEqual([]);
  });
});

describe('parallel tool calls whose fragments interleave', () => {
  it('keep every argument, for the Vercel AI SDK on both APIs (it reads a call as done at its stop event)', async () => {
    handler = (_body, res) =>
      sse(res, [
        chunk({
          role: 'assistant',
          content: null,
          tool_calls: [
            { index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '' } },
            { index: 1, id: 'call_b', type: 'function', function: { name: 'get_weather', arguments: '' } },
          ],
        }),
        chunk({
          tool_calls: [
            { index: 0, function: { arguments: '{"city":"Oslo"}' } },
            { index: 1, function: { arguments: '{"city":"Rome"}' } },
          ],
        }),
        chunk({}, 'tool_calls'),
        usageChunk(10, 7),
      ]);
    const tools = {
      get_weather: tool({
        description: 'weather',
        inputSchema: jsonSchema<{ city: string }>({
          type: 'object',
          properties: { city: { type: 'string' } },
        }),
      }),
    };
    for (const model of [
      createAnthropic({ baseURL: `${sidecar.url}/v1`, apiKey: 'unused' })('auto'),
      createOpenAI({ baseURL: sidecar.baseURL, apiKey: 'unused' })('auto'),
    ]) {
      const st = streamText({ model, prompt: 'Weather in Oslo and Rome?', tools, maxOutputTokens: 50 });
      const calls = await st.toolCalls;
      expect(calls.map((c) => [c.toolCallId, c.input])).toEqual([
        ['call_a', { city: 'Oslo' }],
        ['call_b', { city: 'Rome' }],
      ]);
    }
  });
});

describe('a client that hangs up while sending its body', () => {
  it('is a client-closed request (499) on every path: no error logged, nothing counted as a 500', async () => {
    const { port } = new URL(sidecar.url);
    for (const path of ['/v1/chat/completions', '/v1/messages', '/v1/embeddings']) {
      const before = sidecar.logs.byMsg('request').length;
      const s = net.connect(Number(port), '127.0.0.1');
      await new Promise((r) => s.once('connect', r));
      // Half the declared body, then the hang-up once the sidecar is reading it (its log line is written after).
      s.write(
        `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"model":"auto"`,
      );
      await vi.waitFor(() => expect(sidecar.server.inFlight()).toBe(1));
      s.destroy();
      await vi.waitFor(() => expect(sidecar.logs.byMsg('request').length).toBe(before + 1));
      expect(sidecar.logs.byMsg('request').at(-1)).toMatchObject({
        status: 499,
        error: { code: 'TM_INVALID_REQUEST' },
      });
    }
    expect(sidecar.logs.lines.filter((l) => Number(l['level']) >= 50)).toEqual([]);
    const metrics = await (await fetch(`${sidecar.url}/metrics`)).text();
    expect(metrics).not.toMatch(/tiermesh_requests_total\{[^}]*status="500"/);
  });
});

describe('requests node:http refuses before routing', () => {
  it('are answered with the registry body and an x-request-id', async () => {
    const out = await rawRequest(sidecar.url, 'GARBAGE', '');
    expect(out).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(out).toMatch(/^x-request-id: [0-9a-f-]{36}$/im);
    expect(out).toContain('"code":"TM_INVALID_REQUEST"');
  });

  it('behind a stream on the same connection: the connection is closed, no bytes of a 400 inside the stream', async () => {
    // The upstream sends one chunk and holds the stream open.
    handler = (_body, res) => sse(res, [chunk({ role: 'assistant', content: 'first words' })], false);
    const { port } = new URL(sidecar.url);
    const s = net.connect(Number(port), '127.0.0.1');
    let out = '';
    const closed = new Promise((r) => s.once('close', r));
    const streaming = new Promise<void>((resolve) =>
      s.on('data', (d) => {
        out += d.toString('utf8');
        if (out.includes('first words')) resolve();
      }),
    );
    const body = JSON.stringify({ model: 'auto', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    s.write(
      `POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
    );
    await streaming;
    s.write('GARBAGE\r\n\r\n');
    await closed;
    expect(out.match(/HTTP\/1\.1 /g)).toEqual(['HTTP/1.1 ']);
    expect(out).not.toContain('malformed HTTP request');
    // The stream's upstream call is stopped with it.
    expect(await ended[0]).toBe('aborted');
  });
});

describe('a stream whose head cannot be written', () => {
  it('closes the upstream stream it opened and books what it spent, then answers the error', async () => {
    const logs = new LogCapture();
    const store = new ConfigStore<SidecarRuntime>(
      runtimeBuilder({ breakers: new BreakerBoard(), keyEnv: testKeyEnv() }),
    );
    expect(store.apply(compileManifests(parseManifests(config(), 'test'), 'test')).ok).toBe(true);
    const usage: UsageRecord[] = [];
    const pipeline = chatPipeline({
      store,
      metrics: new SidecarMetrics(),
      logger: createLogger({ level: 'debug', destination: logs }),
      maxBodyBytes: 1 << 20,
      logPrompts: false,
      onUsage: (u) => usage.push(u),
    });
    // The chat adapter, with a respond stage that fails as it starts the stream (as a refused head would).
    const failing = {
      dialect: 'openai' as const,
      async parse(req: http.IncomingMessage, maxBodyBytes: number) {
        const p = await openAIChatAdapter.parse(req, maxBodyBytes);
        return {
          inbound: p.inbound,
          responder: {
            ...p.responder,
            streamHead() {
              throw new Error('head refused');
            },
          },
        };
      },
    };
    const server = http.createServer((req, res) => void pipeline.serve(failing)(req, res, 'req-1'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    // The upstream sends its first chunk and holds the stream open: only the sidecar can end it.
    handler = (_body, res) => sse(res, [chunk({ role: 'assistant', content: 'first words' })], false);
    try {
      const res = await fetch(
        `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'auto', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
        },
      );
      expect(res.status).toBe(500);
      // Booked before the error was answered; the prompt and the chunk that arrived.
      expect(usage).toHaveLength(1);
      expect(usage[0]!.inputTokens).toBeGreaterThan(0);
      expect(usage[0]!.outputTokens).toBeGreaterThan(0);
      expect(await ended[0]).toBe('aborted');
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
