import { describe, expect, it } from 'vitest';
import {
  evaluate,
  evaluateOutcomes,
  formatOutcomeTable,
  formatTable,
  lengthRouter,
  randomRouter,
} from './evaluate.js';

/** Long prompts gain from the strong model in group "support"; in "billing" the strong model is worse. */
const items = Array.from({ length: 80 }, (_, i) => {
  const long = i % 2 === 0;
  const support = i % 4 < 2;
  return {
    prompt: long ? `explain ${'why '.repeat(10)} ${i}` : `hi ${i}`,
    weak: support ? (long ? 0 : 1) : long ? 0 : 1,
    strong: support ? 1 : long ? 1 : 0,
    group: support ? 'support' : 'billing',
    part: 'heldout' as const,
  };
});
const routers = [randomRouter, lengthRouter];

describe('evaluateOutcomes', () => {
  it('measures a group with a gain to recover, and reports a group without one as not measurable', () => {
    const rows = evaluateOutcomes(items, routers);
    const row = (group: string, router: string) =>
      rows.find((r) => r.group === group && r.router === router)!;
    // support: half the prompts (the long ones) gain 1, ranked first by length: APGR 0.75.
    expect(row('support', 'length').apgr).toBeCloseTo(0.75, 9);
    expect(row('support', 'random').apgr).toBeCloseTo(0.5, 9);
    expect(row('support', 'length').notMeasured).toBeUndefined();
    // billing: long prompts gain 1, short ones lose 1: the strong model is no better (0.5 -> 0.5). Dividing by
    // the zero span scored every router APGR 1 before.
    for (const router of ['random', 'length']) {
      const b = row('billing', router);
      expect(b).toMatchObject({ n: 40, qWeak: 0.5, qStrong: 0.5 });
      for (const k of ['pgr20', 'pgr50', 'pgr80', 'apgr', 'cpt50', 'cpt80'] as const) expect(b[k]).toBeNull();
      expect(b.notMeasured).toBe(
        'no gain to recover: the strong model is not better than the weak one (mean quality 0.500 -> 0.500)',
      );
    }
    // all: 0.5 -> 0.75, measured.
    expect(row('all', 'length').apgr).toBeGreaterThan(0.5);
    expect(JSON.parse(JSON.stringify(row('billing', 'length')))).toMatchObject({ apgr: null, cpt80: null });
  });

  it('prints n/a cells and one line saying why per unmeasurable group', () => {
    const table = formatOutcomeTable(evaluateOutcomes(items, routers));
    const billing = table.split('\n').filter((l) => l.startsWith('| billing |'));
    expect(billing).toHaveLength(2);
    for (const l of billing) expect(l).toMatch(/\| n\/a \| n\/a \| n\/a \| n\/a \| n\/a \| n\/a \|$/);
    expect(table).not.toMatch(/\| support \|.*n\/a/);
    const notes = table.split('\n').filter((l) => l.startsWith('- n/a'));
    expect(notes).toEqual([
      '- n/a (group billing): no gain to recover: the strong model is not better than the weak one (mean quality 0.500 -> 0.500); PGR is undefined there.',
    ]);
  });
});

describe('evaluate (held-out sets)', () => {
  it('rows are flat, like the --outcomes rows, and an unmeasurable set reads n/a', () => {
    const rows = evaluate(
      [
        { name: 'good', pair: 'a -> b', items: items.filter((o) => o.group === 'support') },
        { name: 'level', pair: 'a -> b', items: items.filter((o) => o.group === 'billing') },
      ],
      routers,
    );
    expect(Object.keys(rows[1]!)).toEqual([
      'set',
      'pair',
      'router',
      'n',
      'qWeak',
      'qStrong',
      'pgr20',
      'pgr50',
      'pgr80',
      'apgr',
      'cpt50',
      'cpt80',
    ]);
    expect(rows[1]).toMatchObject({ set: 'good', router: 'length', n: 40, qWeak: 0.5, qStrong: 1 });
    expect(rows[1]!.apgr).toBeCloseTo(0.75, 9);
    expect(rows[1]!.cpt50).toBeCloseTo(0.25, 9);
    expect(rows[3]).toMatchObject({ set: 'level', apgr: null, cpt50: null });
    const table = formatTable(rows);
    expect(table).toMatch(/\| good \| 40 \| a -> b \(0\.500 -> 1\.000\) \| length \| .* \| 0\.750 \|/);
    expect(table).toMatch(/\n- n\/a \(level\): no gain to recover: /);
  });
});
