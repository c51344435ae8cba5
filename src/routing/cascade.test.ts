import { describe, expect, it } from 'vitest';
import type { ModelRouteSpec } from '../api/modelroute.js';
import type { ChatCompletion, ResponseFormat } from '../api/openai.js';
import {
  answerOf,
  type CascadeCheck,
  canEscalate,
  checkAnswer,
  checkForCache,
  checkServedAnswer,
  isHedging,
  isRefusal,
  logprobStats,
  nextEscalation,
  validateJson,
} from './cascade.js';
import type { EscalationStep } from './types.js';

const ALL: CascadeCheck[] = ['empty', 'refusal', 'json'];
const text = { response_format: null };

describe('empty check', () => {
  it('fails on no content and no tool calls', () => {
    expect(checkAnswer({ content: '' }, text, ALL)).toEqual({
      ok: false,
      check: 'empty',
      detail: 'no content and no tool calls',
    });
    expect(checkAnswer({ content: null }, text, ALL)).toMatchObject({ ok: false, check: 'empty' });
    expect(checkAnswer({ content: '  \n ' }, text, ALL)).toMatchObject({ ok: false, check: 'empty' });
  });

  it('passes tool calls without content, and real content', () => {
    expect(checkAnswer({ content: null, tool_calls: [{ id: 'c1' }] }, text, ALL)).toEqual({ ok: true });
    expect(checkAnswer({ content: 'Paris.' }, text, ALL)).toEqual({ ok: true });
  });

  it('runs only the configured checks', () => {
    expect(checkAnswer({ content: '' }, text, ['refusal'])).toEqual({ ok: true });
    expect(checkAnswer({ content: "I'm sorry, but I can't help with that." }, text, ['empty'])).toEqual({
      ok: true,
    });
  });
});

describe('refusal check', () => {
  const refusals = [
    "I'm sorry, but I can't help with that.",
    'I’m sorry, but I cannot assist with this request.',
    'Sorry, I can’t help with that.',
    'I cannot comply with this request.',
    'I am unable to answer that question.',
    'As an AI language model, I cannot browse the internet.',
    'Unfortunately, I am unable to help with this.',
    "I don't know.",
    'I do not know the answer.',
    "I'm not sure.",
    'No idea.',
  ];
  const answers = [
    'The capital of France is Paris.',
    "I can't help but notice that your loop never terminates: i is never incremented.",
    "I don't know the exact figure, but the population of Lyon is roughly 520,000 in the city proper and over 2 million in the metro area.",
    'Here is the code. Note: the library cannot handle streams, so I read the file into memory first.',
    `${'Step 1: parse the input. '.repeat(10)}I'm sorry, but I can't help with the last part without the schema.`,
    'Sorry for the confusion earlier — the correct answer is 42.',
    'As an AI assistant focused on code, here is a refactored version of your function:',
    'I am unable to reproduce the bug with version 2.1; it appears fixed there. Here is why: ...',
    'Unknown variables should be initialised before use; here is the fixed code.',
  ];

  it.each(refusals)('flags %j', (a) => {
    expect(isRefusal(a)).toBe(true);
    expect(checkAnswer({ content: a }, text, ALL)).toMatchObject({ ok: false, check: 'refusal' });
  });

  it.each(answers)('passes %j', (a) => {
    expect(isRefusal(a)).toBe(false);
    expect(checkAnswer({ content: a }, text, ALL)).toEqual({ ok: true });
  });

  it("flags OpenAI's structured refusal field", () => {
    expect(checkAnswer({ content: null, refusal: 'I cannot do that' }, text, ALL)).toEqual({
      ok: false,
      check: 'refusal',
      detail: 'model returned a refusal',
    });
  });

  it('never puts answer text in the detail', () => {
    const r = checkAnswer({ content: "I'm sorry, but I can't help with SECRET-42." }, text, ALL);
    expect(JSON.stringify(r)).not.toContain('SECRET');
  });
});

