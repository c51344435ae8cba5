import { describe, expect, it } from 'vitest';
import type { ChatCompletionRequest } from '../api/openai.js';
import { compileManifests, parseManifests } from '../config/manifests.js';
import { isTiermeshError, type TiermeshError } from '../errors.js';
import { canThink, lacking, requestNeeds, thinkingStyle } from './capabilities.js';
import { decide, stepsBelow } from './decide.js';
import { explainDecision } from './explain.js';

const snapshot = compileManifests(
  parseManifests(`
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default }
spec:
  providers:
    - { name: oai, type: openai-compatible, baseURL: "http://127.0.0.1:1" }
    - { name: claude, type: anthropic, apiKey: { env: K } }
  models:
    - { name: text-only, targets: [{ provider: oai }], pricing: { inputPerMTok: 0.1, outputPerMTok: 0.1 }, contextWindow: 100000,
        capabilities: { vision: false, tools: false } }
    - { name: small-vision, targets: [{ provider: oai }], pricing: { inputPerMTok: 0.2, outputPerMTok: 0.2 }, contextWindow: 100000,
        capabilities: { jsonSchema: false } }
    - { name: mid, targets: [{ provider: claude }], pricing: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 100000 }
    - { name: big, targets: [{ provider: claude }, { provider: oai }], pricing: { inputPerMTok: 5, outputPerMTok: 5 }, contextWindow: 100000,
        capabilities: { streaming: false } }
  tiers:
    - { name: cheap, models: [text-only, small-vision] }
    - { name: standard, models: [mid] }
    - { name: premium, models: [big] }
`),
);
const spec = snapshot.routes[0]!.spec;
const byName = (n: string) => spec.models.find((m) => m.name === n)!;

const req = (over: Partial<ChatCompletionRequest> & Record<string, unknown> = {}): ChatCompletionRequest => ({
  model: 'auto',
  messages: [{ role: 'user', content: 'hello' }],
  ...over,
});
const image = {
  role: 'user' as const,
  content: [
    { type: 'text', text: 'what is this' },
    { type: 'image_url', image_url: { url: 'https://example.invalid/a.png' } },
  ],
};

function thrown(f: () => unknown): TiermeshError {
  try {
    f();
  } catch (e) {
    if (isTiermeshError(e)) return e;
    throw e;
  }
  throw new Error('did not throw');
}

describe('requestNeeds', () => {
  it('needs nothing for a plain text request', () => {
    expect(requestNeeds(req())).toEqual([]);
  });

  it('derives each need from request fields, naming the first field that asked', () => {
    const needs = requestNeeds(
      req({
        messages: [
          image,
          { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function' }] },
          { role: 'tool', content: '42', tool_call_id: 'c' },
          { role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'x', format: 'wav' } }] },
        ],
        tools: [{ type: 'function', function: { name: 'f' } }],
        response_format: { type: 'json_schema', json_schema: { name: 's', schema: { type: 'object' } } },
        stream: true,
      }),
    );
    expect(needs).toEqual([
      { capability: 'tools', param: 'tools' },
      { capability: 'json_schema', param: 'response_format' },
      { capability: 'streaming', param: 'stream' },
      { capability: 'vision', param: 'messages[0].content[1]' },
      { capability: 'image_urls', param: 'messages[0].content[1]' },
      { capability: 'other_parts', param: 'messages[3].content[0]' },
    ]);
  });

  it('sees what changes the answer: n, logprobs, blank stops, audio output, images in tool results', () => {
    expect(
      requestNeeds(req({ n: 9, logprobs: true, stop: ['END', '\n'], modalities: ['text', 'audio'] })),
    ).toEqual([
      { capability: 'choices', param: 'n' },
      { capability: 'many_choices', param: 'n' },
      { capability: 'logprobs', param: 'logprobs' },
      { capability: 'blank_stop', param: 'stop' },
      { capability: 'audio_output', param: 'modalities' },
    ]);
    expect(requestNeeds(req({ n: 1, logprobs: false, stop: ['', 'END'] }))).toEqual([]);
    expect(requestNeeds(req({ top_logprobs: 2 }))).toEqual([
      { capability: 'logprobs', param: 'top_logprobs' },
    ]);
    const dataImage = { type: 'image_url', image_url: { url: 'data:image/png;base64,AA==' } };
    expect(
      requestNeeds(
        req({
          messages: [
            { role: 'user', content: [dataImage] },
            { role: 'tool', tool_call_id: 'c', content: [dataImage] },
          ],
        }),
      ),
    ).toEqual([
      { capability: 'vision', param: 'messages[0].content[0]' },
      { capability: 'tools', param: 'messages[1]' },
      { capability: 'tool_images', param: 'messages[1].content[0]' },
    ]);
  });

  it('sees legacy functions in the request and in function messages', () => {
    expect(requestNeeds(req({ functions: [{ name: 'f' }] }))).toEqual([
      { capability: 'legacy_functions', param: 'functions' },
    ]);
    expect(requestNeeds(req({ messages: [{ role: 'function', name: 'f', content: '1' }] }))).toEqual([
      { capability: 'legacy_functions', param: 'messages[0]' },
    ]);
  });
});

