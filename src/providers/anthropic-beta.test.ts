import { describe, expect, it } from 'vitest';
import type { ChatCompletionRequest } from '../api/openai.js';
import { anthropicBetas, betaHeader, carryAnthropicBetas, forwardableBetas } from './anthropic-beta.js';

describe('anthropic-beta forwarding', () => {
  it('keeps only betas of the listed families, in order, once each', () => {
    expect(
      forwardableBetas(
        'prompt-caching-2024-07-31, interleaved-thinking-2025-05-14,context-1m-2025-08-07,prompt-caching-2024-07-31',
      ),
    ).toEqual(['prompt-caching-2024-07-31', 'context-1m-2025-08-07']);
    expect(forwardableBetas(['extended-cache-ttl-2025-04-11', 'oauth-2025-04-20'])).toEqual([
      'extended-cache-ttl-2025-04-11',
    ]);
    expect(forwardableBetas('context-1m-evil')).toEqual([]);
    expect(forwardableBetas(undefined)).toEqual([]);
  });

  it('ride on the request through spreads, never into its JSON', () => {
    const body: ChatCompletionRequest = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
    carryAnthropicBetas(body, 'token-efficient-tools-2025-02-19');
    const copy = { ...body, model: 'upstream' };
    expect(anthropicBetas(copy)).toEqual(['token-efficient-tools-2025-02-19']);
    expect(JSON.stringify(copy)).not.toContain('token-efficient');
  });

  it('join with the configured header without duplicates', () => {
    expect(betaHeader('a-1, b-2', ['b-2', 'c-3'])).toBe('a-1,b-2,c-3');
    expect(betaHeader(undefined, [])).toBeUndefined();
  });
});