describe('json check', () => {
  const obj: ResponseFormat = { type: 'json_object' };
  const schema: ResponseFormat = {
    type: 'json_schema',
    json_schema: {
      name: 'person',
      schema: {
        type: 'object',
        properties: { name: { type: 'string' }, age: { type: 'integer', minimum: 0 } },
        required: ['name', 'age'],
        additionalProperties: false,
      },
    },
  };

  it('json_object wants a JSON object', () => {
    expect(validateJson('{"a":1}', obj)).toBeUndefined();
    expect(validateJson('not json', obj)).toBe('content is not valid JSON');
    expect(validateJson('[1,2]', obj)).toBe('content is not a JSON object');
    expect(validateJson('null', obj)).toBe('content is not a JSON object');
    expect(checkAnswer({ content: '```json\n{"a":1}\n```' }, { response_format: obj }, ALL)).toMatchObject({
      ok: false,
      check: 'json',
    });
  });

  it('json_schema validates against the schema', () => {
    expect(validateJson('{"name":"Ada","age":36}', schema)).toBeUndefined();
    expect(validateJson('{"name":"Ada"}', schema)).toContain('age');
    expect(validateJson('{"name":"Ada","age":-1}', schema)).toContain('age');
    expect(validateJson('{"name":"Ada","age":36,"extra":true}', schema)).toBeDefined();
    expect(validateJson('{"name":"Ada","age":3.5}', schema)).toBeDefined();
    expect(checkAnswer({ content: '{"name":"Ada","age":36}' }, { response_format: schema }, ALL)).toEqual({
      ok: true,
    });
  });

  it('text format and a schema-less json_schema need nothing / only valid JSON', () => {
    expect(validateJson('anything', { type: 'text' })).toBeUndefined();
    expect(validateJson('anything', null)).toBeUndefined();
    const noSchema: ResponseFormat = { type: 'json_schema', json_schema: { name: 'x' } };
    expect(validateJson('[1]', noSchema)).toBeUndefined();
    expect(validateJson('nope', noSchema)).toBe('content is not valid JSON');
  });

  it('tool calls without content are not held to the response format', () => {
    expect(checkAnswer({ content: null, tool_calls: [{}] }, { response_format: obj }, ALL)).toEqual({
      ok: true,
    });
  });
});

describe('nextEscalation', () => {
  const steps: EscalationStep[] = [
    { tierIndex: 1, tierName: 'standard', models: [] },
    { tierIndex: 2, tierName: 'premium', models: [] },
  ];

  it('walks the escalation list up to maxEscalations', () => {
    expect(nextEscalation({ escalation: steps }, 0, 1)?.tierName).toBe('standard');
    expect(nextEscalation({ escalation: steps }, 1, 1)).toBeUndefined();
    expect(nextEscalation({ escalation: steps }, 1, 2)?.tierName).toBe('premium');
    expect(nextEscalation({ escalation: steps }, 2, 4)).toBeUndefined();
  });

  it('never escalates with maxEscalations 0 or nothing above', () => {
    expect(nextEscalation({ escalation: steps }, 0, 0)).toBeUndefined();
    expect(nextEscalation({ escalation: [] }, 0, 3)).toBeUndefined();
  });
});

describe('hedging check', () => {
  const hedges = [
    "I'm not sure.",
    "I'm not entirely sure, it could be either.",
    "I don't have enough information to answer that.",
    'I do not have access to real-time data, so I cannot say.',
    "It's hard to say without more context.",
    'As of my last knowledge update, I cannot confirm this.',
    'I think it might be 42, but I may be wrong.',
    'I cannot verify that claim.',
  ];
  const answers = [
    'The capital of France is Paris.',
    "I'm not sure why the test fails, so I traced it: the fixture closes the socket before the last chunk. " +
      'Move the close into afterEach and await it; with that change the suite passes on every run I tried, and the ' +
      'flaky timeout disappears because the server no longer races the client. Here is the diff: ...',
    `${'The function reads the file, parses each line and sums the values. '.repeat(8)}I may be wrong about edge cases.`,
    'Paris. I think it might be worth visiting in spring.',
  ];
  it.each(hedges)('flags %j', (a) => {
    expect(isHedging(a)).toBe(true);
    expect(checkAnswer({ content: a }, text, ['hedging'])).toEqual({
      ok: false,
      check: 'hedging',
      detail: 'answer hedges instead of answering',
    });
  });
  it.each(answers)('passes %j', (a) => {
    expect(isHedging(a)).toBe(false);
    expect(checkAnswer({ content: a }, text, ['hedging'])).toEqual({ ok: true });
  });
  it('does not apply to tool calls', () => {
    expect(checkAnswer({ content: "I'm not sure.", tool_calls: [{}] }, text, ['hedging'])).toEqual({
      ok: true,
    });
  });
});

