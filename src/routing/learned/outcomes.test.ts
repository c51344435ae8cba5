import { describe, expect, it } from 'vitest';
import { OutcomesError, parseOutcomes } from './outcomes.js';

const line = (o: unknown) => JSON.stringify(o);
const SECRET = 'my account number is 12345';

describe('parseOutcomes', () => {
  it('reads one outcome per line, skipping blank lines; group is optional', () => {
    const text = `${line({ prompt: 'a', weak: 0, strong: 1 })}\n\n${line({ prompt: 'b', weak: 0.5, strong: 0.75, group: 'faq' })}\n`;
    expect(parseOutcomes(text)).toEqual([
      { prompt: 'a', weak: 0, strong: 1 },
      { prompt: 'b', weak: 0.5, strong: 0.75, group: 'faq' },
    ]);
  });

  it('names the line and the field, and never quotes the prompt', () => {
    const cases: [string, RegExp][] = [
      [`${line({ prompt: SECRET, weak: 0, strong: 1 })}\n{not json ${SECRET}`, /^line 2: not valid JSON$/],
      [line([SECRET]), /^line 1: expected an object/],
      [line({ prompt: SECRET, weak: 2, strong: 1 }), /^line 1: "weak" must be a number in \[0, 1\]$/],
      [line({ prompt: SECRET, weak: 0, strong: -0.1 }), /^line 1: "strong" must be a number in \[0, 1\]$/],
      [line({ prompt: SECRET, weak: '1', strong: 1 }), /^line 1: "weak" must be a number$/],
      [line({ prompt: SECRET, weak: 0 }), /^line 1: "strong" must be a number \(missing\)$/],
      [line({ prompt: '', weak: 0, strong: 1 }), /^line 1: "prompt" must be a non-empty string$/],
      [line({ prompt: 7, weak: 0, strong: 1 }), /^line 1: "prompt" must be a string$/],
      [line({ prompt: SECRET, weak: 0, strong: 1, group: 3 }), /^line 1: "group" must be a string$/],
      ['\n\n', /no outcomes/],
    ];
    for (const [text, re] of cases) {
      let err: unknown;
      try {
        parseOutcomes(text);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(OutcomesError);
      expect((err as Error).message).toMatch(re);
      expect((err as Error).message).not.toContain('12345');
    }
  });
});
