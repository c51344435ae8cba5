/**
 * POST /v1/responses as coding agents and agent frameworks drive it, through the real sidecar to the vendor
 * fixtures over real sockets: the `openai` SDK's `responses.create` / `responses.stream`, and Codex-shaped requests
 * (`instructions`, message / function_call / function_call_output items, strict-less function tools, `store: false`,
 * `stream: true`) sent as Codex sends them, with a plain fetch. Each test is one turn of an agent loop that broke
 * (or could break) on the way through: what reaches the upstream, and what the client reads back.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { toolUse } from '../fixtures/providers/anthropic.js';
import {
  behave,
  type Fixture,
  functionCall,
  startAnthropicFixture,
  startGeminiFixture,
  startOpenAIFixture,
  toolCalls,
} from '../fixtures/providers/index.js';
import { reasons } from '../fixtures/providers/openai.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

let oai: Fixture;
let anth: Fixture;
let gem: Fixture;
let sidecar: TestSidecar;
let client: OpenAI;

beforeAll(async () => {
  [oai, anth, gem] = await Promise.all([
    startOpenAIFixture({ apiKey: 'sk-oai-fixture' }),
    startAnthropicFixture({ apiKey: 'sk-ant-fixture' }),
    startGeminiFixture({ apiKey: 'AIza-fixture' }),
  ]);
  sidecar = await startTestSidecar(
    `
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default, namespace: test }
spec:
  providers:
    - { name: oai, type: openai, baseURL: "${oai.baseURL}", apiKey: { env: OAI_KEY } }
    - { name: anth, type: anthropic, baseURL: "${anth.baseURL}", apiKey: { env: ANTH_KEY } }
    - { name: gem, type: gemini, baseURL: "${gem.baseURL}/v1beta", apiKey: { env: GEM_KEY } }
  models:
    # On the chat wire, whose upstream shapes these tests read (a Responses-only model is otherwise called on /v1/responses).
    - { name: gpt-5-codex, targets: [{ provider: oai }], pricing: { inputPerMTok: 1, outputPerMTok: 2 }, contextWindow: 400000, request: { api: chat-completions } }
    - { name: claude-sonnet-4-5, targets: [{ provider: anth }], pricing: { inputPerMTok: 3, outputPerMTok: 15 }, contextWindow: 200000 }
    - { name: gemini-3-pro, targets: [{ provider: gem, model: gemini-3-pro-preview }], pricing: { inputPerMTok: 2, outputPerMTok: 12 }, contextWindow: 1000000 }
  tiers:
    - { name: cheap, models: [gpt-5-codex] }
    - { name: premium, models: [claude-sonnet-4-5] }
  classifier: { mode: rules }
  cascade: { enabled: false }
  resilience: { retries: { attempts: 0 } }
`,
    { env: { OAI_KEY: 'sk-oai-fixture', ANTH_KEY: 'sk-ant-fixture', GEM_KEY: 'AIza-fixture' } },
  );
  client = new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'unused', maxRetries: 0 });
});
afterAll(async () => {
  await sidecar?.close(1000);
  await Promise.all([oai?.close(), anth?.close(), gem?.close()]);
});
beforeEach(() => {
  for (const f of [oai, anth, gem]) f.script([]);
});

const shell = {
  type: 'function' as const,
  name: 'shell',
  description: 'Runs a shell command',
  strict: false,
  parameters: {
    type: 'object',
    properties: { command: { type: 'array', items: { type: 'string' } } },
    required: ['command'],
    additionalProperties: false,
  },
};

/** The parts of the model turn (the second content) Gemini got on the last call. */
const geminiModelTurn = () =>
  (gem.calls.at(-1)!.body as { contents: Array<{ role: string; parts: unknown[] }> }).contents[1];

