import { describe, expect, it } from 'vitest';
import { sharedSseEncoder, sseEvent, usageBody } from './protocol.js';

const report = {
  route: 'default',
  from: 1_000,
  to: 2_000,
  requests: { cheap: 3, premium: 1 },
  escalations: 1,
  feedbackCount: 1,
  feedbackSum: 0.5,
};

describe('usageBody', () => {
  it('takes a batch without routing counts (a sidecar from before them) and one with them', () => {
    expect(usageBody.parse({ sidecarId: 's', seq: 1, records: [] }).routing).toBeUndefined();
    expect(usageBody.parse({ sidecarId: 's', seq: 1, records: [], routing: [report] }).routing).toEqual([
      report,
    ]);
  });

  it('drops malformed routing counts but keeps the batch and its records', () => {
    const record = {
      route: 'default',
      model: 'm',
      inputTokens: 1,
      outputTokens: 1,
      costUSD: 0.1,
      baselineCostUSD: 0,
      at: 1,
    };
    const bad = (r: Record<string, unknown>) =>
      usageBody.parse({ sidecarId: 's', seq: 1, records: [record], routing: [{ ...report, ...r }, report] });
    for (const b of [
      bad({ escalations: -1 }),
      bad({ requests: { cheap: 1.5 } }),
      // A wall clock stepped back between two drains.
      bad({ from: 3_000 }),
    ]) {
      expect(b.records).toEqual([record]);
      expect(b.routing).toEqual([report]);
    }
  });
});

describe('sharedSseEncoder', () => {
  it('encodes an object once for every stream it is sent to, byte for byte what sseEvent writes', () => {
    const encode = sharedSseEncoder();
    let serialized = 0;
    const snapshot = { version: 'v1', routes: [{ name: 'default' }], toJSON: undefined as unknown };
    // Counts the serializations without changing the output.
    snapshot.toJSON = () => {
      serialized++;
      return { version: snapshot.version, routes: snapshot.routes };
    };
    const first = encode('snapshot', snapshot, 'v1');
    for (let i = 0; i < 999; i++) expect(encode('snapshot', snapshot, 'v1')).toBe(first);
    expect(serialized).toBe(1);
    expect(first).toBe('event: snapshot\nid: v1\ndata: {"version":"v1","routes":[{"name":"default"}]}\n\n');
    expect(first).toBe(sseEvent('snapshot', snapshot, 'v1'));
  });

  it('a different event name or id, or another object, is encoded anew', () => {
    const encode = sharedSseEncoder();
    const data = { version: 'v1' };
    expect(encode('snapshot', data, 'v1')).toBe('event: snapshot\nid: v1\ndata: {"version":"v1"}\n\n');
    expect(encode('current', data, 'v1')).toBe('event: current\nid: v1\ndata: {"version":"v1"}\n\n');
    expect(encode('current', data)).toBe('event: current\ndata: {"version":"v1"}\n\n');
    expect(encode('current', { version: 'v2' })).toBe('event: current\ndata: {"version":"v2"}\n\n');
    expect(encode('current', 'text')).toBe('event: current\ndata: "text"\n\n');
  });
});
