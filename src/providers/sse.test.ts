import { describe, expect, it } from 'vitest';
import { type SseEvent, SseLineTooLongError, SseParser, sseData, sseEvent } from './sse.js';

/** Feeds `text` cut at every given offset and returns all events. */
function parseCut(text: string, cuts: number[]): SseEvent[] {
  const p = new SseParser();
  const bytes = new TextEncoder().encode(text);
  const out: SseEvent[] = [];
  let start = 0;
  for (const c of [...cuts, bytes.length]) {
    out.push(...p.push(bytes.slice(start, c)));
    start = c;
  }
  out.push(...p.end());
  return out;
}

const stream =
  ': comment line\r\n' +
  'event: message_start\r\ndata: {"a":1}\r\n\r\n' +
  'data: line one\ndata: line two\n\n' +
  'data:no-space\rid: 7\r\r' +
  'data: héllo ✓\n\n' +
  'data: [DONE]\n\n';

const expected: SseEvent[] = [
  { event: 'message_start', data: '{"a":1}', id: undefined },
  { event: undefined, data: 'line one\nline two', id: undefined },
  { event: undefined, data: 'no-space', id: '7' },
  { event: undefined, data: 'héllo ✓', id: '7' },
  { event: undefined, data: '[DONE]', id: '7' },
];

describe('SseParser', () => {
  it('parses LF, CRLF and CR line ends, comments, multi-line data and ids', () => {
    expect(parseCut(stream, [])).toEqual(expected);
  });

  it('gives the same events wherever the bytes are cut, even inside CRLF and multi-byte characters', () => {
    const len = new TextEncoder().encode(stream).length;
    for (let i = 1; i < len; i++) expect(parseCut(stream, [i])).toEqual(expected);
    for (let i = 1; i < len - 2; i += 3) expect(parseCut(stream, [i, i + 1, i + 2])).toEqual(expected);
  });

  it('byte-at-a-time gives the same events', () => {
    const len = new TextEncoder().encode(stream).length;
    expect(
      parseCut(
        stream,
        Array.from({ length: len - 1 }, (_, i) => i + 1),
      ),
    ).toEqual(expected);
  });

  it('drops an event whose blank line never came', () => {
    expect(parseCut('data: complete\n\ndata: cut off', [])).toEqual([
      { event: undefined, data: 'complete', id: undefined },
    ]);
  });

  it('ignores blank lines between events and events without data', () => {
    expect(parseCut('\n\nevent: ping\n\ndata: x\n\n', [])).toEqual([
      { event: undefined, data: 'x', id: undefined },
    ]);
  });

  it('round-trips what the writers produce', () => {
    const p = new SseParser();
    expect(p.push(sseData({ a: 'b\nc' }) + sseEvent('delta', { t: 1 }))).toEqual([
      { event: undefined, data: '{"a":"b\\nc"}', id: undefined },
      { event: 'delta', data: '{"t":1}', id: undefined },
    ]);
  });

  it('refuses an endless line instead of buffering it forever', () => {
    const p = new SseParser(100);
    expect(p.push('data: ok\n\n')).toHaveLength(1);
    p.push('data: ' + 'x'.repeat(90));
    expect(() => p.push('x'.repeat(20))).toThrow(SseLineTooLongError);
  });

  it('reads the operator config stream: named events split across chunks, comments skipped', () => {
    const p = new SseParser();
    expect(p.push(': connected\n\nevent: snap')).toEqual([]);
    expect(p.push('shot\nid: v1\ndata: {"a":')).toEqual([]);
    expect(p.push('1}\n\n: keep-alive\n\nevent: current\r\ndata: {}\r\n\r\n')).toEqual([
      { event: 'snapshot', id: 'v1', data: '{"a":1}' },
      // The last event id stays in force until a new one arrives, as the spec says.
      { event: 'current', id: 'v1', data: '{}' },
    ]);
  });
});