describe('Gemini 3 behind the Responses API', () => {
  it('gets its thought signature back on the next turn, whether the client sends the item as received or rebuilt', async () => {
    for (const streamed of [false, true]) {
      gem.script([functionCall([{ name: 'shell', args: { command: ['ls'] }, thoughtSignature: 'sig-1' }])]);
      const first = streamed
        ? await client.responses
            .stream({ model: 'gemini-3-pro', input: 'list', tools: [shell] })
            .finalResponse()
        : await client.responses.create({ model: 'gemini-3-pro', input: 'list', tools: [shell] });
      const call = first.output.find(
        (o) => o.type === 'function_call',
      ) as OpenAI.Responses.ResponseFunctionToolCall;
      const result = { type: 'function_call_output' as const, call_id: call.call_id, output: 'a.txt' };
      // The openai SDK's way: the output items go back as they came (unknown fields kept).
      await client.responses.create({
        model: 'gemini-3-pro',
        tools: [shell],
        input: [
          { role: 'user', content: 'list' },
          ...(first.output as OpenAI.Responses.ResponseInputItem[]),
          result,
        ],
      });
      expect(geminiModelTurn(), `streamed: ${streamed}, as received`).toMatchObject({
        role: 'model',
        parts: [{ functionCall: { name: 'shell' }, thoughtSignature: 'sig-1' }],
      });
      // Codex's and the Vercel AI SDK's way: rebuilt from call_id, name and arguments.
      await client.responses.create({
        model: 'gemini-3-pro',
        tools: [shell],
        input: [
          { role: 'user', content: 'list' },
          { type: 'function_call', call_id: call.call_id, name: call.name, arguments: call.arguments },
          result,
        ],
      });
      expect(geminiModelTurn(), `streamed: ${streamed}, rebuilt`).toMatchObject({
        parts: [{ functionCall: { name: 'shell' }, thoughtSignature: 'sig-1' }],
      });
    }
  });
});

describe('a stream that breaks mid-answer', () => {
  it("ends in response.failed whose response holds the text streamed so far and keeps a rate limit's code", async () => {
    oai.script([
      {
        ...behave.ok('one two three four five six'),
        breakAfterChunks: 3,
        streamErrorType: 'rate_limit_exceeded',
      },
    ]);
    const stream = client.responses.stream({ model: 'gpt-5-codex', input: 'count' });
    let deltas = '';
    for await (const e of stream) if (e.type === 'response.output_text.delta') deltas += e.delta;
    const final = await stream.finalResponse();
    expect(final.status).toBe('failed');
    // Codex reads the retry delay from the message only for this code.
    expect(final.error?.code).toBe('rate_limit_exceeded');
    expect(deltas).toBe('one two');
    expect(final.output_text).toBe(deltas);
  });
});

describe('a tool result with an image (the Vercel AI SDK, Codex MCP tools)', () => {
  it('reaches Claude as the tool_result and the image after it, not a 400', async () => {
    const png = 'data:image/png;base64,iVBORw0KGgo=';
    await client.responses.create({
      model: 'claude-sonnet-4-5',
      tools: [shell],
      input: [
        { role: 'user', content: 'Take a screenshot' },
        { type: 'function_call', call_id: 'toolu_1', name: 'shell', arguments: '{"command":["shot"]}' },
        {
          type: 'function_call_output',
          call_id: 'toolu_1',
          output: [
            { type: 'input_text', text: 'saved' },
            { type: 'input_image', image_url: png, detail: 'auto' },
          ],
        },
      ],
    });
    const messages = (anth.calls.at(-1)!.body as { messages: Array<{ role: string; content: unknown[] }> })
      .messages;
    expect(messages.at(-1)).toMatchObject({
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'toolu_1', content: 'saved' },
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
      ],
    });
  });
});

/** Codex's freeform apply_patch tool, as it sends it to GPT-5-family models. */
const applyPatch = {
  type: 'custom' as const,
  name: 'apply_patch',
  description:
    'Use the `apply_patch` tool to edit files. This is a FREEFORM tool, so do not wrap the patch in JSON.',
  format: {
    type: 'grammar' as const,
    syntax: 'lark' as const,
    definition: 'start: begin_patch hunk+ end_patch\nbegin_patch: "*** Begin Patch" LF',
  },
};
const PATCH = '*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch\n';

/** Reads an SSE body into its events. */
async function sseEvents(r: Response): Promise<Array<Record<string, unknown> & { type: string }>> {
  const out: Array<Record<string, unknown> & { type: string }> = [];
  for (const block of (await r.text()).split('\n\n')) {
    const data = block.split('\n').find((l) => l.startsWith('data: '));
    if (data) out.push(JSON.parse(data.slice(6)) as Record<string, unknown> & { type: string });
  }
  return out;
}

