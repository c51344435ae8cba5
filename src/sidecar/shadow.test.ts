import { describe, expect, it } from 'vitest';
import type { ModelEntry, ModelRouteSpec } from '../api/modelroute.js';
import type { ChatCompletionRequest } from '../api/openai.js';
import { pickShadow, shadowBody } from './shadow.js';

const model = (name: string) =>
  ({
    name,
    targets: [{ provider: 'p' }],
    pricing: { inputPerMTok: 1, outputPerMTok: 1 },
    contextWindow: 1000,
  }) as const;
const spec = (shadow?: { model: string; percent: number }) =>
  ({ models: [model('a'), model('s')], ...(shadow ? { shadow } : {}) }) as unknown as ModelRouteSpec;

describe('pickShadow', () => {
  it('shadows exactly the requests whose draw falls under the percentage', () => {
    const s = spec({ model: 's', percent: 25 });
    expect(pickShadow(s, 0)?.name).toBe('s');
    expect(pickShadow(s, 0.2499)?.name).toBe('s');
    expect(pickShadow(s, 0.25)).toBeUndefined();
    expect(pickShadow(s, 0.99)).toBeUndefined();
  });

  it('never shadows at 0 percent or without spec.shadow; always at 100', () => {
    expect(pickShadow(spec({ model: 's', percent: 0 }), 0)).toBeUndefined();
    expect(pickShadow(spec(), 0)).toBeUndefined();
    expect(pickShadow(spec({ model: 's', percent: 100 }), 0.999999)?.name).toBe('s');
  });

  it('never shadows to a model the decision itself serves from', () => {
    const s = spec({ model: 's', percent: 100 });
    const entries = (...names: string[]) => names.map(model) as unknown as ModelEntry[];
    expect(pickShadow(s, 0, entries('s'))).toBeUndefined();
    expect(pickShadow(s, 0, entries('a', 's'))).toBeUndefined();
    expect(pickShadow(s, 0, entries('a'))?.name).toBe('s');
  });

  it('ignores a shadow model the route does not list', () => {
    expect(pickShadow(spec({ model: 'gone', percent: 100 }), 0)).toBeUndefined();
  });
});

describe('shadowBody', () => {
  it('turns a streamed request into a plain JSON one, keeping everything else', () => {
    const req = {
      model: 'auto',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.2,
      max_tokens: 50,
    } as ChatCompletionRequest;
    const body = shadowBody(req);
    expect(body).toEqual({
      model: 'auto',
      messages: [{ role: 'user', content: 'hi' }],
      stream: false,
      temperature: 0.2,
      max_tokens: 50,
    });
    expect(req.stream).toBe(true);
  });
});