describe('logprobs check', () => {
  const lp = (...xs: number[]) => ({ content: xs.map((logprob, i) => ({ token: `t${i}`, logprob })) });

  it('reads mean and minimum over the tokens that have a logprob', () => {
    expect(logprobStats(lp(-0.5, -1.5, -1))).toEqual({ mean: -1, min: -1.5, tokens: 3 });
    expect(logprobStats({ content: [{ token: 'a' }, { token: 'b', logprob: -2 }] })).toEqual({
      mean: -2,
      min: -2,
      tokens: 1,
    });
    expect(logprobStats(undefined)).toBeUndefined();
    expect(logprobStats({ content: [] })).toBeUndefined();
    expect(logprobStats({ content: null })).toBeUndefined();
  });

  it('escalates on a low mean, with the default threshold and a route threshold', () => {
    const unsure = { content: 'Paris', logprobs: lp(-2, -3) };
    expect(checkAnswer(unsure, text, ['logprobs'])).toEqual({
      ok: false,
      check: 'logprobs',
      detail: 'mean token logprob -2.50 below -1.00 over 2 tokens',
    });
    expect(checkAnswer(unsure, text, ['logprobs'], { logprobs: { minMean: -3 } })).toEqual({ ok: true });
    expect(checkAnswer({ content: 'Paris', logprobs: lp(-0.1, -0.2) }, text, ['logprobs'])).toEqual({
      ok: true,
    });
  });

  it('escalates on one very unlikely token when minToken is set', () => {
    const a = { content: 'Paris is 42', logprobs: lp(-0.01, -0.02, -6) };
    expect(checkAnswer(a, text, ['logprobs'], { logprobs: { minMean: -5 } })).toEqual({ ok: true });
    expect(checkAnswer(a, text, ['logprobs'], { logprobs: { minMean: -5, minToken: -4 } })).toEqual({
      ok: false,
      check: 'logprobs',
      detail: 'a token logprob of -6.00 is below -4.00',
    });
  });

  it('passes answers without logprobs', () => {
    expect(checkAnswer({ content: 'Paris' }, text, ['logprobs'])).toEqual({ ok: true });
  });
});

describe('answerOf', () => {
  it('reads the first choice, with its logprobs; no choice is an empty answer', () => {
    const c = completion("I'm sorry, but I can't help with that.");
    c.choices[0]!.logprobs = { content: [{ token: 'x', logprob: -3 }] };
    expect(answerOf(c)).toMatchObject({
      content: c.choices[0]!.message.content,
      logprobs: c.choices[0]!.logprobs,
    });
    expect(checkAnswer(answerOf({ ...c, choices: [] }), text, ['empty'])).toMatchObject({ ok: false });
  });
});

function completion(content: string): ChatCompletion {
  return {
    id: 'c',
    object: 'chat.completion',
    created: 0,
    model: 'm',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
  };
}

describe('canEscalate', () => {
  const above: EscalationStep[] = [{ tierIndex: 2, tierName: 'premium', models: [] }];
  const on = { enabled: true, maxEscalations: 1 };
  it('needs the cascade on, an escalation allowed and a tier above in the list', () => {
    expect(canEscalate(on, above, 0)).toBe(true);
    expect(canEscalate(on, above, 2)).toBe(false);
    expect(canEscalate(on, [], 0)).toBe(false);
    expect(canEscalate({ ...on, enabled: false }, above, 0)).toBe(false);
    expect(canEscalate({ ...on, maxEscalations: 0 }, above, 0)).toBe(false);
  });
});