describe('lacking', () => {
  it('takes an absent capability as supported and a false one as missing', () => {
    const vision = [{ capability: 'vision' as const, param: 'm' }];
    expect(lacking(spec, byName('small-vision'), vision)).toBeUndefined();
    expect(lacking(spec, byName('text-only'), vision)).toBe('vision');
  });

  it('declared tools: false also rules out the legacy functions API', () => {
    expect(lacking(spec, byName('text-only'), [{ capability: 'legacy_functions', param: 'functions' }])).toBe(
      'legacy_functions',
    );
  });

  it('a model served only by Anthropic cannot give n > 1 choices or logprobs; one other target is enough', () => {
    const n = [{ capability: 'choices' as const, param: 'n' }];
    const lp = [{ capability: 'logprobs' as const, param: 'logprobs' }];
    expect(lacking(spec, byName('mid'), n)).toBe('choices');
    expect(lacking(spec, byName('mid'), lp)).toBe('logprobs');
    expect(lacking(spec, byName('big'), n)).toBeUndefined();
    // A model whose request adaptation drops n asks its targets for one choice: nothing to decline.
    const dropsN = { ...byName('mid'), request: { drop: ['n' as const] } };
    expect(lacking(spec, dropsN, n)).toBeUndefined();
    expect(lacking(spec, dropsN, lp)).toBe('logprobs');
  });

  it('a model served only by Anthropic cannot take legacy functions; one other target is enough', () => {
    const fn = [{ capability: 'legacy_functions' as const, param: 'functions' }];
    expect(lacking(spec, byName('mid'), fn)).toBe('legacy_functions');
    expect(lacking(spec, byName('big'), fn)).toBeUndefined();
  });
});

describe('decide with capabilities', () => {
  it('skips models of the tier that lack a capability, and says why', () => {
    const d = decide({ snapshot, request: req({ messages: [image] }) });
    expect(d.tierName).toBe('cheap');
    expect(d.models.map((m) => m.name)).toEqual(['small-vision']);
    expect(explainDecision(d)).toMatchObject({
      model: 'small-vision',
      needs: [
        { capability: 'vision', param: 'messages[0].content[1]' },
        { capability: 'image_urls', param: 'messages[0].content[1]' },
      ],
      skipped: [{ model: 'text-only', tier: 'cheap', reason: 'vision' }],
    });
  });

  it('moves up past a tier with no capable model, instead of failing over into it', () => {
    const d = decide({
      snapshot,
      request: req({
        response_format: { type: 'json_schema', json_schema: { name: 's' } },
        tools: [{ type: 'function', function: { name: 'f' } }],
      }),
    });
    expect(d.tierName).toBe('standard');
    expect(d.skipped.map((s) => `${s.model}:${s.reason}`)).toEqual([
      'text-only:tools',
      'small-vision:json_schema',
    ]);
    expect(d.escalation.map((s) => s.tierName)).toEqual(['premium']);
  });

  it('keeps tiers that lack a capability out of the cascade and the promotion steps', () => {
    const d = decide({ snapshot, request: req({ functions: [{ name: 'f' }] }) });
    expect(d.tierName).toBe('cheap');
    expect(d.models.map((m) => m.name)).toEqual(['small-vision']);
    // mid (Anthropic only) cannot take legacy functions: the cascade goes straight to premium.
    expect(d.escalation.map((s) => s.tierName)).toEqual(['premium']);
  });

  it('goes down to a cheaper tier when only it has the capability', () => {
    const d = decide({
      snapshot,
      request: req({
        stream: true,
        messages: [{ role: 'user', content: 'Prove step by step: derive the theorem. '.repeat(40) }],
      }),
      headers: { task: undefined },
    });
    // Whatever the classifier says, a streaming request can never land on big (streaming: false).
    expect(d.models.map((m) => m.name)).not.toContain('big');
    const prem = decide({
      snapshot: {
        ...snapshot,
        routes: [{ ...snapshot.routes[0]!, spec: { ...spec, taskTypes: { hard: 'premium' } } }],
      },
      request: req({ stream: true }),
      headers: { task: 'hard' },
    });
    expect(prem.tierName).toBe('standard');
    expect(prem.skipped).toEqual([{ model: 'big', tier: 'premium', reason: 'streaming' }]);
    expect(stepsBelow(prem).map((s) => s.tierName)).toEqual(['cheap']);
  });

  it('answers 400 naming the field when no model of the route can serve a need', () => {
    // text-only lacks vision and tools; every other model takes images. No model lacks vision on its own, so this
    // routes; with tools: false everywhere it could not.
    const onlyText = {
      ...snapshot,
      routes: [
        {
          ...snapshot.routes[0]!,
          spec: { ...spec, models: spec.models.map((m) => ({ ...m, capabilities: { tools: false } })) },
        },
      ],
    };
    const e = thrown(() =>
      decide({
        snapshot: onlyText,
        request: req({ tools: [{ type: 'function', function: { name: 'f' } }] }),
      }),
    );
    expect(e.code).toBe('TM_INVALID_REQUEST');
    expect(e.status).toBe(400);
    expect(e.param).toBe('tools');
    expect(e.message).toBe('no model of route "default" supports tool calling (asked for by tools)');
  });

  it('names every need when only their combination is unserved', () => {
    const e = thrown(() =>
      decide({
        snapshot,
        request: req({
          functions: [{ name: 'f' }],
          response_format: { type: 'json_schema', json_schema: { name: 's' } },
          stream: true,
        }),
      }),
    );
    expect(e.param).toBe('functions');
    expect(e.message).toMatch(/supports all of: the legacy functions API .*json_schema.*streaming/);
  });

  it('n > 1 skips the Anthropic-only tier; with no other tier it is a 400 naming n', () => {
    const forced = decide({
      snapshot: {
        ...snapshot,
        routes: [{ ...snapshot.routes[0]!, spec: { ...spec, taskTypes: { mid: 'standard' } } }],
      },
      request: req({ n: 3 }),
      headers: { task: 'mid' },
    });
    expect(forced.tierName).toBe('premium');
    expect(forced.skipped).toEqual([{ model: 'mid', tier: 'standard', reason: 'choices' }]);
    const e = thrown(() => decide({ snapshot, request: req({ model: 'mid', n: 3 }) }));
    expect(e.status).toBe(400);
    expect(e.param).toBe('n');
    expect(e.message).toBe('model "mid" does not support more than one choice (n > 1) (asked for by n)');
  });

  it('a requested model that lacks the capability is a 400, not a failover', () => {
    const e = thrown(() => decide({ snapshot, request: req({ model: 'text-only', messages: [image] }) }));
    expect(e.message).toBe(
      'model "text-only" does not support image input (asked for by messages[0].content[1])',
    );
    expect(e.param).toBe('messages[0].content[1]');
  });
});

