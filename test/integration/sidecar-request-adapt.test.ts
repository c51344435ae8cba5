/**
 * `models[].request` through the sidecar with the OpenAI SDK: the upstream of an adapted model gets the adapted body
 * (parameter dropped, cap applied, system prefix added), JSON and streamed, and other models get the request as sent.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { behave, type Fixture, startOpenAIFixture } from '../fixtures/providers/index.js';
import { COMPLEX_PROMPT, routeConfig, SIMPLE_PROMPT } from '../helpers/config.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';

let reasoningUp: Fixture;
let plainUp: Fixture;
let sidecar: TestSidecar;
let client: OpenAI;

beforeAll(async () => {
  reasoningUp = await startOpenAIFixture();
  plainUp = await startOpenAIFixture();
  reasoningUp.fallback(behave.ok('adapted answer', { prompt: 10, completion: 5 }));
  plainUp.fallback(behave.ok('plain answer', { prompt: 10, completion: 5 }));
  sidecar = await startTestSidecar(
    routeConfig({
      upstreams: [
        { name: 'reasoning-up', baseURL: reasoningUp.baseURL },
        { name: 'plain-up', baseURL: plainUp.baseURL },
      ],
      cheap: [{ name: 'plain-model', upstreams: ['plain-up'] }],
      premium: [
        {
          name: 'reasoning-model',
          upstreams: ['reasoning-up'],
          request: {
            drop: ['temperature', 'top_p'],
            maxTokensCap: 256,
            systemPrefix: 'Think carefully.',
            defaults: { reasoning_effort: 'low' },
          },
        },
      ],
    }),
  );
  client = new OpenAI({ baseURL: sidecar.baseURL, apiKey: 'unused', maxRetries: 0 });
});

afterAll(async () => {
  await sidecar?.close();
  await reasoningUp?.close();
  await plainUp?.close();
});

const lastBody = (f: Fixture) => f.requests.at(-1)!.body as Record<string, unknown>;

describe('per-model request adaptation', () => {
  it("the adapted model's upstream gets the adapted body; the client's request is otherwise intact", async () => {
    const r = await client.chat.completions.create({
      model: 'auto',
      temperature: 0.9,
      top_p: 0.5,
      max_tokens: 4000,
      messages: [{ role: 'user', content: COMPLEX_PROMPT }],
    });
    expect(r.choices[0]!.message.content).toBe('adapted answer');
    const body = lastBody(reasoningUp);
    expect(body).not.toHaveProperty('temperature');
    expect(body).not.toHaveProperty('top_p');
    expect(body['max_tokens']).toBe(256);
    expect(body['reasoning_effort']).toBe('low');
    expect(body['model']).toBe('reasoning-model');
    const messages = body['messages'] as Array<{ role: string; content: string }>;
    expect(messages[0]).toEqual({ role: 'system', content: 'Think carefully.' });
    expect(messages[1]).toEqual({ role: 'user', content: COMPLEX_PROMPT });
  });

  it('applies to streams too', async () => {
    const stream = await client.chat.completions.create({
      model: 'auto',
      stream: true,
      temperature: 0.3,
      messages: [{ role: 'user', content: COMPLEX_PROMPT }],
    });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    expect(text).toBe('adapted answer');
    const body = lastBody(reasoningUp);
    expect(body['stream']).toBe(true);
    expect(body).not.toHaveProperty('temperature');
    expect(body['max_tokens']).toBe(256);
  });

  it('leaves models without an adaptation alone', async () => {
    const r = await client.chat.completions.create({
      model: 'auto',
      temperature: 0.9,
      messages: [{ role: 'user', content: SIMPLE_PROMPT }],
    });
    expect(r.choices[0]!.message.content).toBe('plain answer');
    const body = lastBody(plainUp);
    expect(body['temperature']).toBe(0.9);
    expect(body).not.toHaveProperty('max_tokens');
    expect((body['messages'] as unknown[]).length).toBe(1);
  });
});
