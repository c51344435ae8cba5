import { describe, expect, it } from 'vitest';
import { parseTraffic } from './traffic.js';

describe('parseTraffic', () => {
  it('reads requests, keeps task/user/usage aside, and reports bad lines by number', () => {
    const text = [
      JSON.stringify({
        messages: [{ role: 'user', content: 'hi' }],
        task: 'chat',
        usage: { prompt_tokens: 3, completion_tokens: 4 },
      }),
      '',
      'not json',
      JSON.stringify({ model: 'auto', messages: [] }),
      JSON.stringify({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'x' }],
        max_tokens: 50,
        user: 'u1',
      }),
    ].join('\n');
    const t = parseTraffic(text);
    expect(t.lines.map((l) => l.line)).toEqual([1, 5]);
    expect(t.lines[0]!.request.model).toBe('auto');
    expect(t.lines[0]!.request).not.toHaveProperty('task');
    expect(t.lines[0]!.request).not.toHaveProperty('usage');
    expect(t.lines[0]!.entry.usage).toEqual({ prompt_tokens: 3, completion_tokens: 4 });
    expect(t.lines[1]!.request.max_tokens).toBe(50);
    expect(t.problems).toEqual(['line 3: not JSON', expect.stringMatching(/^line 4: messages/)]);
  });
});
