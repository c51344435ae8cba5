import { describe, expect, it } from 'vitest';
import { modelEntry } from '../api/modelroute.js';
import type { ChatCompletionRequest } from '../api/openai.js';
import {
  adaptRequest,
  describeAdaptation,
  isOpenAIReasoningModel,
  isOpenAIResponsesOnlyModel,
  targetAdaptation,
} from './request-adapt.js';

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

describe('the output-limit parameter (maxTokensParam)', () => {
  const msgs = base.messages;
  const mct = { maxTokensParam: 'max_completion_tokens' } as const;

  it("injects the cap under the model's parameter", () => {
    const out = adaptRequest({ model: 'o4-mini', messages: msgs }, { ...mct, maxTokensCap: 8192 });
    expect(out.max_completion_tokens).toBe(8192);
    expect(out).not.toHaveProperty('max_tokens');
  });

  it("renames the client's max_tokens, capped, and keeps an explicit max_completion_tokens", () => {
    const renamed = adaptRequest(
      { model: 'o3', messages: msgs, max_tokens: 9000 },
      { ...mct, maxTokensCap: 4000 },
    );
    expect(renamed.max_completion_tokens).toBe(4000);
    expect(renamed).not.toHaveProperty('max_tokens');
    const both = adaptRequest(
      { model: 'o3', messages: msgs, max_tokens: 10, max_completion_tokens: 300 },
      mct,
    );
    expect(both.max_completion_tokens).toBe(300);
    expect(both).not.toHaveProperty('max_tokens');
    const input = { model: 'o3', messages: msgs, max_tokens: 10 };
    adaptRequest(input, mct);
    expect(input).toEqual({ model: 'o3', messages: msgs, max_tokens: 10 });
  });

  it('renames the other way for a server that only takes max_tokens', () => {
    const out = adaptRequest(
      { model: 'old', messages: msgs, max_completion_tokens: 50 },
      { maxTokensParam: 'max_tokens' },
    );
    expect(out.max_tokens).toBe(50);
    expect(out).not.toHaveProperty('max_completion_tokens');
  });

  it('knows the OpenAI reasoning families by model id', () => {
    for (const id of [
      'o1',
      'o1-mini',
      'o3-pro',
      'o4-mini-2025-04-16',
      'gpt-5',
      'gpt-5-mini',
      'gpt-5.1',
      'openai/o3',
    ])
      expect(isOpenAIReasoningModel(id), id).toBe(true);
    for (const id of [
      'gpt-4o-mini',
      'gpt-4.1',
      'gpt-50x',
      'omni-moderation-latest',
      'llama3.2',
      'prod-deploy',
    ])
      expect(isOpenAIReasoningModel(id), id).toBe(false);
  });

  it('is set per target for reasoning models on openai and azure-openai providers only', () => {
    const o4 = { name: 'o4-mini', request: { maxTokensCap: 8192 } };
    expect(targetAdaptation('openai', o4, 'o4-mini')).toEqual({ ...o4.request, ...mct });
    // An Azure deployment named anything: the entry's name tells the family.
    expect(targetAdaptation('azure-openai', { name: 'o3-mini' }, 'prod-reasoning')).toEqual(mct);
    expect(targetAdaptation('azure-openai', { name: 'reasoner' }, 'gpt-5-mini')).toEqual(mct);
    expect(targetAdaptation('openai', { name: 'gpt-4o-mini' }, 'gpt-4o-mini')).toBeUndefined();
    expect(targetAdaptation('openai-compatible', o4, 'o4-mini')).toBe(o4.request);
    expect(targetAdaptation('anthropic', { name: 'o4-mini' }, 'claude')).toBeUndefined();
    const own = { name: 'o3', request: { maxTokensParam: 'max_tokens' as const } };
    expect(targetAdaptation('openai', own, 'o3')).toBe(own.request);
  });
});

describe('the upstream API (api)', () => {
  it('knows the Responses-only OpenAI models by id', () => {
    for (const id of [
      'gpt-5-codex',
      'gpt-5.1-codex',
      'gpt-5.1-codex-mini',
      'gpt-5-pro',
      'gpt-5-pro-2025-10-06',
      'o3-pro',
      'o1-pro',
      'codex-mini-latest',
      'openai/o3-pro',
    ])
      expect(isOpenAIResponsesOnlyModel(id), id).toBe(true);
    for (const id of ['gpt-5', 'gpt-5-mini', 'o3', 'o4-mini', 'gpt-4o', 'gpt-5-chat-latest', 'codex'])
      expect(isOpenAIResponsesOnlyModel(id), id).toBe(false);
  });

  it('defaults to responses for those on openai providers, unless the entry says', () => {
    expect(targetAdaptation('openai', { name: 'codex' }, 'gpt-5-codex')).toEqual({
      api: 'responses',
      maxTokensParam: 'max_completion_tokens',
    });
    expect(
      targetAdaptation(
        'openai',
        { name: 'gpt-5-codex', request: { api: 'chat-completions' } },
        'gpt-5-codex',
      ),
    ).toMatchObject({ api: 'chat-completions' });
    // Another server's model of that name is its own business.
    expect(targetAdaptation('openai-compatible', { name: 'gpt-5-codex' }, 'gpt-5-codex')).toBeUndefined();
    expect(targetAdaptation('openai', { name: 'gpt-4o' }, 'gpt-4o')).toBeUndefined();
    expect(describeAdaptation({ api: 'responses' })).toEqual(['call the Responses API']);
  });

  it('is not a request parameter: the body is left as it was', () => {
    expect(adaptRequest(base, { api: 'responses' })).toEqual(base);
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
    expect(entry({ api: 'responses' }).success).toBe(true);
    expect(entry({ api: 'completions' }).error?.issues[0]?.path).toEqual(['request', 'api']);
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
