import { describe, expect, it } from 'vitest';
import { traceContextOf, traceIdOf } from './trace-context.js';

const TP = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('traceContextOf', () => {
  it('keeps a valid traceparent and its tracestate; the trace id is its second field', () => {
    const c = traceContextOf({ traceparent: TP, tracestate: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE' });
    expect(c).toEqual({ traceparent: TP, tracestate: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE' });
    expect(traceIdOf(c!)).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  it('joins a tracestate sent in several headers, as the spec says', () => {
    expect(
      traceContextOf({ traceparent: TP, tracestate: ['a=1', 'b=2'] as unknown as string })?.tracestate,
    ).toBe('a=1,b=2');
  });

  it('drops malformed, invalid or hostile values', () => {
    for (const bad of [
      '',
      'hello',
      TP.toUpperCase(),
      `${TP}-extra`,
      `ff${TP.slice(2)}`,
      `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`,
      `00-4bf92f3577b34da6a3ce929d0e0e4736-${'0'.repeat(16)}-01`,
      `${TP}\r\nx-injected: 1`,
    ])
      expect(traceContextOf({ traceparent: bad })).toBeUndefined();
    expect(traceContextOf({})).toBeUndefined();
  });

  it('forwards no tracestate that is too long or not printable, and none without a traceparent', () => {
    expect(traceContextOf({ traceparent: TP, tracestate: `a=${'x'.repeat(600)}` })).toEqual({
      traceparent: TP,
    });
    expect(traceContextOf({ traceparent: TP, tracestate: 'a=1\u0000' })).toEqual({ traceparent: TP });
    expect(traceContextOf({ tracestate: 'a=1' })).toBeUndefined();
  });
});