describe('thinking: a preference within the tier, never a need', () => {
  const thinking = compileManifests(
    parseManifests(`
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default }
spec:
  providers:
    - { name: vllm, type: openai-compatible, baseURL: "http://127.0.0.1:1" }
    - { name: oai, type: openai, apiKey: { env: K } }
    - { name: claude, type: anthropic, apiKey: { env: K } }
    - { name: gem, type: gemini, apiKey: { env: K } }
  models:
    - { name: llama, targets: [{ provider: vllm }], pricing: { inputPerMTok: 0.1, outputPerMTok: 0.1 }, contextWindow: 100000 }
    - { name: haiku-3-5, targets: [{ provider: claude, model: claude-3-5-haiku-latest }], pricing: { inputPerMTok: 0.1, outputPerMTok: 0.1 }, contextWindow: 100000 }
    - { name: sonnet, targets: [{ provider: claude, model: claude-sonnet-4-5 }], pricing: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 100000 }
    - { name: o4-mini, targets: [{ provider: oai }], pricing: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 100000 }
    - { name: flash, targets: [{ provider: gem, model: gemini-2.5-flash }], pricing: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 100000 }
  tiers:
    - { name: cheap, models: [llama, haiku-3-5] }
    - { name: standard, models: [llama, sonnet, o4-mini] }
  taskTypes: { quick: cheap, think: standard }
`),
  );
  const ts = thinking.routes[0]!.spec;
  const think = { thinking: { type: 'enabled' as const, budget_tokens: 1024 } };

  it('knows which targets think, by provider type and upstream model', () => {
    const can = Object.fromEntries(ts.models.map((m) => [m.name, canThink(ts, m)]));
    expect(can).toEqual({ llama: false, 'haiku-3-5': false, sonnet: true, 'o4-mini': true, flash: true });
    expect(thinkingStyle('azure-openai', 'gpt-5-mini')).toBe('effort');
    expect(thinkingStyle('anthropic', 'claude-3-7-sonnet-latest')).toBe('anthropic');
    expect(thinkingStyle('gemini', 'gemini-2.0-flash')).toBeUndefined();
  });

  it('puts the models of the tier that can think first, keeping their order; a tier without one still serves it', () => {
    const at = (task: string, r: ChatCompletionRequest) =>
      decide({ snapshot: thinking, request: r, headers: { task } }).models.map((m) => m.name);
    expect(at('think', req())).toEqual(['llama', 'sonnet', 'o4-mini']);
    expect(at('think', req({ ...think }))).toEqual(['sonnet', 'o4-mini', 'llama']);
    expect(at('quick', req({ ...think }))).toEqual(['llama', 'haiku-3-5']);
    expect(at('think', req({ thinking: { type: 'disabled' } }))).toEqual(['llama', 'sonnet', 'o4-mini']);
    // Not a need: nothing to name in a 400.
    expect(requestNeeds(req({ ...think }))).toEqual([]);
  });
});
