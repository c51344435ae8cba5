import { describe, expect, it } from 'vitest';
import type { ChatCompletionChunk, ChatCompletionRequest } from '../api/openai.js';
import { createSimulatedAdapter, sampleForSchema } from './simulated.js';

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
