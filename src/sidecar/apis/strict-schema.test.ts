import { describe, expect, it } from 'vitest';
import { strictCompatible } from './strict-schema.js';

const closed = (properties: Record<string, unknown>) => ({
  type: 'object',
  properties,
  required: Object.keys(properties),
  additionalProperties: false,
});

describe('strictCompatible', () => {
  it('accepts closed objects with every property required, nested, in arrays, anyOf and $defs', () => {
    expect(strictCompatible(closed({}))).toBe(true);
    expect(
      strictCompatible({
        ...closed({
          city: { type: 'string', description: 'name' },
          unit: { type: ['string', 'null'], enum: ['c', 'f', null] },
          days: { type: 'array', items: closed({ n: { type: 'integer', minimum: 1 } }), maxItems: 7 },
          at: { anyOf: [{ type: 'string' }, { $ref: '#/$defs/pos' }] },
        }),
        $defs: { pos: closed({ lat: { type: 'number' } }) },
      }),
    ).toBe(true);
  });

  it('refuses what strict mode would refuse or read differently', () => {
    expect(strictCompatible(undefined)).toBe(false);
    expect(strictCompatible({ type: 'object', properties: {} })).toBe(false);
    expect(strictCompatible({ ...closed({ a: { type: 'string' } }), required: [] })).toBe(false);
    expect(strictCompatible(closed({ a: { type: 'object', properties: {} } }))).toBe(false);
    expect(strictCompatible(closed({ a: { type: 'string', minLength: 1 } }))).toBe(false);
    expect(strictCompatible(closed({ a: { allOf: [{ type: 'string' }] } }))).toBe(false);
    expect(strictCompatible({ anyOf: [closed({})] })).toBe(false);
    expect(strictCompatible({ type: 'string' })).toBe(false);
    let deep: Record<string, unknown> = closed({});
    for (let i = 0; i < 12; i++) deep = closed({ x: deep });
    expect(strictCompatible(deep)).toBe(false);
  });
});
