import { describe, expect, it } from 'vitest';
import type { ChatCompletionChunk } from '../../api/openai.js';
import { type StreamPart, StreamParts, wholeArguments } from './stream-parts.js';

const calls = (...toolCalls: unknown[]): ChatCompletionChunk => ({
  id: 'c',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'm',
  choices: [{ index: 0, delta: { tool_calls: toolCalls }, finish_reason: null }],
});

function read(...chunks: ChatCompletionChunk[]): StreamPart[] {
  let n = 0;
  const parts = new StreamParts(() => `call_new${++n}`);
  return chunks.flatMap((c) => parts.read(c));
}

const fn = (name: string | undefined, args: string) => ({
  function: { ...(name ? { name } : {}), arguments: args },
});

describe('StreamParts tool calls', () => {
  it("carries a call's extra_content (Gemini's thought signature) on its start", () => {
    const sig = { google: { thought_signature: 'c2ln' } };
    expect(read(calls({ index: 0, id: 'call_a', ...fn('weather', '{}'), extra_content: sig }))).toEqual([
      { kind: 'tool-start', index: 0, id: 'call_a', name: 'weather', extra: sig },
      { kind: 'tool-args', index: 0, args: '{}' },
    ]);
  });

  it('follows the upstream index, as OpenAI streams: the start with id and name, then argument fragments', () => {
    expect(
      read(
        calls({ index: 0, id: 'call_a', type: 'function', ...fn('weather', '') }),
        calls({ index: 0, ...fn(undefined, '{"city":') }),
        calls({ index: 1, id: 'call_b', type: 'function', ...fn('time', '{}') }),
        calls({ index: 0, ...fn(undefined, '"Oslo"}') }),
      ),
    ).toEqual([
      { kind: 'tool-start', index: 0, id: 'call_a', name: 'weather' },
      { kind: 'tool-args', index: 0, args: '{"city":' },
      { kind: 'tool-start', index: 1, id: 'call_b', name: 'time' },
      { kind: 'tool-args', index: 1, args: '{}' },
      { kind: 'tool-args', index: 0, args: '"Oslo"}' },
    ]);
  });

  it('keeps calls without an index apart, each by its id, and gives id-less ones a new id', () => {
    expect(
      read(
        calls({ id: 'call_a', ...fn('weather', '{"city":"Oslo"}') }, { id: 'call_b', ...fn('time', '{}') }),
        calls({ id: 'call_b', ...fn(undefined, '') }),
        calls(fn('lookup', '{"q":')),
        calls(fn(undefined, '1}')),
      ),
    ).toEqual([
      { kind: 'tool-start', index: 0, id: 'call_a', name: 'weather' },
      { kind: 'tool-args', index: 0, args: '{"city":"Oslo"}' },
      { kind: 'tool-start', index: 1, id: 'call_b', name: 'time' },
      { kind: 'tool-args', index: 1, args: '{}' },
      // Neither index nor id: a fragment that names a tool starts a call, one that does not continues it.
      { kind: 'tool-start', index: 2, id: 'call_new1', name: 'lookup' },
      { kind: 'tool-args', index: 2, args: '{"q":' },
      { kind: 'tool-args', index: 2, args: '1}' },
    ]);
  });

  it('a new id at an index already used is the next call, and later fragments at that index go to it', () => {
    expect(
      read(
        calls({ index: 0, id: 'call_a', ...fn('weather', '{}') }),
        calls({ index: 0, id: 'call_b', ...fn('time', '') }),
        calls({ index: 0, ...fn(undefined, '{"tz":"CET"}') }),
      ),
    ).toEqual([
      { kind: 'tool-start', index: 0, id: 'call_a', name: 'weather' },
      { kind: 'tool-args', index: 0, args: '{}' },
      { kind: 'tool-start', index: 1, id: 'call_b', name: 'time' },
      { kind: 'tool-args', index: 1, args: '{"tz":"CET"}' },
    ]);
  });

  it('a call without an id or index before any other starts one, with a new id', () => {
    expect(read(calls(fn(undefined, '{}')))).toEqual([
      { kind: 'tool-start', index: 0, id: 'call_new1', name: '' },
      { kind: 'tool-args', index: 0, args: '{}' },
    ]);
  });
});

describe('wholeArguments', () => {
  it('is true only for arguments that parse as JSON', () => {
    expect(['{}', '{"city":"Oslo"}', '[1]'].map(wholeArguments)).toEqual([true, true, true]);
    expect(['', '{"city":', '{"city":"Oslo"'].map(wholeArguments)).toEqual([false, false, false]);
  });
});