describe('checkForCache (an answer the cascade did not check, before the cache serves it to every caller)', () => {
  const tiers = [
    { name: 'cheap', models: [] },
    { name: 'premium', models: [] },
  ];
  const spec = (cascade: Partial<ModelRouteSpec['cascade']>) => ({
    tiers,
    cascade: { enabled: true, checks: ALL, maxEscalations: 1, ...cascade },
  });
  const refusal = completion("I'm sorry, but I can't help with that.");
  const fine = completion('Lima is the capital of Peru.');

  it('fails what a JSON answer from a tier with one above would have escalated', () => {
    expect(checkForCache(refusal, text, spec({}), 0)).toMatchObject({ ok: false, check: 'refusal' });
    expect(checkForCache(fine, text, spec({}), 0)).toEqual({ ok: true });
    const json = { response_format: { type: 'json_object' } as ResponseFormat };
    expect(checkForCache(fine, json, spec({}), 0)).toMatchObject({ ok: false, check: 'json' });
  });

  it('passes anything nobody could escalate: cascade off, no escalations, the top tier, no tier', () => {
    expect(checkForCache(refusal, text, spec({ enabled: false }), 0)).toEqual({ ok: true });
    expect(checkForCache(refusal, text, spec({ maxEscalations: 0 }), 0)).toEqual({ ok: true });
    expect(checkForCache(refusal, text, spec({}), 1)).toEqual({ ok: true });
    expect(checkForCache(refusal, text, spec({}), -1)).toEqual({ ok: true });
  });

  it('fails what it cannot check: the judge always, logprobs when the request asked for them', () => {
    const judged = spec({
      checks: ['empty', 'judge'],
      judge: { model: 'j', minScore: 0.5, timeoutMs: 1000 },
    });
    expect(checkForCache(fine, text, judged, 0)).toMatchObject({ ok: false, check: 'judge' });
    const lp = spec({ checks: ['empty', 'logprobs'] });
    expect(checkForCache(fine, text, lp, 0)).toEqual({ ok: true });
    expect(checkForCache(fine, { ...text, logprobs: true }, lp, 0)).toMatchObject({
      ok: false,
      check: 'logprobs',
    });
  });
});

describe('checkServedAnswer (the last step: recorded, never escalated)', () => {
  const cascade = (c: Partial<ModelRouteSpec['cascade']>) => ({ enabled: true, checks: ALL, ...c });
  const refusal = completion("I'm sorry, but I can't help with that.");
  const fine = completion('Lima is the capital of Peru.');

  it("runs the route's checks and says which failed", () => {
    expect(checkServedAnswer(refusal, text, cascade({}))).toEqual({
      ok: false,
      checked: true,
      check: 'refusal',
      detail: 'answer reads as a refusal or non-answer',
    });
    expect(checkServedAnswer(fine, text, cascade({}))).toEqual({ ok: true, checked: true });
    const json = { response_format: { type: 'json_object' } as ResponseFormat };
    expect(checkServedAnswer(fine, json, cascade({}))).toMatchObject({
      ok: false,
      checked: true,
      check: 'json',
    });
  });

  it('runs nothing for a cascade that is off or lists no checks', () => {
    expect(checkServedAnswer(refusal, text, cascade({ enabled: false }))).toEqual({
      ok: true,
      checked: false,
    });
    expect(checkServedAnswer(refusal, text, cascade({ checks: [] }))).toEqual({ ok: true, checked: false });
  });

  it('does not ask the judge: an answer the local checks pass is unchecked, one they fail is failed', () => {
    expect(checkServedAnswer(fine, text, cascade({ checks: ['judge'] }))).toEqual({
      ok: true,
      checked: false,
    });
    expect(checkServedAnswer(fine, text, cascade({ checks: ['refusal', 'judge'] }))).toEqual({
      ok: true,
      checked: false,
    });
    expect(checkServedAnswer(refusal, text, cascade({ checks: ['refusal', 'judge'] }))).toMatchObject({
      ok: false,
      checked: true,
      check: 'refusal',
    });
  });
});
