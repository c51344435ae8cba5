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
