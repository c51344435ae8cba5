import { describe, expect, it } from 'vitest';
import { usageBody } from './protocol.js';

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

  it('refuses malformed routing counts, naming the field', () => {
    const bad = (r: Record<string, unknown>) =>
      usageBody.safeParse({ sidecarId: 's', seq: 1, records: [], routing: [{ ...report, ...r }] });
    expect(bad({ escalations: -1 }).error?.issues[0]?.path).toEqual(['routing', 0, 'escalations']);
    expect(bad({ requests: { cheap: 1.5 } }).error?.issues[0]?.path).toEqual([
      'routing',
      0,
      'requests',
      'cheap',
    ]);
    expect(bad({ from: 3_000 }).error?.issues[0]?.path).toEqual(['routing']);
  });
});
