import { describe, expect, it } from 'vitest';
import type { ChatCompletion } from '../api/openai.js';
import { completionText, estimateUsage } from './accounting.js';

const answer = (message: ChatCompletion['choices'][number]['message']): ChatCompletion => ({
  id: 'c',
  object: 'chat.completion',
  created: 1,
  model: 'm',
  choices: [{ index: 0, message, finish_reason: 'stop' }],
});

describe('completionText', () => {
  it('is what the answer generated: text, refusal and tool call arguments', () => {
    const calls = [
      { id: 'a', type: 'function', function: { name: 'write_file', arguments: '{"path":"notes.txt"}' } },
      { id: 'b', type: 'function', function: { name: 'now', arguments: '{}' } },
    ];
    expect(completionText(answer({ role: 'assistant', content: null, tool_calls: calls }))).toBe(
      '{"path":"notes.txt"}{}',
    );
    expect(completionText(answer({ role: 'assistant', content: null, refusal: 'No.' }))).toBe('No.');
    expect(completionText(answer({ role: 'assistant', content: 'Hi' }))).toBe('Hi');
  });

  it('makes a tool-call answer without usage cost output tokens', () => {
    const long = JSON.stringify({ path: 'notes.txt', text: 'lorem ipsum dolor sit amet '.repeat(20) });
    const c = answer({
      role: 'assistant',
      content: null,
      tool_calls: [{ id: 'a', type: 'function', function: { name: 'write_file', arguments: long } }],
    });
    expect(estimateUsage(10, completionText(c)).completion_tokens).toBeGreaterThan(50);
  });
});