describe("Codex's custom (freeform) apply_patch tool", () => {
  it('is offered as a function, and a call to it comes back as a custom_tool_call item, streamed as Codex reads it', async () => {
    oai.script([
      toolCalls([{ id: 'call_p', name: 'apply_patch', arguments: JSON.stringify({ input: PATCH }) }]),
    ]);
    anth.script([toolUse([{ id: 'toolu_p', name: 'apply_patch', input: { input: PATCH } }])]);
    for (const model of ['gpt-5-codex', 'claude-sonnet-4-5']) {
      const r = await fetch(`${sidecar.baseURL}/responses`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({
          model,
          instructions: 'You are Codex.',
          input: [
            { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'add hello.txt' }] },
          ],
          tools: [shell, applyPatch],
          tool_choice: 'auto',
          parallel_tool_calls: false,
          reasoning: { effort: 'medium', summary: 'auto' },
          store: false,
          stream: true,
          include: ['reasoning.encrypted_content'],
          prompt_cache_key: 'conv-1',
        }),
      });
      expect(r.status, model).toBe(200);
      const events = await sseEvents(r);
      // (Claude thinks first, with the reasoning effort on: a reasoning item comes before the call.)
      const done = events.find(
        (e) => e.type === 'response.output_item.done' && (e['item'] as { type: string }).type !== 'reasoning',
      )!;
      expect(done['item'], model).toMatchObject({
        type: 'custom_tool_call',
        name: 'apply_patch',
        input: PATCH,
      });
      expect(
        events.find((e) => e.type === 'response.custom_tool_call_input.done'),
        model,
      ).toMatchObject({
        input: PATCH,
      });
      expect(
        events.some((e) => e.type === 'response.function_call_arguments.delta'),
        model,
      ).toBe(false);
      expect(events.at(-1)!.type, model).toBe('response.completed');
    }
    const offered = (
      oai.calls.at(-1)!.body as { tools: Array<{ function: { name: string; description: string } }> }
    ).tools[1]!.function;
    expect(offered.name).toBe('apply_patch');
    expect(offered.description).toContain('FREEFORM');
  });

  it("takes Codex's next turn (the call and its output as custom items), and the SDK's stream assembles the call", async () => {
    oai.script([
      toolCalls([{ id: 'call_q', name: 'apply_patch', arguments: JSON.stringify({ input: PATCH }) }]),
    ]);
    const final = await client.responses
      .stream({
        model: 'gpt-5-codex',
        tools: [shell, applyPatch],
        store: false,
        input: [
          { role: 'user', content: 'add hello.txt' },
          { type: 'custom_tool_call', call_id: 'call_p', name: 'apply_patch', input: PATCH },
          {
            type: 'custom_tool_call_output',
            call_id: 'call_p',
            output: 'Success. Updated the following files:\nA hello.txt',
          },
        ],
      })
      .finalResponse();
    expect(final.output).toMatchObject([{ type: 'custom_tool_call', call_id: 'call_q', input: PATCH }]);
    expect((oai.calls.at(-1)!.body as { messages: unknown[] }).messages.slice(1)).toEqual([
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 'call_p',
            type: 'function',
            function: { name: 'apply_patch', arguments: JSON.stringify({ input: PATCH }) },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'call_p', content: 'Success. Updated the following files:\nA hello.txt' },
    ]);
  });
});

describe('prompt caching for an agent loop on Claude', () => {
  it("a prompt_cache_key (Codex sends one per conversation) caches the prompt so far: a breakpoint on Claude's last block", async () => {
    const input: OpenAI.Responses.ResponseInputItem[] = [
      { role: 'user', content: 'list files' },
      { type: 'function_call', call_id: 'toolu_1', name: 'shell', arguments: '{"command":["ls"]}' },
      { type: 'function_call_output', call_id: 'toolu_1', output: 'a.txt' },
    ];
    await client.responses.create({
      model: 'claude-sonnet-4-5',
      tools: [shell],
      input,
      prompt_cache_key: 'conv-1',
    });
    const messages = (anth.calls.at(-1)!.body as { messages: Array<{ content: unknown[] }> }).messages;
    expect(messages.at(-1)!.content).toEqual([
      { type: 'tool_result', tool_use_id: 'toolu_1', content: 'a.txt', cache_control: { type: 'ephemeral' } },
    ]);
    // OpenAI caches by itself and gets the key, without the breakpoint.
    await client.responses.create({
      model: 'gpt-5-codex',
      tools: [shell],
      input,
      prompt_cache_key: 'conv-1',
    });
    const body = oai.calls.at(-1)!.body as Record<string, unknown>;
    expect(body['prompt_cache_key']).toBe('conv-1');
    expect(JSON.stringify(body)).not.toContain('cache_control');
  });
});

