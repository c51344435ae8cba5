import { describe, expect, it } from 'vitest';
import type { ChatCompletionChunk, ChatCompletionRequest } from '../api/openai.js';
import { createSimulatedAdapter } from './simulated.js';
import { sampleForSchema } from './simulated-answer.js';

const sim = createSimulatedAdapter({
  name: 'sim',
  type: 'simulated',
  simulated: { latencyMs: 1, tokensPerSecond: 10_000 },
});
const call = (body: Partial<ChatCompletionRequest>) => ({
  body: {
    model: 'gpt-4o-mini',
    messages: [{ role: 'user' as const, content: 'Tell me a joke about routers' }],
    ...body,
  },
  signal: new AbortController().signal,
  firstByteTimeoutMs: 1000,
});

describe('simulated provider', () => {
  it('answers deterministically, says it is simulated, and counts tokens', async () => {
    const a = await sim.complete(call({}));
    const b = await sim.complete(call({}));
    expect(a.choices[0]?.message.content).toBe(b.choices[0]?.message.content);
    expect(a.id).toBe(b.id);
    expect(a.choices[0]?.message.content).toMatch(/simulated/i);
    expect(a.usage?.prompt_tokens).toBeGreaterThan(5);
    expect(a.usage?.completion_tokens).toBeGreaterThan(10);
    expect(a.usage?.total_tokens).toBe((a.usage?.prompt_tokens ?? 0) + (a.usage?.completion_tokens ?? 0));
  });

  it('answers valid JSON when asked, matching a schema', async () => {
    const j = await sim.complete(call({ response_format: { type: 'json_object' } }));
    expect(() => JSON.parse(j.choices[0]?.message.content ?? '')).not.toThrow();
    const schema = {
      type: 'object',
      properties: {
        label: { type: 'string', enum: ['spam', 'ham'] },
        score: { type: 'number' },
        tags: { type: 'array' },
      },
    };
    const s = await sim.complete(
      call({ response_format: { type: 'json_schema', json_schema: { name: 'c', schema } } }),
    );
    expect(JSON.parse(s.choices[0]?.message.content ?? '')).toEqual({ label: 'spam', score: 0, tags: [] });
    expect(sampleForSchema({ type: 'array', minItems: 2, items: { type: 'boolean' } })).toEqual([
      false,
      false,
    ]);
  });

  it('stops at max_tokens with finish_reason length', async () => {
    const r = await sim.complete(call({ max_tokens: 3 }));
    expect(r.choices[0]?.finish_reason).toBe('length');
    expect(r.usage?.completion_tokens).toBeLessThanOrEqual(3);
  });

  it('streams the same text, then a finish chunk and a usage chunk', async () => {
    const whole = await sim.complete(call({}));
    const chunks: ChatCompletionChunk[] = [];
    for await (const c of sim.stream(call({ stream: true }))) chunks.push(c);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(
      whole.choices[0]?.message.content,
    );
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('stop');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: whole.usage });
  });

  const weather = {
    type: 'function',
    function: {
      name: 'get_weather',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string' }, units: { type: 'string', enum: ['C', 'F'] } },
        required: ['city', 'units'],
      },
    },
  };

  it('calls a required tool with schema-shaped arguments, as JSON and streamed', async () => {
    const body = {
      messages: [{ role: 'user' as const, content: 'hello there' }],
      tools: [weather],
      tool_choice: 'required',
    };
    const r = await sim.complete(call(body));
    const c = r.choices[0]!;
    expect(c.finish_reason).toBe('tool_calls');
    expect(c.message.content).toBeNull();
    const tc = c.message.tool_calls?.[0] as {
      id: string;
      type: string;
      function: { name: string; arguments: string };
    };
    expect(tc).toMatchObject({ type: 'function', function: { name: 'get_weather' } });
    expect(JSON.parse(tc.function.arguments)).toEqual({ city: 'simulated', units: 'C' });
    expect(r.usage?.completion_tokens).toBeGreaterThan(0);

    const chunks: ChatCompletionChunk[] = [];
    for await (const ch of sim.stream(call({ ...body, stream: true }))) chunks.push(ch);
    type D = { index: number; id?: string; function?: { name?: string; arguments?: string } };
    const deltas = chunks.flatMap((ch) => (ch.choices[0]?.delta.tool_calls ?? []) as D[]);
    expect(deltas[0]).toMatchObject({
      index: 0,
      id: tc.id,
      function: { name: 'get_weather', arguments: '' },
    });
    expect(deltas.map((d) => d.function?.arguments ?? '').join('')).toBe(tc.function.arguments);
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('tool_calls');
    expect(chunks.at(-1)?.usage).toEqual(r.usage);
  });

  it('returns n choices, cuts at stop sequences and reports logprobs (JSON and streamed)', async () => {
    const r = await sim.complete(call({ n: 3, stop: [';', 'no real'], logprobs: true, top_logprobs: 2 }));
    expect(r.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    for (const c of r.choices) {
      expect(c.message.content).not.toContain('no real');
      expect(c.message.content).toMatch(/simulated provider$/);
      const lp = c.logprobs as {
        content: Array<{ token: string; logprob: number; top_logprobs: unknown[] }>;
      };
      expect(lp.content.map((t) => t.token).join('')).toBe(c.message.content);
      expect(lp.content.every((t) => t.logprob <= 0 && t.top_logprobs.length === 2)).toBe(true);
    }
    const single = await sim.complete(call({}));
    expect(r.usage!.completion_tokens).toBeGreaterThan(single.usage!.completion_tokens);

    const chunks: ChatCompletionChunk[] = [];
    for await (const ch of sim.stream(call({ n: 2, logprobs: true, stream: true }))) chunks.push(ch);
    const textOf = (i: number) =>
      chunks
        .filter((ch) => ch.choices[0]?.index === i)
        .map((ch) => ch.choices[0]?.delta.content ?? '')
        .join('');
    expect(textOf(0)).toMatch(/\(choice 1 of 2\)$/);
    expect(textOf(1)).toMatch(/\(choice 2 of 2\)$/);
    const streamedTokens = chunks
      .filter((ch) => ch.choices[0]?.index === 1)
      .flatMap(
        (ch) => (ch.choices[0]?.logprobs as { content?: Array<{ token: string }> } | null)?.content ?? [],
      )
      .map((t) => t.token)
      .join('');
    expect(streamedTokens).toBe(textOf(1));
  });

  it('refuses what OpenAI refuses: tool_choice without tools, a named tool that is not there, bad n', async () => {
    await expect(sim.complete(call({ tool_choice: 'required' }))).rejects.toMatchObject({
      reason: 'client_error',
    });
    await expect(
      sim.complete(call({ tools: [weather], tool_choice: { type: 'function', function: { name: 'nope' } } })),
    ).rejects.toMatchObject({ reason: 'client_error', status: 400 });
    await expect(sim.complete(call({ n: 0 }))).rejects.toMatchObject({ reason: 'client_error' });
    await expect(sim.complete(call({ top_logprobs: 3 }))).rejects.toMatchObject({ reason: 'client_error' });
  });

  it('stops when aborted', async () => {
    const slow = createSimulatedAdapter({
      name: 'sim',
      type: 'simulated',
      simulated: { latencyMs: 60_000, tokensPerSecond: 1 },
    });
    const ac = new AbortController();
    const p = slow.complete({ ...call({}), signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toMatchObject({ name: 'ProviderError' });
  });
});
