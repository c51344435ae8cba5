/** Bad input gets clear 4xx answers in OpenAI's error shape; /metrics passes the promtool linter and counts right. */
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { behave, type Fixture, startOpenAIFixture } from '../fixtures/providers/index.js';
import { routeConfig, SIMPLE_PROMPT } from '../helpers/config.js';
import { promlint } from '../helpers/promlint-bin.js';
import { metricValue, startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

const MAX_BODY = 64 * 1024;
let up: Fixture;
let sidecar: TestSidecar;
let client: OpenAI;

beforeAll(async () => {
  up = await startOpenAIFixture();
  up.fallback(behave.ok('fine', { prompt: 7, completion: 3 }));
  sidecar = await startTestSidecar(
    routeConfig({
      upstreams: [{ name: 'up', baseURL: up.baseURL }],
      cheap: [{ name: 'small-model', upstreams: ['up'] }],
      premium: [{ name: 'big-model', upstreams: ['up'] }],
    }),
    { maxBodyBytes: MAX_BODY },
  );
  client = new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'x', maxRetries: 0 });
});
afterAll(async () => {
  await sidecar?.close();
  await up?.close();
});

const post = (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  fetch(`${sidecar.baseURL}/chat/completions`, { method: 'POST', headers, body });

describe('bad input', () => {
  it('invalid JSON: 400 TM_INVALID_JSON', async () => {
    const r = await post('{"model": "auto", "messages": [');
    expect(r.status).toBe(400);
    const body = (await r.json()) as OpenAI.ErrorObject & { error: { code: string; type: string } };
    expect(body.error.code).toBe('TM_INVALID_JSON');
    expect(body.error.type).toBe('invalid_request_error');
  });

  it('wrong content type: 415', async () => {
    const r = await post('model=auto', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(r.status).toBe(415);
  });

  it('missing messages: 400 naming the field; the SDK throws BadRequestError with param', async () => {
    const err = await client.chat.completions
      .create({ model: 'auto' } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming)
      .catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('messages');
    expect((err as Error).message).toContain('messages');
  });

  const hi = [{ role: 'user', content: SIMPLE_PROMPT }];
  it.each([
    [
      'messages: "hi"',
      { model: 'auto', messages: 'hi' },
      'messages',
      'messages: expected array, received string',
    ],
    ['model: 5', { model: 5, messages: hi }, 'model', 'model: expected string, received number'],
    [
      'temperature: "hot"',
      { model: 'auto', messages: hi, temperature: 'hot' },
      'temperature',
      'temperature: expected number, received string',
    ],
    [
      'stream: "yes"',
      { model: 'auto', messages: hi, stream: 'yes' },
      'stream',
      'stream: expected boolean, received string',
    ],
    [
      'max_tokens: 1.5',
      { model: 'auto', messages: hi, max_tokens: 1.5 },
      'max_tokens',
      'max_tokens: expected an integer',
    ],
    [
      'max_tokens: 1e9',
      { model: 'auto', messages: hi, max_tokens: 1e9 },
      'max_tokens',
      /^about \d+ prompt tokens plus 1000000000 completion tokens fit no model/,
    ],
    [
      'a text part whose text is a number',
      { model: 'auto', messages: [{ role: 'user', content: [{ type: 'text', text: 5 }] }] },
      'messages[0].content[0].text',
      'messages[0].content[0].text: expected string, received number',
    ],
    [
      'null user content',
      { model: 'auto', messages: [{ role: 'user', content: null }] },
      'messages[0].content',
      /null is allowed only on an assistant message with tool_calls$/,
    ],
    ['n: -1', { model: 'auto', messages: hi, n: -1 }, 'n', 'n: must be >= 1'],
    ['n: 1000', { model: 'auto', messages: hi, n: 1000 }, 'n', 'n: must be <= 128'],
    [
      'tools: "nope"',
      { model: 'auto', messages: hi, tools: 'nope' },
      'tools',
      'tools: expected array, received string',
    ],
    [
      'response_format json_schema without json_schema',
      { model: 'auto', messages: hi, response_format: { type: 'json_schema' } },
      'response_format.json_schema',
      'response_format.json_schema: required field is missing',
    ],
  ])('%s: the SDK gets 400 naming the field and what is wrong with it', async (_, body, param, message) => {
    const before = up.requests.length;
    const err = await client.chat.completions
      .create(body as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming)
      .catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const e = err as InstanceType<typeof OpenAI.BadRequestError>;
    expect(e.status).toBe(400);
    expect(e.param).toBe(param);
    const error = e.error as { message: string; code: string };
    if (typeof message === 'string') expect(error.message).toBe(message);
    else expect(error.message).toMatch(message);
    expect(error.message).not.toContain(SIMPLE_PROMPT);
    // Refused before any upstream saw it.
    expect(up.requests.length).toBe(before);
  });

  it('unknown model: 404 model_not_found-style answer with param model', async () => {
    const err = await client.chat.completions
      .create({ model: 'gpt-9-ultra', messages: [{ role: 'user', content: SIMPLE_PROMPT }] })
      .catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('TM_MODEL_NOT_FOUND');
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).param).toBe('model');
  });

  it('oversized body: 413 TM_BODY_TOO_LARGE, by content-length', async () => {
    const big = JSON.stringify({
      model: 'auto',
      messages: [{ role: 'user', content: 'x'.repeat(MAX_BODY * 4) }],
    });
    const r = await post(big);
    expect(r.status).toBe(413);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe('TM_BODY_TOO_LARGE');
  });

  it('oversized chunked body: 413 as soon as the limit passes, without reading the rest', async () => {
    const { port } = new URL(sidecar.url);
    const sock = net.connect(Number(port), '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    let received = '';
    sock.on('data', (d) => {
      received += d.toString('utf8');
    });
    const closed = new Promise((r) => sock.once('close', r));
    sock.on('error', () => {});
    sock.write(
      'POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n',
    );
    // Send twice the limit, then never finish the body: a reader that waited for the end would never answer.
    const piece = 'a'.repeat(16 * 1024);
    for (let sent = 0; sent < MAX_BODY * 2; sent += piece.length)
      sock.write(`${piece.length.toString(16)}\r\n${piece}\r\n`);
    await closed;
    expect(received).toMatch(/^HTTP\/1\.1 413 /);
    expect(received).toContain('TM_BODY_TOO_LARGE');
  });

  it('unknown path and wrong method', async () => {
    expect((await fetch(`${sidecar.url}/v1/no-such-endpoint`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${sidecar.baseURL}/chat/completions`)).status).toBe(405);
  });
});

describe('/metrics', () => {
  it('passes `promtool check metrics` rules and counts what happened', async () => {
    await client.chat.completions.create({
      model: 'auto',
      messages: [{ role: 'user', content: SIMPLE_PROMPT }],
    });
    await client.chat.completions.create({
      model: 'auto',
      messages: [{ role: 'user', content: SIMPLE_PROMPT }],
    });
    const res = await fetch(`${sidecar.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();

    const labels = { route: 'default', tier: 'cheap', model: 'small-model', provider: 'up', status: '200' };
    expect(metricValue(text, 'tiermesh_requests_total', labels)).toBe(2);
    expect(metricValue(text, 'tiermesh_tokens_total', { model: 'small-model', direction: 'input' })).toBe(14);
    expect(metricValue(text, 'tiermesh_tokens_total', { model: 'small-model', direction: 'output' })).toBe(6);
    expect(
      metricValue(text, 'tiermesh_classifications_total', {
        route: 'default',
        tier: 'cheap',
        source: 'rules',
      }),
    ).toBe(2);
    expect(
      metricValue(text, 'tiermesh_upstream_duration_seconds_count', { provider: 'up', model: 'small-model' }),
    ).toBe(2);
    expect(metricValue(text, 'tiermesh_request_duration_seconds_count', { route: 'default' })).toBe(2);
    expect(
      metricValue(text, 'tiermesh_config_version_info', { version: sidecar.store.current!.snapshot.version }),
    ).toBe(1);
    expect(metricValue(text, 'tiermesh_requests_total', { status: '400' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, 'tiermesh_requests_total', { status: '413' })).toBeGreaterThanOrEqual(1);

    const lint = promlint();
    const r = spawnSync(lint, [], { input: text, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // The linter is real: it rejects what it should.
    const bad = spawnSync(lint, [], { input: '# TYPE foo counter\nfoo 1\n', encoding: 'utf8' });
    expect(bad.status).toBe(3);
  });
});