describe('reasoning text from an OpenAI-wire server', () => {
  it('is a reasoning item whose text goes back to no OpenAI-wire upstream, which refuses foreign fields', async () => {
    oai.script([
      reasons('Let me list.', toolCalls([{ id: 'call_r', name: 'shell', arguments: '{"command":["ls"]}' }])),
    ]);
    const first = await client.responses
      .stream({ model: 'gpt-5-codex', input: 'list', tools: [shell] })
      .finalResponse();
    expect(first.output.map((o) => o.type)).toEqual(['reasoning', 'function_call']);
    expect((first.output[0] as OpenAI.Responses.ResponseReasoningItem).content?.[0]?.text).toBe(
      'Let me list.',
    );
    const r = await client.responses.create({
      model: 'gpt-5-codex',
      tools: [shell],
      input: [
        { role: 'user', content: 'list' },
        ...(first.output as OpenAI.Responses.ResponseInputItem[]),
        { type: 'function_call_output', call_id: 'call_r', output: 'a.txt' },
      ],
    });
    expect(r.status).toBe('completed');
    expect(JSON.stringify(oai.calls.at(-1)!.body)).not.toContain('thinking');
  });
});

describe('Claude thinking behind the Responses API (reasoning.effort turns it on)', () => {
  /** The assistant turn Claude got on the last call. */
  const claudeAssistantTurn = () =>
    (anth.calls.at(-1)!.body as { messages: Array<{ role: string; content: Array<{ type: string }> }> })
      .messages[1];

  it('answers the thinking as a reasoning item and gets it back on the tool-result turn, however the client returns it', async () => {
    const settings = {
      model: 'claude-sonnet-4-5',
      tools: [shell],
      reasoning: { effort: 'medium' as const, summary: 'auto' as const },
      include: ['reasoning.encrypted_content' as const],
      store: false,
    };
    for (const streamed of [false, true]) {
      anth.script([toolUse([{ name: 'shell', input: { command: ['ls'] } }])]);
      const first = streamed
        ? await client.responses.stream({ ...settings, input: 'list' }).finalResponse()
        : await client.responses.create({ ...settings, input: 'list' });
      expect((anth.calls.at(-1)!.body as { thinking?: unknown }).thinking, 'thinking on').toBeDefined();
      const [reasoning, call] = first.output as [
        OpenAI.Responses.ResponseReasoningItem,
        OpenAI.Responses.ResponseFunctionToolCall,
      ];
      expect(reasoning.type, `streamed: ${streamed}`).toBe('reasoning');
      // Asked for a summary (as Codex asks), Claude's (summarized) thinking text is the summary Codex shows.
      expect(reasoning.summary[0]?.text).toMatch(/\S/);
      expect(reasoning.encrypted_content).toMatch(/^tm1\./);
      const result = { type: 'function_call_output' as const, call_id: call.call_id, output: 'a.txt' };
      const turns: Array<[string, OpenAI.Responses.ResponseInputItem[]]> = [
        // The openai SDK's and the Agents SDK's way: the output items as they came.
        ['as received', [...(first.output as OpenAI.Responses.ResponseInputItem[]), result]],
        // An item replayed by id alone (the Agents SDK with store on).
        ['by id', [{ type: 'reasoning', id: reasoning.id, summary: [] }, call, result]],
        // Codex or the Vercel AI SDK without reasoning items: the call rebuilt, no reasoning at all.
        [
          'rebuilt',
          [
            { type: 'function_call', call_id: call.call_id, name: call.name, arguments: call.arguments },
            result,
          ],
        ],
      ];
      for (const [how, items] of turns) {
        // Without its signed thinking first, Claude (and the fixture, as Claude does) refuses this turn with a 400.
        const r = await client.responses.create({
          ...settings,
          input: [{ role: 'user', content: 'list' }, ...items],
        });
        expect(r.status, `streamed: ${streamed}, ${how}`).toBe('completed');
        expect(
          claudeAssistantTurn()?.content.map((b) => b.type),
          `streamed: ${streamed}, ${how}`,
        ).toEqual(['thinking', 'tool_use']);
      }
    }
  });
});
