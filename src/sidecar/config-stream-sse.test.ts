import { describe, expect, it } from 'vitest';
import { SseParser } from './config-stream-sse.js';

describe('SseParser', () => {
  it('reassembles events split across chunks and skips comments', () => {
    const p = new SseParser();
    expect(p.feed(': connected\n\nevent: snap')).toEqual([]);
    expect(p.feed('shot\nid: v1\ndata: {"a":')).toEqual([]);
    expect(p.feed('1}\n\n: keep-alive\n\nevent: current\r\ndata: {}\r\n\r\n')).toEqual([
      { event: 'snapshot', id: 'v1', data: '{"a":1}' },
      { event: 'current', data: '{}' },
    ]);
  });
  it('joins multi-line data', () => {
    expect(new SseParser().feed('data: a\ndata: b\n\n')).toEqual([{ event: 'message', data: 'a\nb' }]);
  });
});
