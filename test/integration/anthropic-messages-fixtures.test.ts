/**
 * POST /v1/messages spoken to by the real `@anthropic-ai/sdk` over real sockets, through the sidecar to the OpenAI,
 * Anthropic and Gemini wire-format fixtures: what the upstream of each vendor receives for the Messages API's
 * features (structured outputs, tool calls, Gemini thought signatures), what the SDK gets back, and what is refused
 * before any upstream is called. inbound-apis-sdk.test.ts covers the same API against the simulated provider.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  behave,
  type Fixture,
  functionCall,
  startAnthropicFixture,
  startGeminiFixture,
  startOpenAIFixture,
  toolCalls,
} from '../fixtures/providers/index.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

let oai: Fixture;
let anth: Fixture;
let gem: Fixture;
let sidecar: TestSidecar;

beforeAll(async () => {
  oai = await startOpenAIFixture({ apiKey: 'sk-oai-fixture' });
  anth = await startAnthropicFixture({ apiKey: 'sk-ant-fixture' });
  gem = await startGeminiFixture({ apiKey: 'AIza-fixture' });
  const yaml = `
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default, namespace: test }
spec:
  providers:
    - { name: oai, type: openai, baseURL: "${oai.baseURL}", apiKey: { env: OAI_KEY } }
    - { name: anth, type: anthropic, baseURL: "${anth.baseURL}", apiKey: { env: ANTH_KEY } }
    - { name: gem, type: gemini, baseURL: "${gem.baseURL}/v1beta", apiKey: { env: GEM_KEY } }
  models:
    - { name: gpt-small, targets: [{ provider: oai, model: gpt-4o-mini }], pricing: { inputPerMTok: 1, outputPerMTok: 2 }, contextWindow: 128000 }
    - { name: claude-sonnet-4-5, targets: [{ provider: anth }], pricing: { inputPerMTok: 3, outputPerMTok: 15 }, contextWindow: 200000 }
    - { name: gemini-3-pro, targets: [{ provider: gem, model: gemini-3-pro-preview }], pricing: { inputPerMTok: 2, outputPerMTok: 12 }, contextWindow: 1000000 }
  tiers:
    - { name: cheap, models: [gpt-small] }
    - { name: premium, models: [claude-sonnet-4-5] }
  classifier: { mode: rules }
  resilience: { retries: { attempts: 0 } }
`;
  sidecar = await startTestSidecar(yaml, {
    env: { OAI_KEY: 'sk-oai-fixture', ANTH_KEY: 'sk-ant-fixture', GEM_KEY: 'AIza-fixture' },
  });
});
afterAll(async () => {
  await sidecar.close(1000);
  await Promise.all([oai.close(), anth.close(), gem.close()]);
});
beforeEach(() => {
  for (const f of [oai, anth, gem]) f.script([]);
});

const client = () => new Anthropic({ baseURL: sidecar.url, apiKey: 'client-key', maxRetries: 0 });
const body = (f: Fixture) => f.calls.at(-1)!.body as Record<string, unknown>;

const weather = {
  name: 'get_weather',
  description: 'Current weather for a city',
  input_schema: {
    type: 'object' as const,
    properties: { city: { type: 'string' } },
    required: ['city'],
  },
};

describe('structured outputs (output_config.format, messages.parse)', () => {
  const schema = {
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
    additionalProperties: false,
  };

  it('reach every upstream as its own JSON-schema mode, and parse() returns the parsed output', async () => {
    const cases = [
      ['gpt-small', oai],
      ['claude-sonnet-4-5', anth],
      ['gemini-3-pro', gem],
    ] as const;
    for (const [model, up] of cases) {
      up.script([behave.ok('{"city":"Paris"}')]);
      const m = await client().messages.parse({
        model,
        max_tokens: 50,
        output_config: { format: { type: 'json_schema', schema } },
        messages: [{ role: 'user', content: 'Which city is the capital of France?' }],
      });
      expect(m.parsed_output).toEqual({ city: 'Paris' });
      const sent = body(up);
      if (up === oai)
        expect(sent['response_format']).toEqual({
          type: 'json_schema',
          json_schema: { name: 'output', schema, strict: true },
        });
      else if (up === gem)
        expect(sent['generationConfig']).toMatchObject({
          responseMimeType: 'application/json',
          responseJsonSchema: schema,
        });
      // The Anthropic translation asks for the schema in the system prompt.
      else expect(String(sent['system'])).toContain(JSON.stringify(schema));
    }
  });

  it('effort goes to OpenAI as reasoning_effort; an effort with no equivalent is refused before any upstream', async () => {
    oai.script([behave.ok('fine')]);
    await client().messages.create({
      model: 'gpt-small',
      max_tokens: 50,
      output_config: { effort: 'high' },
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(body(oai)['reasoning_effort']).toBe('high');
    const before = oai.calls.length;
    const e = await client()
      .messages.create({
        model: 'gpt-small',
        max_tokens: 50,
        output_config: { effort: 'max' },
        messages: [{ role: 'user', content: 'hi' }],
      })
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(Anthropic.BadRequestError);
    expect((e as Error).message).toContain('output_config.effort');
    expect(oai.calls.length).toBe(before);
  });
});

describe('stop_reason of answers that call tools', () => {
  const call = { id: 'call_P', name: 'get_weather', arguments: '{"city":"Paris"}' };
  const req = {
    model: 'gpt-small',
    max_tokens: 50,
    tools: [weather],
    tool_choice: { type: 'tool' as const, name: 'get_weather' },
    messages: [{ role: 'user' as const, content: 'weather in Paris?' }],
  };

  it('is tool_use when OpenAI ends a forced call with "stop", JSON and stream alike', async () => {
    oai.script([toolCalls([call], { finishReason: 'stop' }), toolCalls([call], { finishReason: 'stop' })]);
    const json = await client().messages.create(req);
    expect(json.content.map((b) => b.type)).toEqual(['tool_use']);
    expect(json.stop_reason).toBe('tool_use');
    const streamed = await client().messages.stream(req).finalMessage();
    expect(streamed.content).toMatchObject([
      { type: 'tool_use', id: 'call_P', name: 'get_weather', input: { city: 'Paris' } },
    ]);
    expect(streamed.stop_reason).toBe('tool_use');
  });
});

describe('a Claude-Code-shaped call', () => {
  it('beta stream with betas, cached system blocks, context_management and metadata is answered, not refused', async () => {
    const before = anth.calls.length;
    const stream = client().beta.messages.stream({
      model: 'claude-sonnet-4-5',
      max_tokens: 64,
      betas: ['interleaved-thinking-2025-05-14', 'context-management-2025-06-27'],
      system: [
        { type: 'text', text: 'You are a CLI coding assistant.' },
        { type: 'text', text: 'Long instructions...', cache_control: { type: 'ephemeral' } },
      ],
      context_management: { edits: [{ type: 'clear_tool_uses_20250919' }] },
      metadata: { user_id: `user_${'a'.repeat(64)}` },
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'hello', cache_control: { type: 'ephemeral' } }] },
      ],
    } as never);
    const final = await stream.finalMessage();
    expect(final.role).toBe('assistant');
    expect(final.content.length).toBeGreaterThan(0);
    expect(anth.calls.length).toBe(before + 1);
    // Ignored, not forwarded: the upstream reads the whole conversation.
    expect(body(anth)).not.toHaveProperty('context_management');
  });
});

describe('Gemini thought signatures', () => {
  const sig = 'c2lnbmF0dXJlLW9mLXR1cm4tMQ==';
  const q = { role: 'user' as const, content: 'weather in Paris?' };

  for (const mode of ['json', 'stream'] as const)
    it(`ride on the tool_use block the SDK sends back, so Gemini gets them on the next turn (${mode})`, async () => {
      gem.script([
        functionCall([{ name: 'get_weather', args: { city: 'Paris' }, thoughtSignature: sig }]),
        behave.ok('Sunny.'),
      ]);
      const params = { model: 'gemini-3-pro', max_tokens: 50, tools: [weather], messages: [q] };
      const t1 =
        mode === 'json'
          ? await client().messages.create(params)
          : await client().messages.stream(params).finalMessage();
      const use = t1.content.find((b) => b.type === 'tool_use')!;
      expect(use).toMatchObject({ extra_content: { google: { thought_signature: sig } } });
      expect(t1.stop_reason).toBe('tool_use');
      await client().messages.create({
        ...params,
        messages: [
          q,
          { role: 'assistant', content: t1.content },
          {
            role: 'user',
            content: [{ type: 'tool_result', tool_use_id: (use as { id: string }).id, content: 'sunny' }],
          },
        ],
      });
      const contents = body(gem)['contents'] as Array<{
        role: string;
        parts: Array<Record<string, unknown>>;
      }>;
      expect(contents[1]!.role).toBe('model');
      expect(contents[1]!.parts[0]).toMatchObject({
        functionCall: { name: 'get_weather', args: { city: 'Paris' } },
        thoughtSignature: sig,
      });
    });
});

describe('what is refused, and how', () => {
  it('top-level fields that would change the answer are a 400 invalid_request_error naming the field; no upstream is called', async () => {
    const fields: Array<[string, unknown]> = [
      ['mcp_servers', [{ type: 'url', url: 'https://mcp.example.invalid/sse', name: 'x' }]],
      ['container', 'container_abc'],
      ['inference_geo', 'us'],
      ['speed', 'fast'],
    ];
    const before = oai.calls.length;
    for (const [field, value] of fields) {
      const e = await client()
        .messages.create({
          model: 'gpt-small',
          max_tokens: 50,
          messages: [{ role: 'user', content: 'hi' }],
          [field]: value,
        } as never)
        .catch((x: unknown) => x);
      expect(e).toBeInstanceOf(Anthropic.BadRequestError);
      const err = e as InstanceType<typeof Anthropic.BadRequestError>;
      expect((err.error as { error?: { type?: string } }).error?.type).toBe('invalid_request_error');
      expect(err.message).toContain(field);
    }
    expect(oai.calls.length).toBe(before);
    // Fields that only carry metadata still pass.
    oai.script([behave.ok('ok')]);
    const m = await client().messages.create({
      model: 'gpt-small',
      max_tokens: 50,
      service_tier: 'auto',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(m.content[0]).toMatchObject({ type: 'text', text: 'ok' });
  });

  it('an empty user turn is a 400, as Anthropic answers it, and reaches no upstream', async () => {
    const before = anth.calls.length;
    const e = await client()
      .messages.create({
        model: 'claude-sonnet-4-5',
        max_tokens: 50,
        messages: [{ role: 'user', content: '' }],
      })
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(Anthropic.BadRequestError);
    expect((e as Error).message).toContain('messages[0].content');
    expect(anth.calls.length).toBe(before);
  });

  it('tool_choice none without tools reaches OpenAI without a tool_choice', async () => {
    oai.script([behave.ok('hello')]);
    const m = await client().messages.create({
      model: 'gpt-small',
      max_tokens: 50,
      tool_choice: { type: 'none' },
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(m.content[0]).toMatchObject({ text: 'hello' });
    expect(body(oai)).not.toHaveProperty('tool_choice');
    expect(body(oai)).not.toHaveProperty('tools');
  });

  it('assistant text blocks reach the upstream as separate lines, not glued together', async () => {
    oai.script([behave.ok('ok')]);
    await client().messages.create({
      model: 'gpt-small',
      max_tokens: 50,
      messages: [
        { role: 'user', content: 'hi' },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'First.' },
            { type: 'text', text: 'Second.' },
          ],
        },
        { role: 'user', content: 'go on' },
      ],
    });
    const messages = body(oai)['messages'] as Array<{ role: string; content: unknown }>;
    expect(messages[1]).toMatchObject({ role: 'assistant', content: 'First.\nSecond.' });
  });
});

describe('request ids, count_tokens and unknown paths (Anthropic SDK)', () => {
  it('answers and errors carry request-id, which the SDK reads as _request_id and error.requestID', async () => {
    oai.script([behave.ok('hi')]);
    const { response, request_id } = await client()
      .messages.create({ model: 'gpt-small', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    expect(request_id).toBeTruthy();
    expect(request_id).toBe(response.headers.get('x-request-id'));
    oai.script([behave.ok('hi')]);
    const m = await client().messages.create({
      model: 'gpt-small',
      max_tokens: 50,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(m._request_id).toBeTruthy();
    const e = await client()
      .messages.create({ model: 'gpt-small', max_tokens: 50, messages: [{ role: 'user', content: '' }] })
      .catch((x: unknown) => x);
    expect((e as InstanceType<typeof Anthropic.APIError>).requestID).toBeTruthy();
    const counted = await client()
      .messages.countTokens({ model: 'gpt-small', messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    oai.script([behave.ok('hi')]);
    const streamed = await client()
      .messages.stream({ model: 'gpt-small', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    expect(streamed.request_id).toBe(streamed.response.headers.get('x-request-id'));
    await streamed.data.done();
    expect(counted.request_id).toBeTruthy();
    expect(counted.request_id).toBe(counted.response.headers.get('x-request-id'));
  });

  it('count_tokens answers an unknown model with the 404 /v1/messages gives it', async () => {
    const count = await client()
      .messages.countTokens({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] })
      .catch((x: unknown) => x);
    const create = await client()
      .messages.create({ model: 'no-such-model', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] })
      .catch((x: unknown) => x);
    for (const e of [count, create]) {
      expect(e).toBeInstanceOf(Anthropic.NotFoundError);
      expect((e as InstanceType<typeof Anthropic.NotFoundError>).error).toMatchObject({ type: 'error' });
    }
    const ok = await client().messages.countTokens({
      model: 'gpt-small',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(ok.input_tokens).toBeGreaterThan(0);
  });

  it('an unknown path under /v1/messages is an Anthropic-shaped 404 with request-id', async () => {
    const e = await client()
      .messages.batches.list()
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(Anthropic.NotFoundError);
    const err = e as InstanceType<typeof Anthropic.NotFoundError>;
    expect(err.error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    expect(err.requestID).toBeTruthy();
  });
});

describe("an Anthropic upstream's rate limits", () => {
  const limits = {
    'anthropic-ratelimit-requests-remaining': '49',
    'anthropic-ratelimit-tokens-reset': '2026-12-02T06:30:00Z',
  };
  it('come along with a whole answer and in a stream head, under their own names', async () => {
    anth.script([{ ...behave.ok('hello'), headers: limits }]);
    const a = await client()
      .messages.create({
        model: 'claude-sonnet-4-5',
        max_tokens: 16,
        messages: [{ role: 'user', content: 'hi' }],
      })
      .withResponse();
    expect(a.response.headers.get('anthropic-ratelimit-requests-remaining')).toBe('49');
    expect(a.response.headers.get('anthropic-ratelimit-tokens-reset')).toBe('2026-12-02T06:30:00Z');
    anth.script([{ ...behave.ok('hello there'), headers: limits }]);
    const s = await client()
      .messages.stream({
        model: 'claude-sonnet-4-5',
        max_tokens: 16,
        messages: [{ role: 'user', content: 'hi' }],
      })
      .withResponse();
    expect(s.response.headers.get('anthropic-ratelimit-requests-remaining')).toBe('49');
    // An answer without them adds none.
    anth.script([behave.ok('hello')]);
    const plain = await client()
      .messages.create({
        model: 'claude-sonnet-4-5',
        max_tokens: 16,
        messages: [{ role: 'user', content: 'hi' }],
      })
      .withResponse();
    expect(plain.response.headers.get('anthropic-ratelimit-requests-remaining')).toBeNull();
  });
});
