import { describe, expect, it } from 'vitest';
import { parseQuantity } from './quantity.js';

describe('parseQuantity', () => {
  it('reads decimal, binary and exponent forms so equal amounts compare equal', () => {
    expect(parseQuantity('1')).toBe(parseQuantity('1000m'));
    expect(parseQuantity('0.5')).toBe(parseQuantity('500m'));
    expect(parseQuantity('1Gi')).toBe(1024 ** 3);
    expect(parseQuantity('1G')).toBe(1e9);
    expect(parseQuantity('128Mi')).toBe(128 * 1024 ** 2);
    expect(parseQuantity('1e3')).toBe(1000);
    expect(parseQuantity(2)).toBe(2);
  });

  it('is undefined for what is not a quantity', () => {
    for (const q of ['', 'abc', '1Xi', '1 Gi', undefined])
      expect(parseQuantity(q), String(q)).toBeUndefined();
  });
});
