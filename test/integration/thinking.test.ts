/**
 * Extended thinking end to end, over real sockets with the real SDKs: `@anthropic-ai/sdk` against the sidecar and the
 * Anthropic wire-format fixture (which thinks when asked, signs its blocks and refuses a block changed on the way
 * back, as Anthropic does), JSON and streamed, and the tool-use turn that must send the thinking back.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  behave,
  type Fixture,
  startAnthropicFixture,
  startGeminiFixture,
  startOpenAIFixture,
  thinkingSignature,
  thinks,
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
  models:
${model('claude-sonnet-4-5', '{ provider: anth }')}
${model('claude-old', '{ provider: anth, model: claude-3-5-haiku-latest }')}
${model('gpt-small', '{ provider: oai, model: gpt-4o-mini }')}
${model('o4-mini', '{ provider: oai }')}
${model('gemini-flash', '{ provider: gem, model: gemini-2.5-flash }')}
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
