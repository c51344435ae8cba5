import { describe, expect, it } from 'vitest';
import { invalid } from './invalid.js';

describe('invalid', () => {
  it("shows the client's value in the answer and never in the log line, even when the value holds quotes", () => {
    const e = invalid(
      'messages[0].content[0].type',
      (q) => `content block type ${q('x" MY SECRET PROMPT "y')} is not supported`,
    );
    expect(e.status).toBe(400);
    expect(e.param).toBe('messages[0].content[0].type');
    expect(e.message).toContain('MY SECRET PROMPT');
    expect(e.logMessage).toBe('messages[0].content[0].type: content block type "…" is not supported');
  });

  it('takes a message without client values as it is', () => {
    const e = invalid('thinking', 'extended thinking is not supported by this endpoint');
    expect(e.message).toBe('thinking: extended thinking is not supported by this endpoint');
    expect(e.logMessage).toBe(e.message);
  });
});
