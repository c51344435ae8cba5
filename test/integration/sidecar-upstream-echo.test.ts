/**
 * Upstreams that quote the request in their error text: the client gets the upstream's words (it sent the prompt),
 * the logs get them without any of the prompt unless --log-prompts, keeping the upstream's status and error type.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fixture, startAnthropicFixture, startOpenAIFixture } from '../fixtures/providers/index.js';
import { routeConfig } from '../helpers/config.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

let a: Fixture;
let b: Fixture;
let claude: Fixture;
let sidecar: TestSidecar;
let client: OpenAI;

// Upstreams quote the messages as JSON, as real ones do with a body they reject.
const messagesOf = (req: { body: unknown }) =>
  JSON.stringify((req.body as { messages?: unknown })?.messages ?? []);
const echo = (req: { body: unknown }, n = 220) => messagesOf(req).slice(0, n);
const script = (req: { body: unknown }) => {
  const t = messagesOf(req);
  if (t.includes('ECHO400'))
    return { status: 400, errorType: 'invalid_request_error', errorMessage: `Invalid content: ${echo(req)}` };
  if (t.includes('ECHO500'))
    return {
      status: 500,
      errorType: 'server_error',
      errorMessage: `Internal error processing: ${echo(req)}`,
    };
  if (t.includes('ERR200')) return { errorAt200: true, errorMessage: `bad request about ${echo(req, 120)}` };
  return { reply: 'ok answer', usage: { prompt: 10, completion: 3 } };
};

beforeAll(async () => {
  a = await startOpenAIFixture();
  a.script((req) => script(req) as never);
  b = await startOpenAIFixture();
  b.script((req) => script(req) as never);
  claude = await startAnthropicFixture({ apiKey: 'ant-key' });
  claude.script((req) => script(req) as never);
  const yaml = routeConfig({
    upstreams: [
      { name: 'upa', baseURL: a.baseURL },
      { name: 'upb', baseURL: b.baseURL },
      { name: 'claude', baseURL: claude.baseURL, keyEnv: 'ANT_KEY' },
    ],
    cheap: [{ name: 'small', upstreams: ['upa', 'upb'] }],
    premium: [{ name: 'big', upstreams: ['claude'] }],
  }).replace(/(name: claude\n\s+type: )openai-compatible/, '$1anthropic');
  expect(yaml).toContain('type: anthropic');
  sidecar = await startTestSidecar(yaml, { env: { ANT_KEY: 'ant-key' } });
  client = new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'x', maxRetries: 0 });
});
afterAll(async () => {
  await sidecar?.close();
  await Promise.all([a?.close(), b?.close(), claude?.close()]);
});

// Long enough to be echoed in runs, with a short secret word and a JSON-escaped line break in it.
const PROMPT_WORDS = ['PROMPTSECRET', 'confidential merger with Initech', 'line two of it'];
const prompt = (marker: string) =>
  `${marker} ${PROMPT_WORDS[0]} about the ${PROMPT_WORDS[1]}\n"${PROMPT_WORDS[2]}"`;

function linesOf(id: string): string {
  return sidecar.logs.lines
    .filter((l) => l['requestId'] === id)
    .map((l) => JSON.stringify(l))
    .join('\n');
}

async function ask(content: string, model = 'auto') {
  const r = await client.chat.completions
    .create({ model, messages: [{ role: 'user', content }] })
    .withResponse()
    .catch((e: unknown) => e);
  return r as InstanceType<typeof OpenAI.APIError>;
}

function expectNoPrompt(logs: string) {
  expect(logs.length).toBeGreaterThan(0);
  for (const w of [...PROMPT_WORDS, 'PROMPTSECRET', 'Initech', 'merger']) expect(logs).not.toContain(w);
}

describe('upstream error text that echoes the prompt', () => {
  it('a 400 that quotes the messages: the client gets it, the log lines keep the status and type, not the prompt', async () => {
    const before = sidecar.logs.lines.length;
    const err = await ask(prompt('ECHO400'));
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.message).toContain('PROMPTSECRET');
    const id = err.headers?.get('x-request-id') ?? '';
    const logs = id ? linesOf(id) : JSON.stringify(sidecar.logs.lines.slice(before));
    expectNoPrompt(logs);
    expect(logs).toContain('answered HTTP 400');
    expect(logs).toContain('Invalid content: ');
    expect(logs).toContain('[prompt]');
  });

  it('500s on every target: fallback lines and the request line carry no prompt, the client still gets its error', async () => {
    const before = sidecar.logs.lines.length;
    const err = await ask(prompt('ECHO500'));
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.status).toBe(502);
    const logs = JSON.stringify(sidecar.logs.lines.slice(before));
    const fallbacks = sidecar.logs.lines.slice(before).filter((l) => l['msg'] === 'fallback');
    expect(fallbacks.length).toBeGreaterThanOrEqual(2);
    for (const f of fallbacks) {
      expect(f['status']).toBe(500);
      expect(f['detail']).toContain('Internal error processing: ');
    }
    expectNoPrompt(logs);
  });

  it('an error in a 200 answer, and an Anthropic 400 that quotes the messages', async () => {
    for (const [content, model] of [
      [prompt('ERR200'), 'small'],
      [prompt('ECHO400'), 'big'],
    ] as const) {
      const before = sidecar.logs.lines.length;
      const err = await ask(content, model);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect(err.message).toContain('PROMPTSECRET');
      const logs = JSON.stringify(sidecar.logs.lines.slice(before));
      expectNoPrompt(logs);
      expect(logs).toContain('[prompt]');
    }
    expect(claude.calls.length).toBeGreaterThan(0);
  });
});

describe('with --log-prompts', () => {
  it('the fallback lines and the request line keep the upstream words whole', async () => {
    const yaml = routeConfig({
      upstreams: [
        { name: 'upa', baseURL: a.baseURL },
        { name: 'upb', baseURL: b.baseURL },
      ],
      cheap: [{ name: 'small', upstreams: ['upa', 'upb'] }],
      premium: [{ name: 'big', upstreams: ['upb'] }],
    });
    const logging = await startTestSidecar(yaml, { logPrompts: true });
    try {
      const c = new OpenAI({ baseURL: logging.baseURL, apiKey: 'x', maxRetries: 0 });
      const err = await c.chat.completions
        .create({ model: 'small', messages: [{ role: 'user', content: prompt('ECHO500') }] })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      const fallbacks = logging.logs.byMsg('fallback');
      expect(fallbacks.length).toBeGreaterThanOrEqual(2);
      for (const f of fallbacks) expect(f['detail']).toContain(PROMPT_WORDS[1]);
      const request = logging.logs.byMsg('request').at(-1)!;
      expect((request['error'] as { message: string }).message).toContain(PROMPT_WORDS[1]);
    } finally {
      await logging.close();
    }
  });
});
