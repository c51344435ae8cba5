import { describe, expect, it } from 'vitest';
import { formatUSD, servedByHeaders } from './respond.js';

describe('formatUSD', () => {
  it('prints small costs exactly and without float noise', () => {
    expect(formatUSD(0)).toBe('0');
    expect(formatUSD(0.000123)).toBe('0.000123');
    expect(formatUSD(0.1 + 0.2)).toBe('0.3');
    expect(formatUSD(12.5)).toBe('12.5');
    expect(formatUSD(0.0000000015)).toBe('0.0000000015');
  });

  it('spells every value exactly as the toFixed form does (the fast path changes nothing)', () => {
    const reference = (usd: number) =>
      Number(usd.toPrecision(6))
        .toFixed(10)
        .replace(/\.?0+$/, '') || '0';
    let seed = 42;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const values = [1e-4, 9.99999e-5, 999.9995, 1000, 0.00012345649, 0.1 + 0.2, 123.4565, 1e-10, 5e-11];
    for (let i = 0; i < 10_000; i++) values.push(rand() * 10 ** (Math.floor(rand() * 16) - 11));
    for (const v of values) expect(formatUSD(v), String(v)).toBe(reference(v));
  });

  it('headers carry every field', () => {
    expect(servedByHeaders({ model: 'm', provider: 'p', tier: 't', attempts: 2, costUSD: 0.5 })).toEqual({
      'x-tiermesh-model': 'm',
      'x-tiermesh-provider': 'p',
      'x-tiermesh-tier': 't',
      'x-tiermesh-attempts': '2',
      'x-tiermesh-cost-usd': '0.5',
    });
    expect(servedByHeaders(undefined)).toEqual({});
  });
});
