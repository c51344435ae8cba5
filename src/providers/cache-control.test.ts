import { describe, expect, it } from 'vitest';
import type { ChatCompletionRequest } from '../api/openai.js';
import { hasCacheControl, withoutCacheControl } from './cache-control.js';

const eph = { type: 'ephemeral' as const };

describe('withoutCacheControl', () => {
  it('returns the same request when nothing carries a breakpoint', () => {
    const body: ChatCompletionRequest = {
      model: 'm',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }] }],
    };
    expect(hasCacheControl(body)).toBe(false);
    expect(withoutCacheControl(body)).toBe(body);
  });

  it('drops every breakpoint (message, part, tool call, tool) and leaves the input as it was', () => {
    const body: ChatCompletionRequest = {
      model: 'm',
      messages: [
        { role: 'system', content: 'sys', cache_control: eph },
        { role: 'user', content: [{ type: 'text', text: 'a', cache_control: eph }] },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'c', type: 'function', function: { name: 'f', arguments: '{}' }, cache_control: eph },
          ],
        },
      ],
      tools: [{ type: 'function', function: { name: 'f' }, cache_control: eph }],
    };
    const before = JSON.stringify(body);
    const out = withoutCacheControl(body);
    expect(JSON.stringify(out)).not.toContain('cache_control');
    expect(out.messages[1]?.content).toEqual([{ type: 'text', text: 'a' }]);
    expect(out.tools).toEqual([{ type: 'function', function: { name: 'f' } }]);
    expect(JSON.stringify(body)).toBe(before);
  });
});
