/**
 * Extended thinking end to end, over real sockets with the real SDKs: `@anthropic-ai/sdk` against the sidecar and the
 * Anthropic wire-format fixture (which thinks when asked, signs its blocks and refuses a block changed on the way
 * back, as Anthropic does), JSON and streamed, and the tool-use turn that must send the thinking back; thinking
 * routed to OpenAI and Gemini targets; and `openai` chat clients: reasoning_effort to Claude, thinking_blocks sent
 * back, an OpenAI-compatible server's reasoning_content passed on.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  behave,
  type Fixture,
  reasons,
  startAnthropicFixture,
  startGeminiFixture,
  startOpenAIFixture,
  thinkingSignature,
  thinks,
  toolCalls,
  toolUse,
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
  const model = (name: string, target: string) =>
    `    - { name: ${name}, targets: [${target}], pricing: { inputPerMTok: 1, outputPerMTok: 4 }, contextWindow: 200000 }`;
  sidecar = await startTestSidecar(
    `apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default, namespace: test }
spec:
  providers:
    - { name: oai, type: openai, baseURL: "${oai.baseURL}", apiKey: { env: OAI_KEY } }
    - { name: anth, type: anthropic, baseURL: "${anth.baseURL}", apiKey: { env: ANTH_KEY } }
    - { name: gem, type: gemini, baseURL: "${gem.baseURL}/v1beta", apiKey: { env: GEM_KEY } }
    - { name: vllm, type: openai-compatible, baseURL: "${oai.baseURL}", apiKey: { env: OAI_KEY } }
  models:
${model('claude-sonnet-4-5', '{ provider: anth }')}
${model('claude-old', '{ provider: anth, model: claude-3-5-haiku-latest }')}
${model('gpt-small', '{ provider: oai, model: gpt-4o-mini }')}
${model('o4-mini', '{ provider: oai }')}
${model('gemini-flash', '{ provider: gem, model: gemini-2.5-flash }')}
${model('deepseek-r1', '{ provider: vllm }')}
  tiers:
    - { name: cheap, models: [gpt-small] }
    - { name: mixed, models: [gpt-small, claude-sonnet-4-5] }
  taskTypes: { quick: cheap, think: mixed }
  classifier: { mode: rules }
  cascade: { enabled: false }
  resilience: { retries: { attempts: 0 } }
`,
    { env: { OAI_KEY: 'sk-oai-fixture', ANTH_KEY: 'sk-ant-fixture', GEM_KEY: 'AIza-fixture' } },
  );
});
afterAll(async () => {
  await sidecar?.close(1000);
  await Promise.all([oai?.close(), anth?.close(), gem?.close()]);
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
const enabled = { type: 'enabled' as const, budget_tokens: 1024 };
const q = { role: 'user' as const, content: 'Weather in Paris?' };

describe('Anthropic client, Anthropic upstream: full fidelity', () => {
  it('carries thinking to the upstream and answers its signed and redacted blocks exactly, JSON and stream alike', async () => {
    const blocks = [{ thinking: 'Paris is in France. I know this.' }, { redacted: 'EuYBCkQYAiJA' }];
    anth.script([thinks(blocks, behave.ok('Sunny.')), thinks(blocks, behave.ok('Sunny.'))]);
    const params = { model: 'claude-sonnet-4-5', max_tokens: 2048, thinking: enabled, messages: [q] };
    const json = await client().messages.create(params);
    expect(body(anth)['thinking']).toEqual(enabled);
    const expected = [
      {
        type: 'thinking',
        thinking: 'Paris is in France. I know this.',
        signature: thinkingSignature('Paris is in France. I know this.'),
      },
      { type: 'redacted_thinking', data: 'EuYBCkQYAiJA' },
      { type: 'text', text: 'Sunny.' },
    ];
    expect(json.content).toEqual(expected);
    // Thinking is output: Anthropic's output_tokens already count it (the fixture: 7 thinking + 1 text word).
    expect(json.usage.output_tokens).toBe(8);
    const streamed = await client().messages.stream(params).finalMessage();
    expect(streamed.content).toEqual(expected);
    expect(streamed.usage.output_tokens).toBe(8);
  });

  it('carries adaptive thinking and its display, and every thinking answer streams thinking_delta then signature_delta', async () => {
    anth.script([behave.ok('Hi.')]);
    const events: string[] = [];
    const stream = client().messages.stream({
      model: 'claude-sonnet-4-5',
      max_tokens: 512,
      thinking: { type: 'adaptive', display: 'summarized' },
      messages: [{ role: 'user', content: 'hi' }],
    });
    stream.on('streamEvent', (e) => {
      if (e.type === 'content_block_delta') events.push(e.delta.type);
      if (e.type === 'content_block_start') events.push(`start ${e.content_block.type}`);
    });
    await stream.finalMessage();
    expect(body(anth)['thinking']).toEqual({ type: 'adaptive', display: 'summarized' });
    expect(events[0]).toBe('start thinking');
    expect(events.filter((e) => e === 'signature_delta')).toHaveLength(1);
    expect(events.indexOf('signature_delta')).toBeLessThan(events.indexOf('start text'));
    expect(events.slice(1, events.indexOf('signature_delta')).every((e) => e === 'thinking_delta')).toBe(
      true,
    );
  });

  for (const mode of ['json', 'stream'] as const)
    it(`sends the thinking of a tool-use turn back signed and first, so the upstream continues it (${mode})`, async () => {
      anth.script([
        thinks(
          [{ thinking: 'I need the weather tool.' }],
          toolUse([{ name: 'get_weather', input: { city: 'Paris' } }]),
        ),
        thinks([{ thinking: 'The tool said sunny.' }], behave.ok('It is sunny.')),
      ]);
      const params = { model: 'claude-sonnet-4-5', max_tokens: 2048, thinking: enabled, tools: [weather] };
      const t1 =
        mode === 'json'
          ? await client().messages.create({ ...params, messages: [q] })
          : await client()
              .messages.stream({ ...params, messages: [q] })
              .finalMessage();
      expect(t1.content.map((b) => b.type)).toEqual(['thinking', 'tool_use']);
      const use = t1.content.find((b) => b.type === 'tool_use')!;
      const t2 = await client().messages.create({
        ...params,
        messages: [
          q,
          { role: 'assistant', content: t1.content },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'sunny' }] },
        ],
      });
      // The fixture refuses a changed signature and a tool-use turn that does not start with its thinking.
      expect(t2.content.at(-1)).toEqual({ type: 'text', text: 'It is sunny.' });
      const sent = body(anth)['messages'] as Array<{ role: string; content: unknown[] }>;
      expect(sent[1]!.content[0]).toEqual(t1.content[0]);
    });

  it('refuses a budget Anthropic would refuse with a 400 naming thinking.budget_tokens, before any upstream call', async () => {
    const before = anth.calls.length;
    for (const thinking of [
      { type: 'enabled' as const, budget_tokens: 2048 },
      { type: 'enabled' as const, budget_tokens: 512 },
    ]) {
      const e = await client()
        .messages.create({ model: 'claude-sonnet-4-5', max_tokens: 2048, thinking, messages: [q] })
        .catch((x: unknown) => x);
      expect(e).toBeInstanceOf(Anthropic.BadRequestError);
      expect((e as Error).message).toContain('thinking.budget_tokens');
    }
    expect(anth.calls.length).toBe(before);
  });
});

describe('Anthropic client, thinking routed to other vendors', () => {
  const history = [
    q,
    {
      role: 'assistant' as const,
      content: [
        {
          type: 'thinking' as const,
          thinking: 'Earlier thought.',
          signature: thinkingSignature('Earlier thought.'),
        },
        { type: 'text' as const, text: 'Let me check.' },
      ],
    },
    { role: 'user' as const, content: 'And tomorrow?' },
  ];

  it('prefers a model of the tier that can think, and serves a tier without one without thinking', async () => {
    const routed = (task: string) =>
      new Anthropic({
        baseURL: sidecar.url,
        apiKey: 'client-key',
        maxRetries: 0,
        defaultHeaders: { 'x-tiermesh-task': task },
      });
    anth.script([behave.ok('Thought about it.')]);
    const before = { anth: anth.calls.length, oai: oai.calls.length };
    const m = await routed('think').messages.create({
      model: 'auto',
      max_tokens: 2048,
      thinking: enabled,
      messages: history,
    });
    expect(anth.calls.length).toBe(before.anth + 1);
    expect(m.content.map((b) => b.type)).toEqual(['thinking', 'text']);
    oai.script([behave.ok('No thinking here.')]);
    const cheap = await routed('quick').messages.create({
      model: 'auto',
      max_tokens: 2048,
      thinking: enabled,
      messages: history,
    });
    expect(oai.calls.length).toBe(before.oai + 1);
    expect(cheap.content).toEqual([{ type: 'text', text: 'No thinking here.' }]);
    // The fixture refuses OpenAI-foreign fields as OpenAI does: neither thinking nor history blocks reached it.
    expect(body(oai)).not.toHaveProperty('thinking');
    expect(body(oai)).not.toHaveProperty('reasoning_effort');
    expect((body(oai)['messages'] as unknown[])[1]).toEqual({ role: 'assistant', content: 'Let me check.' });
  });

  it('asks an OpenAI reasoning model for the reasoning_effort of the budget', async () => {
    for (const [budget, effort] of [
      [1024, 'low'],
      [2048, 'medium'],
      [3000, 'high'],
    ] as const) {
      oai.script([behave.ok('ok')]);
      await client().messages.create({
        model: 'o4-mini',
        max_tokens: 4000,
        thinking: { type: 'enabled', budget_tokens: budget },
        messages: history,
      });
      expect(body(oai)['reasoning_effort']).toBe(effort);
      expect(body(oai)).not.toHaveProperty('thinking');
    }
  });

  for (const mode of ['json', 'stream'] as const)
    it(`asks Gemini for thinkingConfig and answers its thoughts as an unsigned thinking block, which Anthropic never gets (${mode})`, async () => {
      gem.script([{ ...behave.ok('Sunny.'), thoughts: 'Paris weather, then.' } as never]);
      const params = {
        model: 'gemini-flash',
        max_tokens: 4000,
        thinking: { type: 'enabled' as const, budget_tokens: 2000 },
        messages: [q],
      };
      const m =
        mode === 'json'
          ? await client().messages.create(params)
          : await client().messages.stream(params).finalMessage();
      expect((body(gem)['generationConfig'] as Record<string, unknown>)['thinkingConfig']).toEqual({
        thinkingBudget: 2000,
        includeThoughts: true,
      });
      expect(m.content).toEqual([
        { type: 'thinking', thinking: 'Paris weather, then.', signature: '' },
        { type: 'text', text: 'Sunny.' },
      ]);
      // Sent back to a Claude model, the unsigned block is left out (the fixture, as Anthropic, refuses it).
      anth.script([behave.ok('Still sunny.')]);
      const next = await client().messages.create({
        ...params,
        model: 'claude-sonnet-4-5',
        messages: [q, { role: 'assistant', content: m.content }, { role: 'user', content: 'Sure?' }],
      });
      expect(next.content.at(-1)).toEqual({ type: 'text', text: 'Still sunny.' });
      const sent = body(anth)['messages'] as Array<{ content: unknown[] }>;
      expect(sent[1]!.content).toEqual([{ type: 'text', text: 'Sunny.' }]);
    });

  it('gives a Claude model without thinking the request without it', async () => {
    anth.script([behave.ok('Plain.')]);
    const m = await client().messages.create({
      model: 'claude-old',
      max_tokens: 2048,
      thinking: enabled,
      messages: history,
    });
    expect(m.content).toEqual([{ type: 'text', text: 'Plain.' }]);
    expect(body(anth)).not.toHaveProperty('thinking');
    expect((body(anth)['messages'] as Array<{ content: unknown[] }>)[1]!.content).toEqual([
      { type: 'text', text: 'Let me check.' },
    ]);
  });
});

describe('OpenAI chat client', () => {
  const chat = () => new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'client-key', maxRetries: 0 });
  type Msg = { reasoning_content?: string; thinking_blocks?: unknown[] };

  it("asks Claude for thinking with reasoning_effort's budget, raising max_tokens above it, and answers the thinking", async () => {
    anth.script([thinks([{ thinking: 'Careful now.' }], behave.ok('Four.'))]);
    const c = await chat().chat.completions.create({
      model: 'claude-sonnet-4-5',
      reasoning_effort: 'high',
      max_tokens: 1000,
      messages: [{ role: 'user', content: 'Two plus two?' }],
    });
    expect(body(anth)['thinking']).toEqual({ type: 'enabled', budget_tokens: 4096 });
    expect(body(anth)['max_tokens']).toBe(5096);
    const m = c.choices[0]!.message as (typeof c.choices)[0]['message'] & Msg;
    expect(m.content).toBe('Four.');
    expect(m.reasoning_content).toBe('Careful now.');
    expect(m.thinking_blocks).toEqual([
      { type: 'thinking', thinking: 'Careful now.', signature: thinkingSignature('Careful now.') },
    ]);
  });

  it('streams the thinking as reasoning_content fragments, and thinking_blocks sent back continue a tool call', async () => {
    const tool = {
      type: 'function' as const,
      function: { name: 'get_weather', parameters: weather.input_schema },
    };
    anth.script([
      thinks(
        [{ thinking: 'I will call the tool.' }],
        toolUse([{ name: 'get_weather', input: { city: 'Paris' } }]),
      ),
      thinks([{ thinking: 'Done.' }], behave.ok('Sunny.')),
    ]);
    const stream = await chat().chat.completions.create({
      model: 'claude-sonnet-4-5',
      reasoning_effort: 'low',
      max_tokens: 3000,
      tools: [tool],
      stream: true,
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
    });
    let reasoning = '';
    let blocks: unknown[] = [];
    let call: { id?: string; function?: { name?: string; arguments?: string } } = {};
    for await (const ch of stream) {
      const d = ch.choices[0]?.delta as (Record<string, unknown> & Msg) | undefined;
      if (typeof d?.reasoning_content === 'string') reasoning += d.reasoning_content;
      if (d?.thinking_blocks) blocks = [...blocks, ...d.thinking_blocks];
      const tc = (d?.['tool_calls'] as Array<typeof call> | undefined)?.[0];
      if (tc?.id) call = { id: tc.id, function: { name: tc.function?.name ?? '', arguments: '' } };
      if (tc?.function?.arguments) call.function!.arguments += tc.function.arguments;
    }
    expect(reasoning).toBe('I will call the tool.');
    expect(blocks).toEqual([
      {
        type: 'thinking',
        thinking: 'I will call the tool.',
        signature: thinkingSignature('I will call the tool.'),
      },
    ]);
    const c = await chat().chat.completions.create({
      model: 'claude-sonnet-4-5',
      reasoning_effort: 'low',
      max_tokens: 3000,
      tools: [tool],
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: call.id!,
              type: 'function',
              function: call.function as { name: string; arguments: string },
            },
          ],
          thinking_blocks: blocks,
        } as never,
        { role: 'tool', tool_call_id: call.id!, content: 'sunny' },
      ],
    });
    // The fixture refuses a tool-use turn continued with thinking on unless it starts with its signed thinking.
    expect(c.choices[0]!.message.content).toBe('Sunny.');
  });

  it("passes an OpenAI-compatible server's reasoning_content on to chat clients, JSON and stream", async () => {
    oai.script([
      reasons('Think, then answer.', behave.ok('42')),
      reasons('Think, then answer.', behave.ok('42')),
    ]);
    const c = await chat().chat.completions.create({
      model: 'deepseek-r1',
      messages: [{ role: 'user', content: 'The answer?' }],
    });
    expect((c.choices[0]!.message as Msg).reasoning_content).toBe('Think, then answer.');
    const stream = await chat().chat.completions.create({
      model: 'deepseek-r1',
      stream: true,
      messages: [{ role: 'user', content: 'The answer?' }],
    });
    let reasoning = '';
    for await (const ch of stream)
      reasoning += (ch.choices[0]?.delta as Msg | undefined)?.reasoning_content ?? '';
    expect(reasoning).toBe('Think, then answer.');
  });

  it('takes thinking (LiteLLM convention), refusing a budget Anthropic would refuse, naming thinking.budget_tokens', async () => {
    const before = anth.calls.length;
    for (const [budget, max] of [
      [100, 4000],
      [3000, 2000],
    ] as const) {
      const e = await chat()
        .chat.completions.create({
          model: 'claude-sonnet-4-5',
          max_tokens: max,
          messages: [{ role: 'user', content: 'hi' }],
          thinking: { type: 'enabled', budget_tokens: budget },
        } as never)
        .catch((x: unknown) => x);
      expect(e).toBeInstanceOf(OpenAI.BadRequestError);
      expect((e as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('thinking.budget_tokens');
    }
    expect(anth.calls.length).toBe(before);
    // Without a limit of its own, Anthropic's max_tokens (4096 by default) is raised above the budget.
    anth.script([behave.ok('ok')]);
    await chat().chat.completions.create({
      model: 'claude-sonnet-4-5',
      messages: [{ role: 'user', content: 'hi' }],
      thinking: { type: 'enabled', budget_tokens: 5000 },
    } as never);
    expect(body(anth)['thinking']).toEqual({ type: 'enabled', budget_tokens: 5000 });
    expect(body(anth)['max_tokens']).toBe(9096);
  });
});

describe("Anthropic client, an OpenAI-compatible server's reasoning_content", () => {
  for (const mode of ['json', 'stream'] as const)
    it(`is a thinking block without a signature before the text (${mode})`, async () => {
      oai.script([reasons('Six times seven.', behave.ok('42'))]);
      const params = { model: 'deepseek-r1', max_tokens: 100, messages: [q] };
      const m =
        mode === 'json'
          ? await client().messages.create(params)
          : await client().messages.stream(params).finalMessage();
      expect(m.content).toEqual([
        { type: 'thinking', thinking: 'Six times seven.', signature: '' },
        { type: 'text', text: '42' },
      ]);
    });
});

describe('a tool call continued without its thinking (another vendor answered it, or a client dropped it)', () => {
  it('is served by Claude without thinking instead of the 400 Anthropic would answer', async () => {
    oai.script([toolCalls([{ id: 'call_G', name: 'get_weather', arguments: '{"city":"Paris"}' }])]);
    const t1 = await client().messages.create({
      model: 'gpt-small',
      max_tokens: 2048,
      thinking: enabled,
      tools: [weather],
      messages: [q],
    });
    const use = t1.content.find((b) => b.type === 'tool_use')!;
    anth.script([behave.ok('Sunny.')]);
    const t2 = await client().messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 2048,
      thinking: enabled,
      tools: [weather],
      messages: [
        q,
        { role: 'assistant', content: t1.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'sunny' }] },
      ],
    });
    expect(t2.content).toEqual([{ type: 'text', text: 'Sunny.' }]);
    expect(body(anth)).not.toHaveProperty('thinking');
    // The next question, with the tool call behind it, thinks again.
    anth.script([behave.ok('Yes.')]);
    await client().messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 2048,
      thinking: enabled,
      tools: [weather],
      messages: [
        q,
        { role: 'assistant', content: t1.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'sunny' }] },
        { role: 'assistant', content: t2.content },
        { role: 'user', content: 'Sure?' },
      ],
    });
    expect(body(anth)['thinking']).toEqual(enabled);
  });
});
