import { describe, expect, it } from 'vitest';
import { summarizeSavings } from './savings.js';
import { savingsSvg } from './svg.js';

describe('savingsSvg', () => {
  const m = {
    name: 'm',
    targets: [{ provider: 'p' }],
    pricing: { inputPerMTok: 1, outputPerMTok: 1 },
    contextWindow: 1000,
  };
  const big = { ...m, name: 'big', pricing: { inputPerMTok: 10, outputPerMTok: 10 } };
  const r = summarizeSavings(
    [
      { tier: 'cheap', tierIndex: 0, model: m, baseline: big, promptTokens: 100, completionTokens: 100 },
      {
        tier: 'pre<mium>',
        tierIndex: 1,
        model: big,
        baseline: big,
        promptTokens: 100,
        completionTokens: 100,
      },
    ],
    ['cheap', 'pre<mium>'],
  );
  const svg = savingsSvg(r);

  it('is a standalone SVG document with one bar per tier plus the cost bars', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    // background + 2 tier bars + 2 stacked routed-cost bars + 1 baseline bar
    expect(svg.match(/<rect /g)).toHaveLength(6);
    expect(svg).toContain('savings 45.0%');
  });

  it('escapes text and keeps tags balanced', () => {
    expect(svg).not.toContain('pre<mium>');
    expect(svg).toContain('pre&#60;mium&#62;');
    const opens = (svg.match(/<(text|rect|title|svg)[\s>]/g) ?? []).length;
    const selfClosed = (svg.match(/<(rect|line)[^>]*\/>/g) ?? []).filter((t) => t.startsWith('<rect')).length;
    const closes = (svg.match(/<\/(text|rect|title|svg)>/g) ?? []).length;
    expect(opens - selfClosed).toBe(closes);
  });
});
