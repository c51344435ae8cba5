import { describe, expect, it } from 'vitest';
import { modelEntry } from '../api/modelroute.js';
import type { ChatCompletionRequest } from '../api/openai.js';
import { adaptRequest, describeAdaptation } from './request-adapt.js';

const base: ChatCompletionRequest = {
  model: 'auto',
  messages: [{ role: 'user', content: 'hi' }],
  temperature: 0.7,
  max_tokens: 5000,
};

describe('adaptRequest', () => {
  it('returns the body itself without an adaptation', () => {
    expect(adaptRequest(base, undefined)).toBe(base);
  });

  it('drops parameters a model rejects, without touching the input', () => {
    const out = adaptRequest(base, { drop: ['temperature', 'top_p'] });
    expect(out).not.toHaveProperty('temperature');
    expect(base.temperature).toBe(0.7);
    expect(out.max_tokens).toBe(5000);
  });

  it('sets defaults only where the request left them out', () => {
    const out = adaptRequest({ ...base, temperature: null }, { defaults: { temperature: 0.2, top_p: 0.9 } });
    expect(out.temperature).toBe(0.2);
    expect(out.top_p).toBe(0.9);
    expect(adaptRequest(base, { defaults: { temperature: 0.2 } }).temperature).toBe(0.7);
  });

  it('caps max_tokens and max_completion_tokens, and sets the cap when the client set no limit', () => {
    expect(adaptRequest(base, { maxTokensCap: 1024 }).max_tokens).toBe(1024);
    expect(adaptRequest({ ...base, max_tokens: 100 }, { maxTokensCap: 1024 }).max_tokens).toBe(100);
    const mct = adaptRequest(
      { model: 'x', messages: base.messages, max_completion_tokens: 9000 },
      { maxTokensCap: 2000 },
    );
    expect(mct.max_completion_tokens).toBe(2000);
    expect(mct).not.toHaveProperty('max_tokens');
    expect(adaptRequest({ model: 'x', messages: base.messages }, { maxTokensCap: 2000 }).max_tokens).toBe(
      2000,
    );
  });

  it('prefixes an existing system prompt, or adds one first', () => {
    const added = adaptRequest(base, { systemPrefix: 'Answer in JSON.' });
    expect(added.messages[0]).toEqual({ role: 'system', content: 'Answer in JSON.' });
    expect(added.messages[1]).toBe(base.messages[0]);
    const withSystem: ChatCompletionRequest = {
      model: 'x',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'hi' },
      ],
    };
    const prefixed = adaptRequest(withSystem, { systemPrefix: 'Answer in JSON.' });
    expect(prefixed.messages).toHaveLength(2);
    expect(prefixed.messages[0]!.content).toBe('Answer in JSON.\n\nBe brief.');
    expect(withSystem.messages[0]!.content).toBe('Be brief.');
  });

  it('is described for explain, one change per line', () => {
    expect(
      describeAdaptation({
        systemPrefix: 'abc',
        defaults: { temperature: 0 },
        maxTokensCap: 10,
        drop: ['seed'],
      }),
    ).toEqual(['system prefix (3 chars)', 'default temperature=0', 'cap max_tokens at 10', 'drop seed']);
  });
});

describe('models[].request schema', () => {
  const entry = (request: unknown) =>
    modelEntry.safeParse({
      name: 'm',
      targets: [{ provider: 'p' }],
      pricing: { inputPerMTok: 1, outputPerMTok: 1 },
      contextWindow: 1000,
      request,
    });

  it('accepts the documented shape', () => {
    expect(entry({ drop: ['temperature'], maxTokensCap: 100, defaults: { top_p: 0.5 } }).success).toBe(true);
  });

  it('refuses unknown parameters and fields, naming them', () => {
    const bad = entry({ drop: ['prompt'] });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['request', 'drop', 0]);
    const unknown = entry({ dropp: ['temperature'] });
    expect(unknown.success).toBe(false);
    expect(unknown.error?.issues[0]?.code).toBe('unrecognized_keys');
  });
});
