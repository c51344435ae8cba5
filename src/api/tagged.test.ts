import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { oneOfType, stringOr } from './tagged.js';

describe('oneOfType', () => {
  const format = oneOfType({
    text: z.object({ type: z.literal('text') }),
    json_schema: z.object({ type: z.literal('json_schema'), json_schema: z.object({ name: z.string() }) }),
  });
  const issue = (v: unknown) => format.safeParse(v).error?.issues[0];

  it("reports a known type's own missing field, not another branch's type", () => {
    expect(issue({ type: 'json_schema' })).toMatchObject({ path: ['json_schema'], code: 'invalid_type' });
    expect(issue({ type: 'json_schema', json_schema: {} })).toMatchObject({ path: ['json_schema', 'name'] });
  });

  it('reports an unknown or missing type with every type it could be', () => {
    for (const v of [{ type: 'bogus' }, {}])
      expect(issue(v)).toMatchObject({
        path: ['type'],
        code: 'invalid_value',
        values: ['text', 'json_schema'],
      });
  });

  it("passes a valid value as its branch's schema outputs it", () => {
    expect(format.parse({ type: 'json_schema', json_schema: { name: 'a' }, extra: 1 })).toEqual({
      type: 'json_schema',
      json_schema: { name: 'a' },
    });
  });
});

describe('stringOr', () => {
  const s = stringOr(z.array(z.string()));
  it('names both kinds when the value is neither, and the inner field when it is the other kind', () => {
    expect(s.safeParse(5).error?.issues[0]?.message).toBe('expected string or array, received number');
    expect(s.safeParse([1]).error?.issues[0]).toMatchObject({ path: [0], code: 'invalid_type' });
    expect(s.parse('x')).toBe('x');
  });
});
